"""The Parquet lake: ``ciscope export --parquet DIR`` and the ``parquet://`` engine.

A lake is a folder of Hive-partitioned Parquet files, one folder per table of the store::

    DIR/_ciscope_lake.json                                  what was exported (schema version, columns)
    DIR/runs/day=2026-11-01/job=NAME/part-0.parquet         tables of runs: by the run's day and job
    DIR/test_results/day=2026-11-01/job=NAME/part-0.parquet
    DIR/jobs/part-0.parquet                                 small tables: one file

Every table with a ``run_id`` column is partitioned by the day (UTC) its run started and the
run's job (``day=__HIVE_DEFAULT_PARTITION__`` for a run without a start, Hive's null). A job
name is written as a path segment by percent-escaping every ASCII character other than
letters, digits and ``._-`` (``a/b`` → ``job=a%2Fb``); DuckDB, Arrow and Spark decode it back
to the name, and take the value of ``job`` from the path. ``api_tokens`` (the HTTP API's
credentials) is never exported.

Exports are atomic: the new lake is written to a hidden sibling folder and swapped in with one
rename, so a reader sees the old lake or the new one, never a half-written one; after a
failure the previous lake is untouched. An export with a window (``--days 2``…) writes every
(day, job) partition holding a selected run, whole, and keeps the other partitions of the
previous lake (hard links into the new folder): it replaces whole partitions.

:class:`ParquetStore` (``parquet:///DIR``) analyses a lake in place through an in-memory
DuckDB whose views read the files (``read_parquet(…, hive_partitioning=true)``, DuckDB's
built-in Parquet reader): every read command runs on it unchanged. It never writes: commands
that write a lake run on a working copy (:mod:`ciscope.store.lakewrite`), published with
:func:`write_lake` under :func:`lake_lock`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import StoreError, UsageError
from .duckdb import DuckDBStore, duckdb_path
from .sqltext import sql_string

if TYPE_CHECKING:
    from ..queries.window import Window
    from .base import Store

__all__ = ["READ_ONLY", "ExportReport", "LakeTable", "ParquetStore", "ReadOnlyLake", "export_parquet", "job_segment",
           "lake_lock", "lake_select", "parse_manifest", "partition_files", "read_manifest", "write_lake"]

MANIFEST = "_ciscope_lake.json"
LAKE_FORMAT = 1
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: tables never exported, and why
EXCLUDED = {"api_tokens": "credentials of `ciscope serve`'s write API"}
READ_ONLY = ("a lake is written only by ciscope's commands (ingest, demo, reclassify, disruption record, retrigger "
             "run, db migrate with --db on the lake) and `ciscope export --parquet` (see docs/store.md, Parquet lake)")
#: a (day, job) partition of the lake: the UTC day its runs started (None: no start) and the job
Partition = tuple[date | None, str]
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_NAME_MAX = 255  # bytes in one path segment (Linux, macOS)
# store column types (information_schema) → Parquet column types, the same from every engine
_TYPES = {"bigint": pa.int64(), "integer": pa.int32(), "int": pa.int32(), "smallint": pa.int16(),
          "double": pa.float64(), "double precision": pa.float64(), "real": pa.float32(), "float": pa.float32(),
          "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
          "timestamp without time zone": pa.timestamp("us"), "varchar": pa.string(), "text": pa.string(),
          "character varying": pa.string(), "json": pa.string()}


def job_segment(job: str | None) -> str:
    """The partition folder of a job, ``job=…``: every ASCII character other than letters,
    digits and ``._-`` percent-escaped (what Hive, Spark, Arrow and DuckDB decode), other
    characters kept as UTF-8; null is Hive's default partition."""
    if job is None:
        return f"job={NULL_PARTITION}"
    value = "".join(c if c in _SAFE or ord(c) > 127 else f"%{ord(c):02X}" for c in job)
    segment = f"job={value}"
    if len(segment.encode()) > _NAME_MAX:
        raise UsageError(f"job {job[:80]!r}… cannot be a partition of the lake: its folder name would be "
                         f"{len(segment.encode())} bytes, longer than the {_NAME_MAX} a file system allows")
    return segment


def day_segment(day: str | None) -> str:
    return f"day={day if day is not None else NULL_PARTITION}"


@dataclass(slots=True)
class LakeTable:
    """One table of an export: the partitions, files, rows and bytes it wrote."""

    table: str
    partitioned: bool
    partitions: int = 0
    files: int = 0
    rows: int = 0
    bytes: int = 0


