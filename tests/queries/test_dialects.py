"""Every statement the read commands send compiles to BigQuery, Trino and Snowflake SQL (issue 9).

The Ibis expressions (flaky's and regressions' aggregations) are compiled by Ibis itself
(`docs/sql/`, kept current by tests/test_docs.py). The other reports send portable SQL: this
test runs every read command on a demo store through the CLI, records each SELECT the store
receives, and has sqlglot (the SQL compiler Ibis uses) translate it from DuckDB's dialect to each
target with unsupported constructs raised as errors — a statement that needs something the
target lacks fails here, naming the statement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ciscope.cli import cli
from ciscope.store.duckdb import DuckDBStore

COMMANDS = [["runs"], ["runs", "--test", "sig-node"], ["tests"], ["summary"], ["bugs"], ["unclassified"], ["clusters"],
            ["timing"], ["timing", "thresholds"], ["timing", "outliers"], ["retrigger", "plan"], ["retrigger", "stats"],
            ["disruption", "baseline"], ["disruption", "runs"], ["slowdowns"], ["grid", "{job}"],
            ["triage", "{build}"], ["tests", "--test", "sig-network"]]


def test_every_statement_compiles_to_bigquery_trino_and_snowflake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlglot
    from sqlglot.errors import ErrorLevel

    db = f"duckdb:///{tmp_path / 'd.duckdb'}"
    done = CliRunner().invoke(cli, ["--db", db, "demo", "--out", str(tmp_path / "d"), "--runs-per-job", "10", "--seed", "2"])
    assert done.exit_code == 0, done.output
    runs = json.loads(CliRunner().invoke(cli, ["--db", db, "runs", "--json"]).stdout)
    failed = next(r for r in runs if r["status"] == "failure")
    values = {"job": failed["job"], "build": failed["build"]}
    seen: set[str] = set()
    for name in ("query_arrow", "query", "execute"):
        original = getattr(DuckDBStore, name)

        def record(self: DuckDBStore, sql: str, params: Any = (), _original: Any = original) -> Any:
            seen.add(sql)
            return _original(self, sql, params)

        monkeypatch.setattr(DuckDBStore, name, record)
    for command in COMMANDS:
        result = CliRunner().invoke(cli, ["--db", db, *(a.format(**values) for a in command), "--json"])
        assert result.exit_code == 0, (command, result.output)
    selects = sorted(s for s in seen if s.lstrip().split(None, 1)[0].upper() in ("SELECT", "WITH"))
    assert len(selects) > 30, "the commands sent fewer statements than expected: the recording missed them"
    failures = []
    for sql in selects:
        for dialect in ("bigquery", "trino", "snowflake"):
            try:
                sqlglot.transpile(sql, read="duckdb", write=dialect, unsupported_level=ErrorLevel.RAISE)
            except Exception as exc:  # noqa: BLE001 - every failure is listed below
                failures.append(f"{dialect}: {exc} — {sql[:200]}")
    assert not failures, "\n".join(failures)
