"""Commands that do not open the store import none of its heavy dependencies (issue 13):
``--help`` of every command, ``--version`` and ``fingerprints check --no-history`` load no
pyarrow, numpy, scipy, duckdb or psycopg."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pyarrow", "numpy", "scipy", "duckdb", "psycopg", "pandas")

# Runs the CLI as `python -m ciscope.cli ARGS` would, then reports what got imported.
PROBE = """
import json, runpy, sys
args = json.loads(sys.argv[1])
sys.argv = ["ciscope", *args]
code = 0
try:
    runpy.run_module("ciscope.cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
heavy = sorted(m for m in HEAVY if m in sys.modules)
print("\\n" + json.dumps({"code": code, "heavy": heavy}))
""".replace("HEAVY", repr(HEAVY))


def imported(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True,
                          timeout=120, check=False)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


COMMANDS = ["runs", "tests", "flaky", "regressions", "grid", "summary", "triage", "bugs", "clusters",
            "unclassified", "ingest", "demo", "reclassify", "db", "fingerprints"]


def test_help_imports_nothing_heavy() -> None:
    assert imported("--help") == {"code": 0, "heavy": []}
    assert imported("--version") == {"code": 0, "heavy": []}


# Light, but not needed to show help: rich (tables, progress bars, coloured messages: about a
# third of the start-up) is imported when something is printed through it; the records
# (``ciscope.model``: its dataclasses), the report views and orjson when a command runs.
NOT_FOR_HELP = ("rich", "ciscope.model", "ciscope.report.reports", "orjson")


@pytest.mark.parametrize("args", [["--help"], ["ingest", "--help"], ["runs", "--help"]])
def test_help_does_not_import_what_only_commands_use(args: list[str]) -> None:
    """issue 13: ``ciscope --help`` under 0.15 s."""
    code = PROBE.replace("heavy = sorted(m for m in", f"heavy = sorted(m for m in {NOT_FOR_HELP!r} if m in sys.modules) or sorted(m for m in")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"code": 0, "heavy": []}


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_imports_nothing_heavy(command: str) -> None:
    assert imported(command, "--help") == {"code": 0, "heavy": []}


def test_fingerprint_check_without_history_imports_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "bug-1.yaml").write_text('title: t\nquery: message:"a long enough message to match"\n')
    assert imported("fingerprints", "check", "--no-history", str(tmp_path)) == {"code": 0, "heavy": []}


def test_a_command_that_reads_the_store_still_works(tmp_path: Path) -> None:
    """The store is imported when a command needs it (the probe itself can see it)."""
    assert imported("--db", f"duckdb:///{tmp_path / 'x.duckdb'}", "db", "migrate")["code"] == 0  # read commands never create a store
    result = imported("--db", f"duckdb:///{tmp_path / 'x.duckdb'}", "runs", "--json")
    assert result["code"] == 0
    assert "pyarrow" in result["heavy"]  # type: ignore[operator]


def test_the_reader_imports_nothing_heavy() -> None:
    """Reading reports into columns (issue 13) needs lxml, not the store's Arrow or numpy."""
    code = ("import sys; from ciscope.ingest.junit import read_columns, parse_junit\n"
            "xml = b'<testsuite name=\"s\"><testcase classname=\"c\" name=\"t\" time=\"1\"/></testsuite>'\n"
            "[cols] = read_columns(xml); assert len(cols) == 1 and list(parse_junit(xml))[0].duration == 1.0\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