@dataclass(slots=True)
class ExportReport:
    """What ``ciscope export --parquet`` did. ``partitions_kept``: (day, job) partitions of the
    previous lake outside the export's window, carried over unchanged."""

    path: str
    schema_version: int
    tables: list[LakeTable] = field(default_factory=list)
    partitions_written: int = 0
    partitions_kept: int = 0
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0


# -- export ----------------------------------------------------------------------------------


def _tables(store: Store) -> dict[str, list[tuple[str, pa.DataType]]]:
    """Every table of the store to export, with its columns as Parquet types (a lake's tables
    are views: a lake exports as well)."""
    rows = store.query(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
        " JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema"
        " WHERE c.table_schema = current_schema() AND c.table_catalog = current_database()"
        " AND t.table_type IN ('BASE TABLE', 'VIEW')"
        " ORDER BY c.table_name, c.ordinal_position")
    tables: dict[str, list[tuple[str, pa.DataType]]] = {}
    for table, column, kind in rows:
        if table in EXCLUDED:
            continue
        base = str(kind).lower().split("(", 1)[0].strip()
        if base not in _TYPES:
            raise StoreError(f"{store.url}: column {table}.{column} has type {kind}, which the lake does not map")
        tables.setdefault(table, []).append((column, _TYPES[base]))
    return tables


def _batches(store: Store, sql: str, params: list[Any]) -> Iterator[pa.RecordBatch]:
    """Rows of a query in batches: streamed from DuckDB, whole from other engines."""
    if isinstance(store, DuckDBStore):
        relation = store.con.sql(sql, params=params or None)
        # DuckDB >= 1.4 renamed record_batch() to_arrow_reader()
        reader = (relation.to_arrow_reader(100_000) if hasattr(relation, "to_arrow_reader")
                  else relation.record_batch(100_000))  # type: ignore[operator]  # the older name
        yield from reader
    else:
        yield from store.query_arrow(sql, params).to_batches(max_chunksize=100_000)


class _Writer:
    """Writes the rows of one table, partition after partition (rows come sorted by them)."""

    def __init__(self, root: str, table: str, schema: pa.Schema, stat: LakeTable) -> None:
        self.root, self.table, self.schema, self.stat = root, table, schema, stat
        self.key: tuple[str, str] | None = None
        self.path = ""
        self.writer: pq.ParquetWriter | None = None

    def write(self, key: tuple[str, str] | None, data: pa.Table) -> None:
        if self.writer is None or key != self.key:
            self.close()
            parts = [self.root, self.table] + ([day_segment(key[0]), key[1]] if key else [])
            folder = os.path.join(*parts)
            os.makedirs(folder, exist_ok=True)
            self.path = os.path.join(folder, "part-0.parquet")
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
            self.key = key
            self.stat.partitions += key is not None
            self.stat.files += 1
        self.writer.write_table(data.cast(self.schema))
        self.stat.rows += data.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.stat.bytes += os.path.getsize(self.path)
            self.writer = None


def _lake_runs(store: Store, window: Window | None,
               partitions: set[Partition] | None = None) -> tuple[str, list[Any], bool]:
    """SQL of the runs to export (run_id, job, started_at): every run of each (day, job)
    holding a run of the window, or of the ``partitions`` named; whether only part of the
    store is selected."""
    if partitions is not None:
        ids = [rid for rid, job, day in store.query("SELECT run_id, job, CAST(started_at AS DATE) FROM runs")
               if (day, job) in partitions]
        marks, params = store.in_list(ids) if ids else ("NULL", [])
        return f"SELECT run_id, job, started_at FROM runs WHERE run_id IN ({marks})", params, True
    if window is None:
        return "SELECT run_id, job, started_at FROM runs", [], False
    if window.test is not None:
        raise UsageError("--test does not apply to export: a lake holds whole runs (use --job, --days, --since, "
                         "--until, --branch, --variant)")
    clauses, params = window.run_clauses(store, runs="r")
    if not clauses:
        return "SELECT run_id, job, started_at FROM runs", [], False
    sql = ("SELECT w.run_id, w.job, w.started_at FROM runs w WHERE EXISTS (SELECT 1 FROM runs r WHERE "
           + " AND ".join(clauses) + " AND r.job = w.job AND CAST(r.started_at AS DATE) = CAST(w.started_at AS DATE))")
    return sql, params, True


