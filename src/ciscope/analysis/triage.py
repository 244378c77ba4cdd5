"""Reports over known failures: triage of one run, top bugs, unclassified runs, clusters.

All read the store only (matches were found at ingest or by ``reclassify``):

- :func:`triage` — one run: its failed tests, the bugs matched with evidence, what remains
  unexplained, and elastic-recheck's advice;
- :func:`bugs` — per fingerprint: hits (distinct failed runs) in the last 24 h, 7 d, 10 d and
  all time, share of failed runs, jobs, first/last seen, an hourly series;
- :func:`unclassified` — failed runs no fingerprint explains, and the classification rate
  overall and per job (elastic-recheck's "uncategorized" page);
- :func:`failure_clusters` — clusters of the test failures nobody has explained yet, each
  with a suggested fingerprint (Kubernetes triage).

A failed test is **explained** by the one rule of :mod:`ciscope.queries.explained` (read from
the ``explanations`` table). A failed run is **classified** when
some fingerprint matched it (elastic-recheck counts runs, not tests).

Time windows end at ``now``: by default the start of the newest run in the store, so that a
history that stopped (a demo, an export) still reads sensibly; pass ``now`` for wall-clock.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import orjson

from ..errors import NotFoundError, UsageError
from ..queries.window import Window, naive_utc, now
from ..store.base import Store

FAILED = ("failure", "error")
WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("10d", timedelta(days=10)))


def _end(store: Store, window: Window) -> datetime | None:
    """Where the report's time windows end: ``--until``, else the one "now" of the store."""
    return naive_utc(window.until) or now(store)


# ---------------------------------------------------------------------------- triage

def find_run(store: Store, ref: str, job: str | None = None) -> dict[str, Any]:
    """The run named by ``ref``: a build id (with ``job`` when several jobs have it),
    ``JOB/BUILD``, or a numeric run_id."""
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


def triage(store: Store, ref: str, *, job: str | None = None) -> dict[str, Any]:
    """What made one run fail: failures with their bugs and evidence, the unexplained rest,
    and the advice elastic-recheck's bot would give. A run that failed outside its tests with
    no known bug matching gets ``log_reason``: the failure lines of its main log
    (:func:`ciscope.ingest.logs.log_reason`). ``incomplete``: the reports left out of the run
    (``[{file, reason}]``), else null. ``reason``: the run's structured failure reason
    (:mod:`ciscope.analysis.failure_reason`; null when the run did not fail)."""
    run = find_run(store, ref, job)
    rid = run["run_id"]
    failed = [t for (t,) in store.query(
        "SELECT test FROM test_verdicts WHERE run_id = ? AND verdict IN ('failed', 'error') ORDER BY test", (rid,))]
    flaked = [t for (t,) in store.query(
        "SELECT test FROM test_verdicts WHERE run_id = ? AND verdict = 'flaky' ORDER BY test", (rid,))]
    messages: dict[str, str] = {}
    for test, message, text in store.query(
            "SELECT test, failure_message, failure_text FROM test_results WHERE run_id = ?"
            " AND status IN ('failed', 'error') ORDER BY test, attempt", (rid,)):
        messages.setdefault(test, (message or text or "").strip().split("\n", 1)[0][:500])
    evidence = store.query_dicts("SELECT bug, test, file, line, text FROM matches WHERE run_id = ?"
                                 " ORDER BY bug, test, file, line", (rid,))
    explained: dict[str, set[str]] = defaultdict(set)  # test -> bugs (queries.explained's rule)
    for test, bug in store.query("SELECT test, bug FROM explanations WHERE run_id = ?", (rid,)):
        explained[test].add(bug)
    per_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    run_level: list[dict[str, Any]] = []
    for e in evidence:
        (per_test[e["test"]] if e["test"] is not None else run_level).append(e)
    failures = []
    unexplained = []
    for test in failed:
        bugs_here = sorted(explained.get(test, ()))
        items = [e for e in per_test.get(test, []) if e["bug"] in bugs_here]
        direct = {e["bug"] for e in items}  # a bug explaining the test by a log match shows that line
        items += [e for e in run_level if e["bug"] in bugs_here and e["bug"] not in direct]
        failures.append({"test": test, "message": messages.get(test, ""), "bugs": bugs_here,
                         "evidence": [_evidence(e) for e in items]})
        if not bugs_here:
            unexplained.append(test)
    all_bugs = sorted({e["bug"] for e in evidence})
    titles = dict(store.query("SELECT bug, title FROM fingerprints"))
    retry = {bug for (bug,) in store.query("SELECT bug FROM fingerprints WHERE retry")}
    status = run["status"]
    from ..queries.failure_reasons import failure_reasons

    structured = failure_reasons(store, [rid]).get(rid)
    reason = structured.to_dict() if structured is not None else None
    if status not in FAILED:
        advice = ("run did not fail" + (f"; {len(flaked)} test(s) flaked" if flaked else "")
                  + (f"; known bugs seen: {', '.join(all_bugs)}" if all_bugs else "") + ": nothing to triage")
    elif not failed:
        advice = (f"the job failed outside its tests and matches known bug(s) {', '.join(all_bugs)}: safe to recheck"
                  if all_bugs else "the job failed outside its tests and no known bug matches: look at the build log")
    elif not unexplained:
        advice = f"all failures explained by known bugs ({', '.join(all_bugs)}): safe to recheck"
        if all_bugs and set(all_bugs) <= retry:
            advice += " (every bug is marked retry)"
    elif len(unexplained) < len(failed):
        advice = (f"{len(failed) - len(unexplained)} of {len(failed)} failures explained by known bugs "
                  f"({', '.join(all_bugs)}); {len(unexplained)} unexplained: look at them before rechecking")
    else:
        advice = (f"no known bug explains these {len(failed)} failures"
                  + (f" (bugs seen in the logs: {', '.join(all_bugs)})" if all_bugs else "")
                  + ": it may be your change or a new problem; see `ciscope clusters`")
    source, logs, metadata = store.query("SELECT source, logs, metadata FROM runs WHERE run_id = ?", (rid,))[0]
    metadata = orjson.loads(metadata) if metadata else {}
    log_reason = None
    if status in FAILED and not failed and not all_bugs:
        # a failure outside the tests that no known bug explains: the log's failure lines
        from ..ingest.logs import log_reason as read_log_reason

        log_reason = read_log_reason(source, orjson.loads(logs) if logs else [])
        if log_reason is not None:
            advice += f" (its failure lines: {log_reason['file']} lines {log_reason['start']}-{log_reason['end']})"
    incomplete = metadata.get("refused") if metadata.get("incomplete") else None
    return {
        "job": run["job"], "build": run["build"], "run_id": rid, "status": status,
        "started_at": run["started_at"], "commit": run["commit_sha"], "url": run["url"],
        "failures": failures, "flaked": flaked,
        "bugs": all_bugs, "bug_titles": {b: titles.get(b) or "" for b in all_bugs},
        "run_evidence": [_evidence(e) for e in run_level],
        "unexplained": unexplained, "reason": reason, "advice": advice,
        "log_reason": log_reason, "incomplete": incomplete,
    }


