"""One source of the store's tables: the Arrow schema of every table ingest writes, which
tables hold a run's rows, and the SQL migrations (``migrations/NNNN_name.sql``, plus
``NNNN_name.<engine>.sql`` for engine-only steps such as row-store indexes)."""

from __future__ import annotations

import re
from importlib import resources

import pyarrow as pa

from .disruption import RUN_TABLES as DISRUPTION_TABLES

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("job", pa.string()),
        ("build", pa.string()),
        ("status", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        ("commit_sha", pa.string()),
        ("branch", pa.string()),
        ("pr", pa.string()),
        ("worker", pa.string()),
        ("url", pa.string()),
        ("variants", pa.string()),
        ("metadata", pa.string()),
        ("reason", pa.string()),
        ("source", pa.string()),
        ("logs", pa.string()),
        ("tests", pa.int32()),
        ("failed_tests", pa.int32()),
        ("flaked_tests", pa.int32()),
        ("ingested_at", pa.timestamp("us")),
    ]
)
RESULTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("test", pa.string()),
        ("name", pa.string()),
        ("classname", pa.string()),
        ("suite", pa.string()),
        ("attempt", pa.int32()),
        ("status", pa.string()),
        ("duration", pa.float64()),
        ("failure_type", pa.string()),
        ("failure_message", pa.string()),
        ("failure_text", pa.string()),
        ("file", pa.string()),
    ]
)
VERDICTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("job", pa.string()),
        ("test", pa.string()),
        ("verdict", pa.string()),
        ("attempts", pa.int32()),
        ("duration", pa.float64()),
        ("started_at", pa.timestamp("us")),
    ]
)
MATCHES_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()),
        ("bug", pa.string()),
        ("test", pa.string()),
        ("file", pa.string()),
        ("line", pa.int32()),
        ("text", pa.string()),
        ("matched_at", pa.timestamp("us")),
    ]
)
EXPLANATIONS_SCHEMA = pa.schema([("run_id", pa.int64()), ("test", pa.string()), ("bug", pa.string())])
RUN_VARIANTS_SCHEMA = pa.schema([("run_id", pa.int64()), ("key", pa.string()), ("value", pa.string())])
RUN_EVENTS_SCHEMA = pa.schema([("run_id", pa.int64()), ("event", pa.string()), ("emitted_at", pa.timestamp("us")),
                               ("received_at", pa.timestamp("us")), ("worker", pa.string()),
                               ("device_group", pa.string()), ("requestor", pa.string()), ("iteration", pa.int32())])
#: ``jobs``: one row per job (ingest merges a batch's jobs into it: Store._upsert_jobs)
JOBS_SCHEMA = pa.schema([("job", pa.string()), ("variants", pa.string()), ("first_seen", pa.timestamp("us")),
                         ("last_seen", pa.timestamp("us"))])
SCHEMAS = {"jobs": JOBS_SCHEMA, "runs": RUNS_SCHEMA, "test_results": RESULTS_SCHEMA, "test_verdicts": VERDICTS_SCHEMA,
           "matches": MATCHES_SCHEMA, "explanations": EXPLANATIONS_SCHEMA, "run_variants": RUN_VARIANTS_SCHEMA,
           "run_events": RUN_EVENTS_SCHEMA}
#: Tables holding rows of a run (deleted with it, written with it), children before ``runs``.
#: ``run_phases`` and ``run_event_summary`` are derived from ``run_events`` (store/run_timing.py).
RUN_TABLES = ("run_phases", "run_event_summary", "run_events", "matches", "explanations", "run_variants", *DISRUPTION_TABLES, "test_verdicts", "test_results",
              "runs")


def migrations(engine: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration for an engine, in order."""
    found = []
    folder = resources.files("ciscope.store") / "migrations"
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+?)(?:\.(\w+))?\.sql", entry.name)
        if not match or (match.group(3) and match.group(3) != engine):
            continue
        found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def split_sql(script: str) -> list[str]:
    """Statements of a migration script (no semicolons inside our statements)."""
    body = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [part.strip() for part in body.split(";") if part.strip()]


def latest_version(engine: str) -> int:
    """The schema version this code brings a store to (its newest migration)."""
    return max((version for version, _, _ in migrations(engine)), default=0)
