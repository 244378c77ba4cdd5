"""Every read-only report command on every engine (issue 9): the same JSON from a lake engine
as from the DuckDB store the lake was exported from.

A small demo store (with its disruption data and lifecycle events) gets ``retry: true``
fingerprints, a few retriggers logged (``retrigger run``, and some for runs that have a next
run on their commit, so ``retrigger stats`` has outcomes) and is exported as a lake. Each
command of :data:`COMMANDS` runs through the CLI (``python -m ciscope.cli --db … CMD --json``)
on the store and on ``chdb:///LAKE`` — and on a ClickHouse server when
``CISCOPE_TEST_CLICKHOUSE_URL`` names one (``clickhouse://``, skipped otherwise) — and the
answers must be equal. What an engine lacks is
in :data:`GAPS`: those cases are strict xfails (they fail once the gap is closed) and must fail
with a clear error, never a traceback.

Spark (``slow``) runs the same matrix in this process, one JVM for the whole session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ciscope.cli import cli
from ciscope.errors import CiscopeError
from ciscope.queries.retrigger import log_decision
from ciscope.queries.runs import window_runs
from ciscope.queries.window import Window
from ciscope.store.base import Store
from ciscope.store.engine import connect

# (case id, arguments); {job}, {build}, {fp} and {test} are filled in from the store
COMMANDS: list[tuple[str, tuple[str, ...]]] = [
    ("runs", ("runs",)),
    ("runs-window", ("runs", "--days", "5", "--job", "{job}", "--limit", "30")),
    ("runs-test", ("runs", "--test", "{test}")),
    ("tests", ("tests",)),
    ("tests-job", ("tests", "--job", "{job}")),
    ("flaky", ("flaky",)),
    ("flaky-all", ("flaky", "--all", "--exclude-known")),
    ("regressions", ("regressions",)),
    ("summary", ("summary",)),
    ("summary-imported", ("summary", "--imported")),
    ("grid", ("grid", "{job}")),
    ("triage", ("triage", "{build}")),
    ("bugs", ("bugs",)),
    ("unclassified", ("unclassified",)),
    ("clusters", ("clusters",)),
    ("slowdowns", ("slowdowns",)),
    ("db-info", ("db", "info")),
    ("fingerprints-check", ("fingerprints", "check", "{fp}")),
    ("disruption-baseline", ("disruption", "baseline")),
    ("disruption-baseline-alerts", ("disruption", "baseline", "--kind", "alerts")),
    ("disruption-check", ("disruption", "check", "{build}")),
    ("disruption-report", ("disruption", "report", "--old-days", "10", "--new-days", "5")),
    ("disruption-runs", ("disruption", "runs", "--limit", "5")),
    ("timing", ("timing",)),
    ("timing-worker", ("timing", "--by", "worker")),
    ("timing-thresholds", ("timing", "thresholds")),
    ("timing-outliers", ("timing", "outliers")),
    ("retrigger-plan", ("retrigger", "plan", "--days", "30")),
    ("retrigger-stats", ("retrigger", "stats")),
    ("token-list", ("token", "list")),
]
# what an engine lacks: (engine, case id) → why. Each is a strict xfail and must fail cleanly.
LAKES = "a Parquet lake leaves the api_tokens table out (credentials): every lake engine says so"
GAPS: dict[tuple[str, str], str] = {
    ("chdb", "token-list"): LAKES,
    ("clickhouse", "token-list"): LAKES,
    ("spark", "token-list"): LAKES,
}
# answers that may legitimately be empty on the demo store (nothing imported from TestGrid)
EMPTY_OK = {"summary-imported", "disruption-report"}
# what differs between engines by nature, not by answer: the store's own URL and engine name
OWN = {"url", "engine"}


def normalise(value: Any) -> Any:
    """The answer with floats to 9 significant digits — percentiles are interpolated in each
    engine's own arithmetic (DuckDB 105.0600000000004, ClickHouse 105.06000000000041) — and
    the store's own URL and engine name left out (``db info``). Nothing else is touched."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in OWN}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("matrix")
    db = f"duckdb:///{tmp / 'store.duckdb'}"
    fp = tmp / "data" / "fingerprints"
    _cli(db, "demo", "--out", str(tmp / "data"), "--runs-per-job", "30", json_out=False)
    for path in fp.glob("*.yaml"):  # every known bug retryable: `retrigger plan` has retriggers to plan
        path.write_text(path.read_text() + "retry: true\n")
    config = tmp / "config.yaml"
    config.write_text('retrigger:\n  enabled: true\n  command: "true {job}"\n')
    _cli(db, "--fingerprints", str(fp), "retrigger", "run", "--config", str(config), "--days", "30")
    with connect(db) as store:
        runs = window_runs(store, Window())
        _log_retriggers(store, runs)
    failed = next(r for r in runs if r["status"] == "failure")
    lake = tmp / "lake"
    _cli(db, "export", "--parquet", str(lake))
    values = {"job": failed["job"], "build": failed["build"], "fp": str(fp), "test": "sig-network"}
    return {"db": db, "lake": lake, "values": values, "answers": {}}