def _evidence(e: dict[str, Any]) -> dict[str, Any]:
    return {"bug": e["bug"], "test": e["test"], "file": e["file"], "line": e["line"], "text": e["text"]}


# ---------------------------------------------------------------------------- bugs

def bugs(store: Store, *, window: Window | None = None, days: int = 10) -> list[dict[str, Any]]:
    """One object per fingerprint (stored definitions, plus bugs with matches but no stored
    definition), most hits in the last ``days`` first, over the failed runs of ``window``
    (its time bounds included: the 24 h / 7 d / 10 d counts and the series end at its end)."""
    window = window or Window()
    end = _end(store, window)
    where, params = window.where(store, extra=["r.status IN ('failure', 'error')"])
    rows = store.query(
        f"SELECT DISTINCT m.bug, m.run_id, r.job, r.started_at FROM matches m JOIN runs r ON r.run_id = m.run_id{where}",
        params)
    (failed_runs,) = store.query(f"SELECT count(*) FROM runs r{where}", params)[0]
    defs = {row["bug"]: row for row in store.query_dicts("SELECT bug, title, url, retry FROM fingerprints")}
    hits: dict[str, dict[int, tuple[str, datetime | None]]] = defaultdict(dict)
    for bug, rid, j, started in rows:
        hits[bug][rid] = (j, started)
    out = []
    hours = days * 24
    for bug in sorted(set(defs) | set(hits)):
        runs = hits.get(bug, {})
        times = [t for _, t in runs.values() if t is not None]
        counts: dict[str, int] = {}
        for name, span in WINDOWS:
            counts[name] = sum(1 for t in times if end is not None and end - span < t <= end)
        series = [0] * hours
        if end is not None and hours:
            top = end.replace(minute=0, second=0, microsecond=0)
            start = top - timedelta(hours=hours - 1)
            for t in times:
                slot = int((t - start).total_seconds() // 3600)
                if 0 <= slot < hours:
                    series[slot] += 1
        d = defs.get(bug, {})
        out.append({
            "bug": bug, "title": d.get("title") or "", "url": d.get("url") or "", "retry": bool(d.get("retry")),
            "defined": bug in defs,
            "hits": {**counts, "all": len(runs)},
            "share": round(len(runs) / failed_runs, 4) if failed_runs else 0.0,
            "jobs": sorted({j for j, _ in runs.values()}),
            "first_seen": min(times) if times else None, "last_seen": max(times) if times else None,
            "hourly": {"start": (end.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1))
                       if end is not None else None, "counts": series},
        })
    out.sort(key=_bug_rank)
    return out


