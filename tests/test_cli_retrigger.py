"""`ciscope retrigger plan|run|stats` as tables and JSON, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.test_retrigger import Hook, failed_run, fingerprints
from click.testing import CliRunner

from ciscope.cli import cli
from ciscope.store import connect


def invoke(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def test_retrigger_commands(store_url: str, tmp_path: Path) -> None:
    store = connect(store_url)
    fingerprints(store, B_retry=True)
    store.write_runs([failed_run("e2e", "1", "c1"), failed_run("e2e", "2", "c2", tests={"t9": None})])
    store.close()
    hook = Hook()
    try:
        config = tmp_path / "ciscope.yaml"
        config.write_text(f"retrigger:\n  webhook: {{url: '{hook.url}'}}\n  days: 30\n")

        code, out = invoke(store_url, "retrigger", "plan", "--json", "--config", str(config))
        plan = json.loads(out)
        assert code == 0 and plan["dry_run"] and not plan["enabled"]
        assert [(d["build"], d["decision"]) for d in plan["decisions"]] == [("1", "retrigger"), ("2", "skip")]
        assert plan["decisions"][0]["action"].startswith(f"POST {hook.url} ")
        code, out = invoke(store_url, "retrigger", "plan", "--config", str(config))
        assert code == 0 and "not every failure is explained" in out

        code, out = invoke(store_url, "retrigger", "run", "--json", "--config", str(config))  # not enabled: dry
        assert code == 0 and json.loads(out)["dry_run"] and hook.bodies == []

        config.write_text(f"retrigger:\n  enabled: true\n  webhook: {{url: '{hook.url}'}}\n  days: 30\n")
        code, out = invoke(store_url, "retrigger", "run", "--dry-run", "--config", str(config))
        assert code == 0 and hook.bodies == [] and "dry_run" in out
        code, out = invoke(store_url, "retrigger", "run", "--config", str(config))
        assert code == 0 and "HTTP 201" in out and [b["build"] for b in hook.bodies] == ["1"]

        code, out = invoke(store_url, "retrigger", "stats", "--json")
        (rule,) = json.loads(out)["rules"]
        assert (rule["rule"], rule["retriggers"], rule["pending"], rule["flagged"]) == ("B-retry", 1, 1, False)
        code, out = invoke(store_url, "retrigger", "stats")
        assert code == 0 and "B-retry" in out
    finally:
        hook.server.shutdown()