def _log_retriggers(store: Store, runs: list[dict[str, Any]]) -> None:
    """Retriggers of failed runs that have a later run of their job on the same commit (what
    `retrigger run` never makes, as it skips them): `retrigger stats` then has outcomes."""
    later: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        later[run["job"], run["commit"]].append(run)
    chosen = [r for group in later.values() for r in sorted(group, key=lambda r: r["started_at"])[:-1]
              if r["status"] == "failure"][:8]
    assert chosen
    with store.transaction("log retriggers"):
        for k, run in enumerate(chosen):
            log_decision(store, run["run_id"], job=run["job"], build=run["build"], commit=run["commit"],
                         rule=f"rule-{k % 3}", decision="retrigger", reason="test", action=None,
                         decided_at=datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None, microsecond=k))


def _cli(db: str, *args: str, json_out: bool = True) -> str:
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, *args, *(["--json"] if json_out else [])],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _args(case: tuple[str, ...], values: dict[str, str]) -> list[str]:
    return ["--fingerprints", values["fp"], *(a.format(**values) for a in case), "--json"]


def _reference(store: dict[str, Any], name: str, case: tuple[str, ...]) -> Any:
    """The DuckDB store's answer (once per case)."""
    if name not in store["answers"]:
        answer = json.loads(_cli(store["db"], *_args(case, store["values"])[:-1]))
        assert answer or name in EMPTY_OK, f"{name}: an empty answer proves nothing"
        store["answers"][name] = answer
    return store["answers"][name]


def _cases(engine: str) -> list[Any]:
    return [pytest.param(name, case, id=name,
                         marks=[pytest.mark.xfail(strict=True, reason=GAPS[engine, name])] if (engine, name) in GAPS else [])
            for name, case in COMMANDS]


def _same_answer(url: str, name: str, case: tuple[str, ...], store: dict[str, Any]) -> None:
    expected = _reference(store, name, case)
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", url, *_args(case, store["values"])],
                          capture_output=True, text=True, timeout=600, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert normalise(json.loads(done.stdout)) == normalise(expected)


def _lacks_plainly(engine: str, url: str, store: dict[str, Any]) -> None:
    """The engine's gaps fail with the store's exit status and one line naming the URL and
    what the lake lacks."""
    for (gap_engine, name), _why in GAPS.items():
        if gap_engine != engine:
            continue
        done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", url,
                               *_args(dict(COMMANDS)[name], store["values"])],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 4 and "Traceback" not in done.stderr, done.stderr
        assert url in done.stderr and "api_tokens" in done.stderr


@pytest.mark.parametrize(("name", "case"), _cases("chdb"))
def test_chdb_answers_as_duckdb(name: str, case: tuple[str, ...], matrix_store: dict[str, Any]) -> None:
    pytest.importorskip("chdb", reason="chdb:// needs the engines extra: pip install -e '.[engines]'")
    _same_answer(f"chdb:///{matrix_store['lake']}", name, case, matrix_store)


def test_what_a_lake_lacks_is_said_plainly(matrix_store: dict[str, Any]) -> None:
    """Here on chDB; a ClickHouse server's and Spark's are checked with their matrices."""
    pytest.importorskip("chdb", reason="chdb:// needs the engines extra: pip install -e '.[engines]'")
    _lacks_plainly("chdb", f"chdb:///{matrix_store['lake']}", matrix_store)


# -- a ClickHouse server: the same matrix, when one is given ---------------------------------
# CISCOPE_TEST_CLICKHOUSE_URL=clickhouse://HOST:8123/DATABASE names a server on this machine (23.6
# or newer) and CISCOPE_TEST_CLICKHOUSE_USER_FILES its user_files_path, where the lake is copied
# for the server's file() to read. Without them these tests skip: no server runs here by default.

@pytest.fixture(scope="module")
def clickhouse_lake(matrix_store: dict[str, Any]) -> Iterator[str]:
    url, user_files = os.environ.get("CISCOPE_TEST_CLICKHOUSE_URL"), os.environ.get("CISCOPE_TEST_CLICKHOUSE_USER_FILES")
    if not url or not user_files:
        pytest.skip("no ClickHouse server: set CISCOPE_TEST_CLICKHOUSE_URL=clickhouse://HOST:8123/DATABASE and "
                    "CISCOPE_TEST_CLICKHOUSE_USER_FILES=<that server's user_files_path, on this machine>")
    pytest.importorskip("clickhouse_connect", reason="clickhouse:// needs the engines extra: pip install -e '.[engines]'")
    folder = Path(user_files) / f"ciscope-test-{os.getpid()}"
    shutil.copytree(matrix_store["lake"], folder / "lake")
    try:
        yield f"{url}?lake={folder.name}/lake"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(("name", "case"), _cases("clickhouse"))