def _bug_rank(b: dict[str, Any]) -> tuple[int, int, str]:
    """Most hits in the series first, then most hits of all time, then by id."""
    return -sum(b["hourly"]["counts"]), -b["hits"]["all"], b["bug"]


# ---------------------------------------------------------------------------- unclassified

def unclassified(store: Store, *, window: Window | None = None, limit: int | None = None) -> dict[str, Any]:
    """Failed runs of ``window`` with no known-bug match, newest first, and the classification rate."""
    window = window or Window()
    where, params = window.where(store, extra=["r.status IN ('failure', 'error')"])
    rows = store.query_dicts(
        "SELECT r.run_id, r.job, r.build, r.status, r.started_at, r.failed_tests, r.reason,"
        " CASE WHEN EXISTS (SELECT 1 FROM matches m WHERE m.run_id = r.run_id) THEN 1 ELSE 0 END AS classified"
        f" FROM runs r{where} ORDER BY r.started_at DESC, r.job, r.build", params)
    per_job: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    runs = []
    for row in rows:
        counts = per_job[row["job"]]
        counts[0] += 1
        counts[1] += row["classified"]
        if not row["classified"]:
            reason = orjson.loads(row["reason"]) if row["reason"] else {}
            runs.append({"job": row["job"], "build": row["build"], "status": row["status"],
                         "started_at": row["started_at"], "failed_tests": row["failed_tests"],
                         "component": reason.get("component"), "message": reason.get("message"),
                         "cluster": reason.get("cluster")})
    total = len(rows)
    classified = sum(c[1] for c in per_job.values())
    return {
        "failed_runs": total, "classified": classified, "unclassified": total - classified,
        "classification_rate": round(classified / total, 4) if total else None,
        "jobs": [{"job": j, "failed_runs": n, "classified": c, "classification_rate": round(c / n, 4)}
                 for j, (n, c) in sorted(per_job.items())],
        "runs": runs[:limit] if limit is not None else runs,
    }


# ---------------------------------------------------------------------------- clusters

def unexplained_failures(store: Store, *, window: Window | None = None,
                         include_known: bool = False) -> list[dict[str, Any]]:
    """One record per failed (run, test) no fingerprint explains: its first failed attempt's
    text (message, else output), with run, job, test and time, for :func:`clusters.cluster`.
    Infrastructure runs without test results have nothing to cluster."""
    window = window or Window()
    where, params = window.where(store, extra=["t.status IN ('failed', 'error')"], test="t.test")
    rows = store.query(
        "SELECT t.run_id, r.job, r.build, t.test, t.attempt, t.failure_message, t.failure_text, r.started_at"
        f" FROM test_results t JOIN runs r ON r.run_id = t.run_id{where} ORDER BY t.run_id, t.test, t.attempt", params)
    explained: set[tuple[int, str]] = set()
    if not include_known:
        explained = {(rid, test) for rid, test in store.query("SELECT DISTINCT run_id, test FROM explanations")}
    out = []
    last = None
    for rid, j, build, test, _attempt, message, text, started in rows:
        if (rid, test) == last:
            continue
        last = (rid, test)
        if (rid, test) in explained:
            continue
        out.append({"run": rid, "job": j, "build": build, "test": test, "time": started,
                    "text": message or text or ""})
    return out


def failure_clusters(store: Store, *, window: Window | None = None, top: int | None = 50, min_size: int = 1,
                     suggest: bool = True, include_known: bool = False) -> dict[str, Any]:
    """Clusters of unexplained test failures, largest first, with suggested fingerprints.

    A failure without any text (no message, no output: TestGrid dumps, some runners) says
    nothing about its cause: it joins no cluster and is counted in ``without_text``."""
    from .clusters import cluster

    failures = unexplained_failures(store, window=window, include_known=include_known)
    with_text = [f for f in failures if f["text"].strip()]
    clusters = [c for c in cluster(with_text, suggest=suggest) if c.size >= min_size]
    builds = {f["run"]: (f["job"], f["build"]) for f in failures}
    shown = clusters[:top] if top is not None else clusters
    out = []
    for c in shown:
        d = c.to_dict()
        d["group_ids"] = c.group_ids
        d["top_tests"] = _top({m[2] for m in c.members}, [m[2] for m in c.members])
        d["job_names"] = sorted({m[1] for m in c.members if m[1] is not None})
        latest = max(c.members, key=lambda m: (m[3] is not None, m[3] or datetime.min))
        d["latest_run"] = {"job": builds[latest[0]][0], "build": builds[latest[0]][1]}
        out.append(d)
    return {"failures": len(failures), "without_text": len(failures) - len(with_text), "clusters": len(clusters),
            "shown": len(out), "items": out}


def _top(names: set[str], values: list[str], n: int = 5) -> list[dict[str, Any]]:
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    return [{"test": t, "failures": k} for t, k in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:n]]