def _check_target(path: str) -> dict[str, Any] | None:
    """The manifest of the lake at ``path`` (None when there is none yet); refuses a path that
    is a file, or a folder that is not a lake (it would be replaced)."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--parquet {path}: no folder {parent}")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--parquet {path}: folder {parent} is not writable (the new lake is written beside the "
                         "old one, then renamed)")
    if not os.path.exists(path):
        return None
    if not os.path.isdir(path):
        raise UsageError(f"--parquet {path}: is a file; give a folder")
    manifest = os.path.join(path, MANIFEST)
    if os.path.isfile(manifest):
        try:
            return dict(orjson.loads(Path(manifest).read_bytes()))
        except (OSError, orjson.JSONDecodeError) as exc:
            raise UsageError(f"--parquet {path}: unreadable lake manifest {manifest}: {exc}") from None
    if os.listdir(path):
        raise UsageError(f"--parquet {path}: the folder is not empty and holds no ciscope lake ({MANIFEST}); "
                         "an export replaces its target, so give a new or empty folder")
    return None


def export_parquet(store: Store, path: str, window: Window | None = None,
                   progress: Callable[[int, int], None] | None = None, *, wait: float = 0.0) -> ExportReport:
    """Write the store (or the partitions of a window) as a Parquet lake at ``path``, atomically.
    One process writes a lake at a time (:func:`lake_lock`, waiting up to ``wait`` seconds)."""
    with lake_lock(path, wait=wait):
        return write_lake(store, path, window, progress)


def write_lake(store: Store, path: str, window: Window | None = None,
               progress: Callable[[int, int], None] | None = None, *,
               partitions: set[Partition] | None = None) -> ExportReport:
    """:func:`export_parquet` for a caller holding the lake's lock; ``partitions``: write
    those (day, job) partitions (an empty one is dropped from the lake) and keep the others."""
    from .schema import RUN_TABLES

    started = time.monotonic()
    old = _check_target(path)
    lake_runs, params, partial = _lake_runs(store, window, partitions)
    version = store.schema_version()
    if partial and old is not None and old.get("schema_version") != version:
        raise UsageError(f"--parquet {path}: the lake has schema version {old.get('schema_version')}, the store "
                         f"{version}; export the whole store (without a window) to replace it")
    tables = _tables(store)
    order = sorted(tables, key=lambda t: (t not in RUN_TABLES, t))
    report = ExportReport(path=path, schema_version=version)
    parent, name = os.path.split(os.path.abspath(path))
    staging = os.path.join(parent, f".{name}.export-{uuid.uuid4().hex[:12]}")
    os.mkdir(staging)
    try:
        counts = {t: _count(store, t, tables[t], lake_runs, params) for t in order}
        total, done = sum(counts.values()), 0
        if progress:
            progress(0, total)
        written: set[tuple[str, str]] = set()
        for table in order:
            columns = tables[table]
            schema = pa.schema(columns)
            partitioned = any(c == "run_id" for c, _ in columns)
            stat = LakeTable(table=table, partitioned=partitioned)
            writer = _Writer(staging, table, schema, stat)
            if partitioned:
                sql = (f"WITH lr AS ({lake_runs}) SELECT t.*, CAST(lr.started_at AS DATE) AS lake_day, lr.job AS lake_job"
                       f" FROM {table} t JOIN lr ON lr.run_id = t.run_id ORDER BY lake_day, lake_job")
                for batch in _batches(store, sql, params):
                    data = pa.Table.from_batches([batch])
                    days = pc.cast(data["lake_day"], pa.string()).to_pylist()
                    jobs = data["lake_job"].to_pylist()
                    data = data.drop_columns(["lake_day", "lake_job"])
                    start = 0
                    for i in range(1, len(days) + 1):
                        if i == len(days) or days[i] != days[start] or jobs[i] != jobs[start]:
                            key = (days[start], job_segment(jobs[start]))
                            written.add((day_segment(key[0]), key[1]))
                            writer.write(key, data.slice(start, i - start))
                            start = i
                    done += data.num_rows
                    if progress:
                        progress(done, total)
                writer.close()
                if stat.files == 0:  # an empty table still has its schema, for every reader
                    writer.write((None, job_segment(None)), schema.empty_table())  # type: ignore[arg-type]
                    writer.close()
                    stat.partitions = 0
            else:
                for batch in _batches(store, f"SELECT * FROM {table}", []):
                    writer.write(None, pa.Table.from_batches([batch]))
                    done += batch.num_rows
                    if progress:
                        progress(done, total)
                if stat.files == 0:
                    writer.write(None, schema.empty_table())
                writer.close()
            report.tables.append(stat)
        if partial and old is not None:
            dropped = {(day_segment(None if d is None else str(d)), job_segment(j)) for d, j in partitions or ()}
            report.partitions_kept = _keep_old(path, staging, written | dropped, tables)
        report.partitions_written = len(written)
        report.rows = sum(t.rows for t in report.tables)
        report.bytes = sum(t.bytes for t in report.tables)
        manifest = {"format": LAKE_FORMAT, "schema_version": version, "engine": store.name,
                    "exported_at": datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",
                    "partitioned_by": ["day", "job"], "excluded": sorted(EXCLUDED),
                    "tables": {t: {"partitioned": any(c == "run_id" for c, _ in tables[t]),
                                   "columns": [c for c, _ in tables[t]]} for t in order}}
        with open(os.path.join(staging, MANIFEST), "wb") as out:
            out.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        _swap(staging, os.path.abspath(path))
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write the lake {path}: {exc} (the previous lake, if any, is untouched)") from None
        raise
    report.seconds = round(time.monotonic() - started, 3)
    return report


@contextmanager
def lake_lock(path: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the lock of the lake at ``path`` (``flock`` on ``.NAME.lock`` beside it): one
    process writes a lake at a time — an export, or a command writing through
    :class:`~ciscope.store.lakewrite.LakeWriter` — waiting up to ``wait`` seconds for another."""
    parent, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{path}: no folder {parent}")
    lock = os.path.join(parent, f".{name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot write the lake {path}: cannot create its lock file {lock}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(f"the lake {path} is being written by another ciscope process (it holds {lock}); "
                                     "try again when it has finished (or give --wait SECONDS)") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


