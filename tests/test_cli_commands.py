"""Every command of the CLI, in every output format it offers, on a small demo store (issue 8:
`clusters` crashed as a table on every store with failures and 772 tests missed it).

The demo store is built once per module by the real command. Each case runs in-process
(click's runner: an exception is a failure, whatever the exit code); a few run as real
subprocesses too, through the console entry point.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from ciscope.cli import cli

# Arguments of each command (by its full name); {job}, {build}, {demo}, {fingerprints} are
# filled in from the demo store. A command without a case fails test_every_command_has_a_case.
CASES: dict[str, tuple[str, ...]] = {
    "runs": ("--limit", "20"),
    "tests": ("--job", "{job}"),
    "flaky": (),
    "regressions": (),
    "summary": (),
    "grid": ("{job}",),
    "triage": ("{build}",),
    "bugs": (),
    "unclassified": (),
    "clusters": (),
    "db info": (),
    "db migrate": (),
    "fingerprints check": ("{fingerprints}",),
    "reclassify": (),
    "ingest": ("{demo}",),
    "demo": ("--out", "{tmp}/demo2", "--runs-per-job", "12"),
    "export": ("--parquet", "{tmp}/lake-{fmt}"),
    "disruption baseline": (),
    "disruption check": ("{build}",),
    "disruption report": ("--old-days", "10", "--new-days", "5"),
    "disruption record": (),
    "disruption runs": ("--limit", "5"),
    "token create": ("ci-{fmt}",),
    "token list": (),
    "token revoke": ("ci-{fmt}",),
    "timing thresholds": (),
    "timing outliers": (),
    "retrigger plan": (),
    "retrigger run": (),
    "retrigger stats": (),
    "slowdowns": (),
}
# Commands that only run against a live server: each has its own tests with a real one.
SERVER = {"serve": "tests/web/test_web_api.py starts it as a real server on 127.0.0.1",
          "upload": "tests/web/test_web_upload.py sends runs to a real server"}
# Commands whose data goes to stderr unless --json is given (they write, or check files).
QUIET_TABLE = {"db migrate", "fingerprints check", "reclassify", "ingest", "token revoke"}


def commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out.update(commands(command, f"{full} "))
        else:
            out[full] = command
    return out


def formats(command: click.Command) -> list[str]:
    names = {p.name for p in command.params}
    if "output_format" in names:
        return ["table", "json", "csv", "markdown"]
    return ["table", "json"] if "as_json" in names else ["table"]


ALL = [(name, fmt) for name, command in sorted(commands().items()) if name not in SERVER for fmt in formats(command)]
# groups that are commands too (`ciscope timing` reports phase statistics itself)
GROUPS = {"timing": ("--by", "worker")}
ALL += [(name, fmt) for name in GROUPS for fmt in formats(cli.commands[name])]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("demo")
    db = f"duckdb:///{tmp / 'demo.duckdb'}"
    done = subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, "demo", "--out", str(tmp / "data"),
                           "--runs-per-job", "40"], check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = CliRunner().invoke(cli, ["--db", db, "runs", "--json"])
    runs = json.loads(result.stdout)
    failed = next(r for r in runs if r["status"] == "failure")
    return {"db": db, "job": failed["job"], "build": failed["build"], "demo": str(tmp / "data"),
            "fingerprints": str(tmp / "data" / "fingerprints"), "tmp": str(tmp)}


def args_of(name: str, fmt: str, values: dict[str, str]) -> list[str]:
    db = f"duckdb:///{values['tmp']}/demo2.duckdb" if name == "demo" else values["db"]  # the shared store stays as is
    args = ["--db", db, "--fingerprints", values["fingerprints"], *name.split()]
    args += [a.format(**values, fmt=fmt) for a in {**CASES, **GROUPS}[name]]
    if fmt == "json":
        args.append("--json")
    elif fmt != "table":
        args += ["--format", fmt]
    return args


def test_every_command_has_a_case() -> None:
    assert set(commands()) == set(CASES) | set(SERVER), \
        "add the new command to CASES (and QUIET_TABLE if its table goes to stderr)"


@pytest.mark.parametrize(("name", "fmt"), ALL, ids=[f"{n.replace(' ', '-')}-{f}" for n, f in ALL])
def test_command_output(name: str, fmt: str, demo_store: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, args_of(name, fmt, demo_store), env={"COLUMNS": "160"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if fmt == "table" and name in QUIET_TABLE:
        assert result.stderr.strip()
        return
    assert result.stdout.strip(), result.stderr
    check_format(fmt, result.stdout)


def check_format(fmt: str, stdout: str) -> None:
    if fmt == "json":
        json.loads(stdout)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(stdout)))
        assert rows and all(len(row) == len(rows[0]) for row in rows), "ragged CSV"
    elif fmt == "markdown":
        table = [line for line in stdout.splitlines() if line.startswith("|")]
        assert len(table) >= 2 and set(table[1].replace("|", "").split()) <= {"---", "---:"}
        widths = {len(split_md(line)) for line in table if not line.startswith("| ---")}
        assert len(widths) <= len([line for line in table if line.startswith("| ---")]) + 1


def split_md(line: str) -> list[str]:
    cells, cell, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if escaped:
            cell, escaped = cell + char, False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append(cell)
            cell = ""
        else:
            cell += char
    return [*cells, cell]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ciscope.cli", *args], check=False, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_clusters_table_and_json_times_through_the_entry_point(demo_store: dict[str, str]) -> None:
    """The issue's crash, through `python -m ciscope.cli` (main(), not the test runner)."""
    table = run("--db", demo_store["db"], "clusters")
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    assert "unexplained failures in" in table.stdout
    items = json.loads(run("--db", demo_store["db"], "clusters", "--json").stdout)
    assert items and all(c["last_seen"].endswith("Z") and c["first_seen"].endswith("Z") for c in items)