def test_clickhouse_server_answers_as_duckdb(name: str, case: tuple[str, ...], matrix_store: dict[str, Any],
                                             clickhouse_lake: str) -> None:
    _same_answer(clickhouse_lake, name, case, matrix_store)


def test_what_a_clickhouse_server_lacks_is_said_plainly(matrix_store: dict[str, Any], clickhouse_lake: str) -> None:
    _lacks_plainly("clickhouse", clickhouse_lake, matrix_store)


# -- Spark: the same matrix in this process (one JVM per test session) ------------------------
# The matrix runs once in a module fixture (each case is a handful of Spark jobs, seconds to a
# minute on 2 loaded cores); the parametrized tests read its results.

@pytest.fixture(scope="module")
def spark_answers(matrix_store: dict[str, Any]) -> dict[str, Any]:
    pytest.importorskip("pyspark", reason="spark:// needs the engines extra: pip install -e '.[engines]'")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("CISCOPE_SPARK_MEMORY", "768m")
    url = f"spark://local[2]?lake={matrix_store['lake']}"
    out: dict[str, Any] = {}
    for name, case in COMMANDS:
        result = CliRunner().invoke(cli, ["--db", url, *_args(case, matrix_store["values"])])
        error = result.exception
        if isinstance(error, CiscopeError):  # what main() prints as one line, with its exit status
            out[name] = (error.exit_code, "", f"error: {error}", None)
        else:
            crashed = error is not None and not isinstance(error, SystemExit)
            out[name] = (result.exit_code, result.stdout, result.stderr, repr(error) if crashed else None)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("name", "case"), _cases("spark"))
def test_spark_answers_as_duckdb(name: str, case: tuple[str, ...], matrix_store: dict[str, Any],
                                 spark_answers: dict[str, Any]) -> None:
    expected = _reference(matrix_store, name, case)
    code, stdout, stderr, crash = spark_answers[name]
    assert crash is None, crash
    assert code == 0, stderr
    assert normalise(json.loads(stdout)) == normalise(expected)


@pytest.mark.slow
def test_spark_says_plainly_what_a_lake_lacks(spark_answers: dict[str, Any]) -> None:
    for (engine, name), _why in GAPS.items():
        if engine == "spark":
            code, _stdout, stderr, crash = spark_answers[name]
            assert crash is None and code == 4 and "api_tokens" in stderr, (crash, stderr)


def test_the_matrix_covers_every_read_command() -> None:
    """Each command of the CLI that only reads the store has a case here."""
    from tests.test_cli_commands import commands

    writes = {"db migrate", "demo", "ingest", "reclassify", "export", "disruption record", "retrigger run",
              "token create", "token revoke", "serve", "upload"}
    names = {*commands(), "timing"}  # `ciscope timing` is a group and a command
    covered = {next(" ".join(case[:n]) for n in (2, 1) if " ".join(case[:n]) in names) for _, case in COMMANDS}
    assert names - writes == covered


# The shared (third-party) data: TestGrid tables of OpenShift's release tabs and an stestr
# subunit history, ingested into a DuckDB store and exported; every engine gives its JSON.
SHARED_COMMANDS = [("runs", "--limit", "100000"), ("flaky",), ("summary",), ("tests",), ("unclassified",), ("clusters",)]


@pytest.fixture(scope="module")
def shared_lake(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Any]:
    data = shared_data
    tmp = tmp_path_factory.mktemp("shared-lake")
    db = f"duckdb:///{tmp / 's.duckdb'}"
    tables = sorted(str(p) for p in (data / "testgrid" / "sippy-testgrid-legacy" / "table").glob("*.json"))
    _cli(db, "ingest", "testgrid", *tables, json_out=False)
    _cli(db, "ingest", str(data / "subunit-stestr-tacker-unit" / "stestr"), "--job", "tacker-unit", json_out=False)
    _cli(db, "export", "--parquet", str(tmp / "lake"), json_out=False)
    answers = {case[0]: json.loads(_cli(db, *case)) for case in SHARED_COMMANDS}
    assert all(answers[name] for name in ("runs", "flaky", "summary", "tests", "clusters")), "empty answers prove nothing"
    return {"lake": tmp / "lake", "answers": answers}


@pytest.mark.parametrize("engine", ["chdb", "parquet"])
def test_lake_engines_answer_as_duckdb_on_the_shared_data(engine: str, shared_lake: dict[str, Any]) -> None:
    for case in SHARED_COMMANDS:
        assert json.loads(_cli(f"{engine}:///{shared_lake['lake']}", *case)) == shared_lake["answers"][case[0]], case


@pytest.mark.slow
def test_spark_answers_as_duckdb_on_the_shared_data(shared_lake: dict[str, Any]) -> None:
    pytest.importorskip("pyspark", reason="spark:// needs the engines extra: pip install -e '.[engines]'")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("CISCOPE_SPARK_MEMORY", "768m")
    for case in SHARED_COMMANDS:
        result = CliRunner().invoke(cli, ["--db", f"spark://local[2]?lake={shared_lake['lake']}", *case, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == shared_lake["answers"][case[0]], case
