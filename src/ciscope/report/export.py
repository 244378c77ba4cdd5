"""Grids for data science: a NumPy matrix with labels, or one Parquet row per cell."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..analysis.grid import Grid


def write_npz(grid: Grid, path: str | os.PathLike[str]) -> None:
    """``statuses`` (int8, tests × runs, TestGrid codes, newest run first), ``durations``
    (float64 seconds, NaN where none), and the labels ``tests``, ``builds``, ``started_ms``,
    ``commits``."""
    statuses = np.array(grid.statuses, dtype=np.int8).reshape(len(grid.tests), len(grid.columns))
    durations = np.array(
        [[np.nan if d is None else d for d in row] for row in (grid.durations or [[None] * len(grid.columns)] * len(grid.tests))],
        dtype=np.float64,
    ).reshape(len(grid.tests), len(grid.columns))
    np.savez_compressed(
        path,
        statuses=statuses,
        durations=durations,
        tests=np.array(grid.tests, dtype=str),
        builds=np.array(grid.builds, dtype=str),
        started_ms=np.array([c.started_ms or 0 for c in grid.columns], dtype=np.int64),
        commits=np.array([c.commit or "" for c in grid.columns], dtype=str),
    )


def write_parquet(grid: Grid, path: str | os.PathLike[str]) -> None:
    """One row per non-blank cell: test, build, started_ms, commit, status, duration, message."""
    columns: dict[str, list[Any]] = {k: [] for k in ("test", "build", "started_ms", "commit", "status", "duration", "message")}
    for test, column, status, message, duration in grid.cells():
        columns["test"].append(test)
        columns["build"].append(column.build)
        columns["started_ms"].append(column.started_ms)
        columns["commit"].append(column.commit)
        columns["status"].append(int(status))
        columns["duration"].append(duration)
        columns["message"].append(message or None)
    schema = pa.schema([("test", pa.string()), ("build", pa.string()), ("started_ms", pa.int64()),
                        ("commit", pa.string()), ("status", pa.int8()), ("duration", pa.float64()),
                        ("message", pa.string())])
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path)
