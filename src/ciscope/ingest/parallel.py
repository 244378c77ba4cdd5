"""Read Prow run folders in worker processes.

Parsing JUnit and building Arrow tables is two thirds of an ingest and pure Python, so one
process per core does it: each worker reads a chunk of run folders, matches known bugs (with
its own scanner, built from the fingerprint directory), and turns the runs into Arrow tables
(:func:`ciscope.store.base.arrow_batch`). Only the tables — moved as Arrow buffers — and the
runs' metadata come back; the parent process checks what is already stored and appends, in
the same atomic, idempotent batches as a serial ingest (:meth:`Store.write_prepared`).

Workers start with ``spawn`` (never ``fork``: the parent holds a database connection).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..model import Run
from ..store.base import Batch, arrow_batch
from .prow import read_run

WORKERS_ENV = "CISCOPE_INGEST_WORKERS"
CHUNK = 40  # run folders per task: ~12k results for a 300-test job
MIN_FOLDERS = 2 * CHUNK  # fewer folders: starting workers costs more than it saves

_classifiers: dict[str, Any] = {}


def default_workers() -> int:
    """``$CISCOPE_INGEST_WORKERS``, else the number of CPUs (at most 8)."""
    value = os.environ.get(WORKERS_ENV)
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            return 1
    return max(1, min(os.cpu_count() or 1, 8))


@dataclass
class Chunk:
    """What a worker sends back for a chunk of run folders."""

    runs: list[Run]  # metadata and evidence only: results are in ``batch``
    batch: Batch | None
    refused: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    folders: int = 0


def _classifier(directory: str | None) -> Any:
    if directory is None:
        return None
    if directory not in _classifiers:
        from ..analysis.known import Classifier, load_directory

        fps, _ = load_directory(directory)
        _classifiers[directory] = Classifier(fps, source_dir=directory) if fps else None
    return _classifiers[directory]


def read_chunk(task: tuple[list[str], str | None]) -> Chunk:
    """Worker: read, classify and tabulate a chunk of run folders."""
    folders, fingerprints = task
    gc.disable()  # millions of acyclic objects (see batch.ingest)
    try:
        classifier = _classifier(fingerprints)
        out = Chunk(runs=[], batch=None, folders=len(folders))
        by_id: dict[int, Run] = {}
        for folder in folders:
            try:
                run = read_run(Path(folder))
            except InputError as exc:
                out.refused.append((folder, str(exc)))
                continue
            if classifier is not None:
                classifier.classify(run)
            by_id[run.run_id] = run  # the last copy of a run wins, as in Store.write_runs
        if classifier is not None:
            out.warnings.extend(classifier.warnings)
            classifier.warnings.clear()
        runs = list(by_id.values())
        if runs:
            out.batch = arrow_batch(runs)
            for run in runs:
                run.results = []
        out.runs = runs
        return out
    finally:
        gc.enable()


def usable() -> bool:
    """Whether worker processes can start: ``spawn`` re-imports the main module by its file,
    which a script read from standard input does not have."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return path is None or os.path.exists(path)


def chunks(folders: Sequence[Path], size: int = CHUNK) -> list[list[str]]:
    return [[str(f) for f in folders[i:i + size]] for i in range(0, len(folders), size)]


def read_parallel(folders: Sequence[Path], workers: int, fingerprints: str | None) -> Iterator[Chunk]:
    """Chunks of ``folders`` read by ``workers`` processes, in folder order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    tasks = [(chunk, fingerprints) for chunk in chunks(folders)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(read_chunk, tasks)


def merge(parts: list[Chunk]) -> tuple[list[Run], Batch]:
    """One batch of several chunks; a run read twice keeps its last copy only."""
    seen: set[int] = set()
    runs: list[Run] = []
    tables: dict[str, list[pa.Table]] = {}
    for part in reversed(parts):
        if part.batch is None:
            continue
        fresh = [r for r in part.runs if r.run_id not in seen]
        batch = part.batch
        if len(fresh) != len(part.runs):
            wanted = pa.array([r.run_id for r in fresh], pa.int64())
            batch = Batch(run_ids=[r.run_id for r in fresh],
                          tables={n: t.filter(pc.is_in(t["run_id"], value_set=wanted)) for n, t in batch.tables.items()})
        seen.update(r.run_id for r in fresh)
        runs[:0] = fresh
        for name, table in batch.tables.items():
            tables.setdefault(name, []).insert(0, table)
    merged = {name: pa.concat_tables(ts) for name, ts in tables.items()}
    results = merged["test_results"].num_rows if merged else 0
    return runs, Batch(run_ids=[r.run_id for r in runs], tables=merged, results=results)