def test_every_json_time_ends_in_z(demo_store: dict[str, str]) -> None:
    """Walk every read command's JSON: a string that parses as an ISO time carries a Z."""
    import re

    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
    for name, command in commands().items():
        if "output_format" not in {p.name for p in command.params}:
            continue
        result = CliRunner().invoke(cli, args_of(name, "json", demo_store))
        times = [v for v in strings(json.loads(result.stdout)) if iso.match(v)]
        assert all(t.endswith("Z") for t in times), (name, [t for t in times if not t.endswith("Z")][:3])


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_csv_headers_are_the_json_fields(demo_store: dict[str, str]) -> None:
    for name in ("runs", "tests", "flaky", "clusters"):
        result = CliRunner().invoke(cli, args_of(name, "csv", demo_store))
        header = next(csv.reader(io.StringIO(result.stdout)))
        rows = json.loads(CliRunner().invoke(cli, args_of(name, "json", demo_store)).stdout)
        items = rows["items"] if isinstance(rows, dict) else rows
        assert set(header) <= set(items[0]), (name, set(header) - set(items[0]))


def test_json_and_format_csv_contradict(demo_store: dict[str, str]) -> None:
    result = run("--db", demo_store["db"], "runs", "--json", "--format", "csv")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--json and --format csv" in result.stderr


def test_grid_shows_full_names_and_says_what_it_hides(demo_store: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["--db", demo_store["db"], "grid", demo_store["job"]], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    shown = result.stdout
    # the first column of the table's lines, joined: a folded name reads back whole
    folded = "".join(line.split("│")[1] for line in shown.splitlines() if line.startswith("│"))
    names = json.loads(CliRunner().invoke(cli, ["--db", demo_store["db"], "grid", demo_store["job"], "--json"]).stdout)
    long_failing = [t["name"] for t in names["tests"] if len(t["name"]) > 58 and any(
        s["value"] in (12, 13) for s in t["statuses"])]
    assert long_failing, "the demo has long test names that fail"
    for name in long_failing[:5]:
        assert name.replace(" ", "") in folded.replace(" ", ""), name  # never cut (long names fold)
    hidden = [line for line in shown.splitlines() if "hidden; --all-rows shows them" in line]
    assert len(hidden) == 1
    count = int(hidden[0].split()[0])
    every = CliRunner().invoke(cli, ["--db", demo_store["db"], "grid", demo_store["job"], "--all-rows", "--format", "csv"])
    some = CliRunner().invoke(cli, ["--db", demo_store["db"], "grid", demo_store["job"], "--format", "csv"])
    assert len(every.stdout.splitlines()) - len(some.stdout.splitlines()) == count > 0
    assert len(every.stdout.splitlines()) == len(names["tests"]) + 1


def test_db_info_is_a_table(demo_store: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["--db", demo_store["db"], "db", "info"])
    assert "{" not in result.stdout and "test_results" in result.stdout and "schema_version" in result.stdout


def test_messages_are_not_wrapped(tmp_path: Path) -> None:
    """stderr is not a terminal here (rich's default width is 80): a long path stays on one line."""
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "store.duckdb"
    result = run("--db", f"duckdb:///{deep}", "runs")
    assert result.returncode == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(deep) in lines[0], result.stderr
