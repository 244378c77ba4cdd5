"""Small facts about what a store holds, asked by the CLI, the server, ingest and the
analyses: row counts, the stored jobs, whether a job or a run is stored, where a run came
from, a sample of failure texts."""

from __future__ import annotations

from ..store.base import Store

COUNTED_TABLES = ("jobs", "runs", "test_results", "test_verdicts")


def row_counts(store: Store) -> dict[str, int]:
    """Rows per main table (``ciscope db info``)."""
    return {t: int(store.query(f"SELECT count(*) FROM {t}")[0][0]) for t in COUNTED_TABLES}


def run_count(store: Store) -> int:
    return int(store.query("SELECT count(*) FROM runs")[0][0])


def runs_per_job(store: Store) -> dict[str, int]:
    return {str(job): int(n) for job, n in store.query("SELECT job, count(*) FROM runs GROUP BY job")}


def has_runs(store: Store) -> bool:
    return bool(store.query("SELECT 1 FROM runs LIMIT 1"))


def job_exists(store: Store, job: str) -> bool:
    return bool(store.query("SELECT 1 FROM jobs WHERE job = ?", [job]))


def job_names(store: Store) -> list[str]:
    """Every stored job, runs or not (an imported empty TestGrid tab is a job), by name."""
    return [row[0] for row in store.query("SELECT job FROM jobs ORDER BY job")]


def run_source(store: Store, job: str, build: str) -> tuple[bool, str | None]:
    """(whether the run is stored, the folder or file it was ingested from)."""
    rows = store.query("SELECT source FROM runs WHERE job = ? AND build = ?", (job, build))
    return (True, rows[0][0]) if rows else (False, None)


def failure_texts(store: Store, limit: int = 5000) -> list[str]:
    """A sample of stored failure texts (message, else the full text) of failed test results."""
    rows = store.query("SELECT failure_message, failure_text FROM test_results "
                       "WHERE status IN ('failed', 'error') LIMIT ?", [limit])
    return [m or t or "" for m, t in rows]