def _count(store: Store, table: str, columns: list[tuple[str, pa.DataType]], lake_runs: str, params: list[Any]) -> int:
    if any(c == "run_id" for c, _ in columns):
        return int(store.query(f"WITH lr AS ({lake_runs}) SELECT count(*) FROM {table} t JOIN lr ON lr.run_id = t.run_id",
                               params)[0][0])
    return int(store.query(f"SELECT count(*) FROM {table}")[0][0])


def _keep_old(path: str, staging: str, written: set[tuple[str, str]],
              tables: dict[str, list[tuple[str, pa.DataType]]]) -> int:
    """Hard-link the partitions of the previous lake that the export did not rewrite into the
    new lake; returns how many (day, job) partitions were kept."""
    kept: set[tuple[str, str]] = set()
    empty = (day_segment(None), job_segment(None))
    for table, columns in tables.items():
        if not any(c == "run_id" for c, _ in columns):
            continue
        root = os.path.join(path, table)
        if not os.path.isdir(root):
            continue
        kept_here: set[tuple[str, str]] = set()
        for day in os.listdir(root):
            for job in os.listdir(os.path.join(root, day)):
                key = (day, job)
                if key in written or key == empty:  # rewritten, or an empty table's schema file
                    continue
                source = os.path.join(root, day, job)
                target = os.path.join(staging, table, day, job)
                os.makedirs(target, exist_ok=True)
                for file in os.listdir(source):
                    try:
                        os.link(os.path.join(source, file), os.path.join(target, file))
                    except OSError:
                        shutil.copy2(os.path.join(source, file), os.path.join(target, file))
                kept.add(key)
                kept_here.add(key)
        placeholder = os.path.join(staging, table, *empty)
        if os.path.isdir(placeholder) and any(k[0] != empty[0] or k[1] != empty[1] for k in kept_here):
            shutil.rmtree(placeholder)  # the table has rows now: no schema-only file
            if not os.listdir(os.path.dirname(placeholder)):
                os.rmdir(os.path.dirname(placeholder))
    return len(kept)


_RENAME_EXCHANGE = 2


def _swap(staging: str, path: str) -> None:
    """Put the lake written at ``staging`` in place of ``path`` with one atomic rename (Linux
    ``renameat2(RENAME_EXCHANGE)`` when a lake is there already), then delete the old one."""
    if not os.path.exists(path):
        os.rename(staging, path)
        return
    libc_name = ctypes.util.find_library("c")
    renameat2 = getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None) if libc_name else None
    if renameat2 is not None and renameat2(-100, staging.encode(), -100, path.encode(), _RENAME_EXCHANGE) == 0:
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous lake
        return
    # no atomic exchange here (another OS, an old kernel): two renames, the lake is absent between them
    old = f"{staging}.old"
    os.rename(path, old)
    os.rename(staging, path)
    shutil.rmtree(old, ignore_errors=True)


