"""Spark and chDB over a Parquet lake (issue 9): the query layer's Ibis expressions give the
same answers as DuckDB.

A small store (two jobs, flakes, a regression, a variant, a known bug's explanation) is
exported as a lake; ``flaky`` and ``regressions`` must answer the same on DuckDB and on chDB
(also through the CLI), ``flaky`` on Spark local[2] (in process: one JVM per test session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ciscope.analysis.flakes import flaky_tests
from ciscope.analysis.history import VerdictFilter, load_history
from ciscope.analysis.regressions import regressions
from ciscope.errors import StoreError, UsageError
from ciscope.queries import verdicts
from ciscope.queries.window import Window as Scope
from ciscope.store.engine import connect
from ciscope.store.parquet import export_parquet
from tests.histories import history_runs

PATTERNS = {
    "flaky one": "PPFPPPPFPPPPRPPPPPFPPPPPPPFPPPPPPPPRPPPPPPPPFPPPPPPPPPPPPPPP",
    "broken late": "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPFFFFFFFFFFFFFFFFFFFF",
    "streaky": "PPPPFFFFPPPPPPPPPPPPFFFPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP",
    "steady": "P" * 60,
}


def _answers(store: Any) -> dict[str, Any]:
    return {
        "flaky": flaky_tests(store),
        "flaky_all_aws": flaky_tests(store, window=Scope(days=7, variants=(("platform", "aws"),))),
        "regressions": regressions(store),
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("engines")
    runs = history_runs(PATTERNS, job="e2e-aws") + history_runs(
        {"flaky one": PATTERNS["flaky one"][::-1], "steady": "P" * 60}, job="e2e-gcp")
    for run in runs:
        run.variants = {"platform": run.job.split("-")[1]}
    db = tmp / "store.duckdb"
    with connect(f"duckdb:///{db}") as store:
        store.write_runs(runs)
        export_parquet(store, str(tmp / "lake"))
        answers = _answers(store)
    assert answers["flaky"] and answers["regressions"]  # an empty answer would prove nothing
    return {"db": f"duckdb:///{db}", "lake": tmp / "lake", "answers": answers}


def test_chdb_answers_as_duckdb(lake: dict[str, Any]) -> None:
    pytest.importorskip("chdb", reason="chdb:// needs the engines extra: pip install -e '.[engines]'")
    with connect(f"chdb:///{lake['lake']}", read_only=True) as store:
        assert _answers(store) == lake["answers"]


def test_chdb_through_the_cli(lake: dict[str, Any]) -> None:
    pytest.importorskip("chdb", reason="chdb:// needs the engines extra: pip install -e '.[engines]'")

    def flaky(db: str) -> Any:
        done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, "flaky", "--all", "--json"],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert flaky(f"chdb:///{lake['lake']}") == flaky(lake["db"])


@pytest.mark.slow
def test_spark_answers_as_duckdb(lake: dict[str, Any]) -> None:
    pytest.importorskip("pyspark", reason="spark:// needs the engines extra: pip install -e '.[engines]'")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with connect(f"spark://local[2]?lake={lake['lake']}", read_only=True) as store:
        # one analysis: each takes minutes on a loaded 2-core machine (a JVM, dozens of Spark jobs)
        assert flaky_tests(store) == lake["answers"]["flaky"]


def test_flip_counts_in_the_engine_match_the_history(lake: dict[str, Any]) -> None:
    """TestGrid's flip score from window functions equals the one computed from the history."""
    with connect(lake["db"], read_only=True) as store:
        window = VerdictFilter()
        counted = store.to_arrow(verdicts.flip_counts(store.ibis_table, window.selection(store))).to_pylist()
        assert counted
        by_test = {(r["job"], r["test"]): round(100.0 * r["flips"] / max(r["considered"], 1), 2) for r in counted}
        from_history = {(r["job"], r["test"]): r["flip_score"] for r in flaky_tests(store, options=None)
                        if r["failed"] + r["flaked"]}
        assert by_test == from_history
        history = load_history(store, window, troubled_only=True)
        assert sorted(by_test) == sorted(zip(history.jobs, history.tests))


def test_lake_engines_are_written_by_commands_only_and_say_what_they_need(lake: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="a lake is written only by ciscope's commands"):
        connect(f"chdb:///{lake['lake']}")
    with pytest.raises(StoreError, match="no lake at"):
        connect(f"chdb:///{tmp_path}", read_only=True)
    with pytest.raises(UsageError, match="lake=DIR"):
        connect("spark://local[2]", read_only=True)
