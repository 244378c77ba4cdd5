"""Spark and chDB over a Parquet lake (issue 9): the query layer's Ibis expressions give the
same answers as DuckDB.

A small store (two jobs, flakes, a regression, a variant, a known bug's explanation) is
exported as a lake; ``flaky`` and ``regressions`` must answer the same on DuckDB and on chDB
(also through the CLI), ``flaky`` on Spark local[2] (in process: one JVM per test session)."""

from __future__ import annotations

import json
import os
import socket
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
from ciscope.store.lakes import ClickHouseStore, ClickHouseURL, clickhouse_url
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
    from ciscope.store.lakes import spark_url

    assert spark_url("spark://local[2]?warehouse=/w") == spark_url("spark://local[2]?lake=/w") == ("local[2]", "/w")
    assert spark_url("spark://host:7077?lake=/w") == ("spark://host:7077", "/w")
    with pytest.raises(UsageError, match="lake=DIR"):
        connect("spark://local[2]", read_only=True)


# -- ClickHouse server (clickhouse://): what runs without one ---------------------------------
# The answers on a real server are tests/store/test_engine_matrix.py's (CISCOPE_TEST_CLICKHOUSE_URL);
# chdb:/// runs the same store code (ClickHouse's engine in process, through clickhouse-connect).


def test_clickhouse_urls_are_taken_apart_or_refused() -> None:
    url = clickhouse_url("clickhouse://ci:p%40ss@ch.example:8124/ciscope_lake?lake=ciscope/lake/")
    assert url == ClickHouseURL(host="ch.example", port=8124, database="ciscope_lake", lake="ciscope/lake",
                                username="ci", password="p@ss")
    assert clickhouse_url("clickhouse://127.0.0.1/db?lake=/var/lib/clickhouse/user_files/lake").port == 8123
    for bad in ("clickhouse://127.0.0.1:8123/db",  # no lake
                "clickhouse://127.0.0.1:8123/?lake=lake",  # no database
                "clickhouse://127.0.0.1:8123/a.b?lake=lake",  # not one database name
                "clickhouse://:8123/db?lake=lake",  # no host
                "clickhouse://127.0.0.1:port/db?lake=lake",
                "clickhouse://127.0.0.1:8123/db?lake=lake&secure=1",  # an option this ciscope does not know
                "clickhouse://127.0.0.1:8123/db?lake="):
        with pytest.raises(UsageError, match=r"expected clickhouse://\[USER\[:PASSWORD\]@\]HOST\[:PORT\]/DATABASE\?lake=DIR"):
            connect(bad, read_only=True)


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_clickhouse_without_a_server_says_which_and_what_it_expected() -> None:
    pytest.importorskip("clickhouse_connect", reason="clickhouse:// needs the engines extra: pip install -e '.[engines]'")
    url = f"clickhouse://ci:secret@127.0.0.1:{_closed_port()}/ciscope?lake=lake"
    with pytest.raises(StoreError, match="server only reads a lake, on its own machine"):
        connect(url, writable_lake=True)
    with pytest.raises(StoreError) as caught:
        connect(url, read_only=True)
    message = str(caught.value)
    assert url.replace(":secret@", ":***@") in message and "secret" not in message
    assert "no usable ClickHouse server at http://127.0.0.1:" in message and "HTTP port" in message
    # and through the CLI: one line, the store's exit status, no traceback
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", url, "runs"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 4 and "Traceback" not in done.stderr and "no usable ClickHouse server" in done.stderr


def test_clickhouse_and_chdb_without_clickhouse_connect_say_what_to_install(lake: dict[str, Any]) -> None:
    """The ImportError path, in a process where the module cannot be imported."""
    code = ("import sys; sys.modules['clickhouse_connect'] = None\n"
            "from ciscope.errors import StoreError\nfrom ciscope.store.engine import connect\n"
            "for url in sys.argv[1:]:\n"
            "    try:\n        connect(url, read_only=True)\n"
            "    except StoreError as exc:\n        print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code, "clickhouse://127.0.0.1:8123/db?lake=lake",
                           f"chdb:///{lake['lake']}"], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.splitlines() == [
        "clickhouse:// needs clickhouse-connect: pip install 'ciscope[engines]'",
        "chdb:// needs chDB and clickhouse-connect: pip install 'ciscope[engines]'"], done.stderr


def test_clickhouse_store_answers_as_duckdb_on_chdbs_engine(lake: dict[str, Any]) -> None:
    """Everything a server connection does but HTTP — the manifest read by the engine's file(),
    the database created and used, the views, the queries — on clickhouse-connect's chDB
    backend (ClickHouse's own engine, in this process)."""
    clickhouse_connect = pytest.importorskip("clickhouse_connect", reason="needs the engines extra")
    pytest.importorskip("chdb", reason="needs the engines extra")
    url = f"clickhouse://ci:secret@127.0.0.1:8123/ciscope_lake?lake={lake['lake']}"
    with ClickHouseStore(url, client=clickhouse_connect.get_client(dsn="chdb://memory")) as store:
        assert store.url == url.replace(":secret@", ":***@")  # what messages and `db info` show
        assert store.query("SELECT currentDatabase()") == [("ciscope_lake",)]
        assert _answers(store) == lake["answers"]
    missing = url.replace(str(lake["lake"]), "/nowhere/lake")
    with pytest.raises(StoreError, match=r"no lake at /nowhere/lake on the server \(.*\): the server reads it with file"):
        ClickHouseStore(missing, client=clickhouse_connect.get_client(dsn="chdb://memory"))
