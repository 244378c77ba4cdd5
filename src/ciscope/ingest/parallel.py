"""Read Prow run folders in worker processes.

Parsing JUnit and building Arrow tables is two thirds of an ingest and pure Python, so one
process per core does it: each worker reads a chunk of run folders, matches known bugs (with
its own scanner, built from the fingerprint directory), and turns the runs into Arrow tables
(:func:`ciscope.store.write.arrow_batch`). Only the tables — moved as Arrow buffers — and the
runs' metadata come back; the parent process checks what is already stored and appends, in
the same atomic, idempotent batches as a serial ingest (:meth:`Store.write_prepared`).

Workers start with ``spawn`` (never ``fork``: the parent holds a database connection), and
without re-running the caller's main script (they need nothing from it): a script without an
``if __name__ == "__main__"`` guard, or read from standard input, can ingest in parallel too.
At most ``AHEAD`` chunks per worker are submitted and not yet consumed, so a slow consumer (a
PostgreSQL COPY) holds a bounded number of finished chunks, whatever the input's size.

Ctrl-C reaches every process of the terminal's process group. Workers ignore it (no traceback
per worker: they start with SIGINT blocked, inherited from the main process, which blocks it
while it starts one, and then ignore it); the main process gets ``KeyboardInterrupt``, stops the workers at once (their
chunks were not stored: only the main process writes) and lets it propagate, so the caller can
say what the batches committed before the interrupt stored.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import types
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..model import Run
from ..store.write import Batch, arrow_batch
from .prow import read_run

WORKERS_ENV = "CISCOPE_INGEST_WORKERS"
CHUNK = 40  # run folders per task: ~12k results for a 300-test job
MIN_FOLDERS = 2 * CHUNK  # fewer folders: starting workers costs more than it saves
AHEAD = 2  # chunks in flight per worker (submitted, not yet consumed by the main process)
#: tables whose text columns repeat within a chunk (each test's name, class, suite and file in
#: every run of a job): sent as dictionary arrays, a fifth of the bytes through the pipe and
#: through pickle (132 → 27 MB per 200k results, benchmarks/bench_ingest_parts.py); the engines take them as they are (DuckDB
#: reads dictionaries, the CSV writer of PostgreSQL's COPY renders them)
COMPACT_TABLES = ("test_results", "test_verdicts")

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
    folders: int = 0  # run folders this chunk accounts for (read, refused or skipped)
    skipped: int = 0  # already stored: recognised from their metadata and not read


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
            if run.disruption is not None:
                out.warnings.extend(run.disruption.warnings)
            by_id[run.run_id] = run  # the last copy of a run wins, as in Store.write_runs
        if classifier is not None:
            out.warnings.extend(classifier.warnings)
            classifier.warnings.clear()
        runs = list(by_id.values())
        if runs:
            out.batch = _compact(arrow_batch(runs))
            for run in runs:
                run.results = []
        out.runs = runs
        return out
    finally:
        gc.enable()


def _compact(batch: Batch) -> Batch:
    """The batch with the text columns of :data:`COMPACT_TABLES` dictionary-encoded."""
    for name in COMPACT_TABLES:
        table = batch.tables.get(name)
        if table is not None and table.num_rows:
            batch.tables[name] = pa.Table.from_arrays(
                [col.dictionary_encode() if pa.types.is_string(col.type) else col for col in table.columns],
                names=table.column_names)
    return batch


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """While a worker starts: SIGINT blocked, so the new process inherits the block (a Ctrl-C
    during its start-up, before :func:`_quiet_worker` runs, would print a traceback). A signal
    that arrives meanwhile stays pending and is delivered to this process on unblocking."""
    import threading

    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _quiet_worker() -> None:
    """Worker initializer: Ctrl-C is the main process's to handle (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(pool: Any) -> None:
    """Stop a pool now: pending chunks cancelled, running workers terminated (their work is
    only in memory; nothing of it was stored)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    results = getattr(pool, "_result_queue", None)  # shutdown() drops the pool's references
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(timeout=5)
    # A worker terminated while it sent a result leaves half a message in the result pipe, and
    # the pool's manager thread blocked reading the rest — for ever, as this process holds the
    # pipe's write end too; the interpreter then hangs at exit joining that thread. With the
    # workers gone, closing our write end turns the wait into EOF: the thread sees a broken
    # pool and ends. (CPython's ProcessPoolExecutor internals, 3.11–3.13: checked by
    # tests/test_cli_interrupt.py.)
    writer = getattr(results, "_writer", None)
    if writer is not None and not any(p.is_alive() for p in workers):
        with contextlib.suppress(OSError):
            writer.close()


@contextmanager
def _bare_main() -> Iterator[None]:
    """While workers start: a ``__main__`` with no file nor spec, so ``spawn`` does not make
    each worker re-import the caller's script (which would re-run an unguarded ingest)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def read_parallel(tasks: Iterable[tuple[list[str], int]], workers: int, fingerprints: str | None) -> Generator[Chunk, None, None]:
    """Chunks read by ``workers`` processes, in order. ``tasks`` yields (folders to read,
    folders skipped as already stored); it is consumed lazily, ``AHEAD`` chunks per worker
    ahead of the consumer, so memory stays bounded. A task with no folder to read is not
    sent to a worker."""
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    pending: deque[tuple[Future[Chunk], int, int]] = deque()
    todo = iter(tasks)

    def submit(pool: ProcessPoolExecutor) -> bool:
        task = next(todo, None)
        if task is None:
            return False
        folders, skipped = task
        if folders:
            with _bare_main(), _sigint_blocked():  # a submission may start a worker
                future = pool.submit(read_chunk, (folders, fingerprints))
        else:
            future = Future()
            future.set_result(Chunk(runs=[], batch=None))
        pending.append((future, len(folders), skipped))
        return True

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_quiet_worker)
    try:
        for _ in range(workers * AHEAD):
            if not submit(pool):
                break
        while pending:
            future, read, skipped = pending.popleft()
            chunk = future.result()
            chunk.folders, chunk.skipped = read + skipped, skipped
            submit(pool)  # keep the workers busy while the consumer stores this chunk
            yield chunk
    except BaseException:  # Ctrl-C, an error, or the consumer stopped early (GeneratorExit)
        _stop(pool)
        raise
    pool.shutdown()


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