# -- reading: the parquet:// engine -----------------------------------------------------------


def lake_path(url: str) -> str:
    """The folder of a ``parquet://`` URL: ``parquet:///lake`` (relative), ``parquet:////abs/lake``
    (absolute), as ``duckdb://``."""
    path = duckdb_path(url)
    if path == ":memory:":
        raise UsageError(f"{url}: expected parquet:///RELATIVE/DIR or parquet:////ABSOLUTE/DIR")
    return path


def read_manifest(path: str) -> dict[str, Any]:
    """The manifest of the lake at ``path`` (a clear error when there is none)."""
    manifest_file = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_file):
        raise StoreError(f"no lake at {path}: `ciscope export --parquet {path}` writes one"
                         + ("" if os.path.isdir(path) else " (no such folder)"))
    try:
        data = Path(manifest_file).read_bytes()
    except OSError as exc:
        raise StoreError(f"{manifest_file}: not a readable lake manifest: {exc}") from None
    return parse_manifest(data, manifest_file)


def parse_manifest(data: bytes | str, where: str) -> dict[str, Any]:
    """A lake manifest's text, checked (``where``: the file it came from, for the errors)."""
    try:
        manifest: dict[str, Any] = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"{where}: not a readable lake manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != LAKE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise StoreError(f"{where}: lake format {found!r}, this ciscope reads {LAKE_FORMAT}; export the store again")
    return manifest


def lake_select(path: str, table: str, spec: dict[str, Any], *, partition_columns: bool = False,
                columns: Sequence[str] | None = None, files: Sequence[str] | None = None) -> str:
    """DuckDB's SELECT of a lake table's ``columns`` (default: all) from its files, or from
    the ``files`` given (``read_parquet``, Hive partitions typed); ``partition_columns``: also
    the partition's ``lake_day`` and ``lake_job``."""
    names = ", ".join(f'"{c}"' for c in (spec["columns"] if columns is None else columns))
    where = os.path.join(os.path.abspath(path), table, "**" if spec["partitioned"] else "", "*.parquet")
    source = sql_string(where) if files is None else "[" + ", ".join(map(sql_string, files)) + "]"
    if not spec["partitioned"]:
        return f"SELECT {names} FROM read_parquet({source})"
    extra = ', "day" AS lake_day, "job" AS lake_job' if partition_columns else ""
    return (f"SELECT {names}{extra} FROM read_parquet({source}, hive_partitioning = true, "
            "hive_types = {'day': DATE, 'job': VARCHAR})")


def partition_files(path: str, table: str, partitions: Iterable[Partition]) -> list[str]:
    """The Parquet files of ``table`` in those (day, job) partitions of the lake at ``path``."""
    files = []
    for day, job in partitions:
        folder = os.path.join(path, table, day_segment(None if day is None else str(day)), job_segment(job))
        if os.path.isdir(folder):
            files += [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".parquet")]
    return files


class ReadOnlyLake:
    """What every engine over a lake shares: nothing is written (:data:`READ_ONLY`)."""



class ParquetStore(ReadOnlyLake, DuckDBStore):
    """``parquet:///DIR``: a lake written by ``ciscope export --parquet``, read in place by an
    in-memory DuckDB (one view per table over its Parquet files). Read-only."""

    name = "parquet"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = path = lake_path(url)
        self.read_only = True
        self.manifest = manifest = read_manifest(path)
        self.con = duckdb.connect(":memory:")
        try:
            for table, spec in manifest["tables"].items():
                self.con.execute(f'CREATE VIEW "{table}" AS {lake_select(path, table, spec)}')
        except duckdb.Error as exc:
            self.con.close()
            raise StoreError(f"cannot read the lake at {path}: {exc}") from None

    def execute(self, sql: str, params: Any = ()) -> None:
        if sql.lstrip().split(None, 1)[0].upper() not in ("SELECT", "WITH") and sql.strip() != self.SNAPSHOT_SQL:
            raise StoreError(READ_ONLY)  # (a read-only snapshot is no write: the server's readers take one)
        super().execute(sql, params)

    def begin(self) -> None:
        raise StoreError(READ_ONLY)

    def append(self, table: str, data: pa.Table) -> None:
        raise StoreError(READ_ONLY)

    def update_rows(self, table: str, data: pa.Table, *, key: str) -> None:
        raise StoreError(READ_ONLY)

    def migrate(self, upto: int | None = None) -> list[str]:
        raise StoreError(READ_ONLY)


