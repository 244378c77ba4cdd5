"""Small facts about what a store holds, asked by the CLI, the server, ingest and the
analyses: row counts, the stored jobs, whether a job is stored or has runs, which run a
reference names, where a run came from, which jobs and runs have lifecycle events, a sample
of failure texts."""

from __future__ import annotations

from typing import Any

from ..errors import NotFoundError, UsageError
from ..store.base import Store
from . import rules

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
    """Whether ``job`` is stored, runs or not (an imported empty TestGrid tab is a job):
    what a job's TestGrid summary needs."""
    return bool(store.query("SELECT 1 FROM jobs WHERE job = ?", [job]))


def job_has_runs(store: Store, job: str) -> bool:
    """Whether ``job`` has a stored run: what every report of a job's runs needs (a job
    without runs is "no such job" to them, though :func:`job_exists`)."""
    return bool(store.query("SELECT 1 FROM runs WHERE job = ? LIMIT 1", [job]))


def job_names(store: Store) -> list[str]:
    """Every stored job, runs or not (an imported empty TestGrid tab is a job), by name."""
    return [row[0] for row in store.query("SELECT job FROM jobs ORDER BY job")]


def find_run(store: Store, ref: str, job: str | None = None) -> dict[str, Any]:
    """The run named by ``ref``: a build id (with ``job`` when several jobs have it),
    ``JOB/BUILD``, or a numeric run_id (``triage``, ``disruption check``)."""
    rows: list[dict[str, Any]] = []
    cols = "run_id, job, build, status, started_at, finished_at, commit_sha, url, reason, failed_tests, flaked_tests"
    if job is not None:
        rows = store.query_dicts(f"SELECT {cols} FROM runs WHERE job = ? AND build = ?", (job, ref))
    else:
        rows = store.query_dicts(f"SELECT {cols} FROM runs WHERE build = ?", (ref,))
        if not rows and "/" in ref:
            j, _, b = ref.rpartition("/")
            rows = store.query_dicts(f"SELECT {cols} FROM runs WHERE job = ? AND build = ?", (j, b))
        if not rows and ref.lstrip("-").isdigit():
            rows = store.query_dicts(f"SELECT {cols} FROM runs WHERE run_id = ?", (int(ref),))
    if not rows:
        raise NotFoundError(f"{ref}: no such run (give a build id, JOB/BUILD or a run_id; see `ciscope runs`)")
    if len(rows) > 1:
        jobs = ", ".join(sorted(r["job"] for r in rows))
        raise UsageError(f"{ref}: several jobs have this build ({jobs}); say which with --job")
    return rows[0]


def run_source(store: Store, job: str, build: str) -> tuple[bool, str | None]:
    """(whether the run is stored, the folder or file it was ingested from)."""
    rows = store.query("SELECT source FROM runs WHERE job = ? AND build = ?", (job, build))
    return (True, rows[0][0]) if rows else (False, None)


def jobs_with_events(store: Store) -> list[str]:
    """Jobs with a run that has lifecycle events, by name."""
    return [r[0] for r in store.query(
        "SELECT DISTINCT r.job FROM runs r WHERE r.run_id IN (SELECT DISTINCT run_id FROM run_events) ORDER BY r.job")]


def has_events(store: Store, run_id: int) -> bool:
    """Whether a run has lifecycle events."""
    return bool(store.query("SELECT count(*) FROM run_events WHERE run_id = ?", (run_id,))[0][0])


def failure_texts(store: Store, limit: int = 5000) -> list[str]:
    """A sample of stored failure texts (message, else the full text) of failed test results."""
    rows = store.query(f"SELECT failure_message, failure_text FROM test_results WHERE {rules.failed_status()}"
                       " LIMIT ?", [limit])
    return [m or t or "" for m, t in rows]
