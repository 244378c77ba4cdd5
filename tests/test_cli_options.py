"""Option values a user can get wrong: a clear one-line error and exit 2, never a traceback
(issue 8: `runs --limit -3`, `grid --columns -5`, `summary --columns -1`, `grid --npz /missing/…`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from runfolders import write_run

from ciscope.cli import cli


def all_params() -> list[tuple[str, click.Parameter]]:
    out = [("ciscope", p) for p in cli.params]

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            full = f"{prefix} {name}"
            out.extend((full, p) for p in command.params)
            if isinstance(command, click.Group):
                walk(command, full)

    walk(cli, "ciscope")
    return out


def test_every_numeric_option_has_a_range() -> None:
    """An int or float option without bounds lets -3 through to the store (a traceback)."""
    loose = [f"{where} {param.opts[0]}" for where, param in all_params()
             if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType))
             and not isinstance(param.type, (click.IntRange, click.FloatRange))]
    assert not loose, f"give these options a click.IntRange/FloatRange: {loose}"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("opts")
    db = f"duckdb:///{tmp / 'c.duckdb'}"
    for build in ("1", "2", "3"):
        write_run(tmp / "data", "periodic-e2e", build)
    done = ciscope("ingest", str(tmp / "data"), db=db)
    assert done.returncode == 0, done.stderr
    return db


def ciscope(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, *args], check=False, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.parametrize(("args", "names"), [
    (("runs", "--limit", "-3"), "--limit"),
    (("grid", "periodic-e2e", "--columns", "-5"), "--columns"),
    (("summary", "--columns", "-1"), "--columns"),
    (("runs", "--days", "0"), "--days"),
    (("regressions", "--confidence", "1.5"), "--confidence"),
    (("clusters", "--top", "0"), "--top"),
    (("bugs", "--days", "-1"), "--days"),
])
def test_out_of_range_values_are_usage_errors(store: str, args: tuple[str, ...], names: str) -> None:
    done = ciscope(*args, db=store)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and names in done.stderr


@pytest.mark.parametrize("option", ["--npz", "--parquet"])
def test_output_file_in_a_missing_folder(store: str, tmp_path: Path, option: str) -> None:
    target = tmp_path / "missing" / "dir" / "x.out"
    done = ciscope("grid", "periodic-e2e", option, str(target), db=store)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and str(target) in done.stderr and "no folder" in done.stderr
    assert not target.parent.exists()


@pytest.mark.parametrize("option", ["--npz", "--parquet"])
def test_output_file_that_is_a_folder(store: str, tmp_path: Path, option: str) -> None:
    done = ciscope("grid", "periodic-e2e", option, str(tmp_path), db=store)
    assert done.returncode == 2 and "is a folder" in done.stderr and "Traceback" not in done.stderr


def test_output_files_written(store: str, tmp_path: Path) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    done = ciscope("grid", "periodic-e2e", "--npz", str(tmp_path / "g.npz"), "--parquet", str(tmp_path / "g.parquet"),
                   db=store)
    assert done.returncode == 0, done.stderr
    assert np.load(tmp_path / "g.npz")["statuses"].shape[1] == 3
    assert pq.read_table(tmp_path / "g.parquet").num_rows > 0
