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

No SQL here: the store is read through :mod:`ciscope.queries.triage`, the run reference is
resolved by :func:`ciscope.queries.facts.find_run` and the explained failures come from
:mod:`ciscope.queries.explained`; this module turns what they return into the reports.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from ..model import Evidence
from ..queries.explained import explained_pair_set, explaining_bugs
from ..queries.facts import find_run
from ..queries.known import stored_fingerprints
from ..queries.triage import (
    bug_hits,
    failed_run_count,
    failed_runs,
    failure_text_by_test,
    first_failed_attempts,
    run_logs,
    run_matches,
    run_tests,
)
from ..queries.window import Window, naive_utc, now
from ..status import FAILED_RUN_STATUSES
from ..store.base import Store

FAILED = FAILED_RUN_STATUSES
WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("10d", timedelta(days=10)))


def _end(store: Store, window: Window) -> datetime | None:
    """Where the report's time windows end: ``--until``, else the one "now" of the store."""
    return naive_utc(window.until) or now(store)


# ---------------------------------------------------------------------------- triage

def triage(store: Store, ref: str, *, job: str | None = None) -> dict[str, Any]:
    """What made one run fail: failures with their bugs and evidence, the unexplained rest,
    and the advice elastic-recheck's bot would give. A run that failed outside its tests with
    no known bug matching gets ``log_reason``: the failure lines of its main log
    (:func:`ciscope.ingest.logs.log_reason`). ``incomplete``: the reports left out of the run
    (``[{file, reason}]``), else null. ``reason``: the run's structured failure reason
    (:mod:`ciscope.analysis.failure_reason`; null when the run did not fail)."""
    run = find_run(store, ref, job)
    rid = run["run_id"]
    tests = run_tests(store, rid)
    failed, flaked = tests.failed, tests.flaked
    texts = failure_text_by_test(store, rid)
    evidence = run_matches(store, rid)
    explained = explaining_bugs(store, rid)
    per_test: dict[str, list[Evidence]] = defaultdict(list)
    run_level: list[Evidence] = []
    for e in evidence:
        (per_test[e.test] if e.test is not None else run_level).append(e)
    failures = []
    unexplained = []
    for test in failed:
        bugs_here = sorted(explained.get(test, ()))
        items = [e for e in per_test.get(test, []) if e.bug in bugs_here]
        direct = {e.bug for e in items}  # a bug explaining the test by a log match shows that line
        items += [e for e in run_level if e.bug in bugs_here and e.bug not in direct]
        message = texts.get(test, "").strip().split("\n", 1)[0][:500]
        failures.append({"test": test, "message": message, "bugs": bugs_here,
                         "evidence": [_evidence(e) for e in items]})
        if not bugs_here:
            unexplained.append(test)
    all_bugs = sorted({e.bug for e in evidence})
    definitions = stored_fingerprints(store)
    retry = {bug for bug, d in definitions.items() if d.retry}
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
    stored = run_logs(store, rid)
    log_reason = None
    if status in FAILED and not failed and not all_bugs:
        # a failure outside the tests that no known bug explains: the log's failure lines
        from ..ingest.logs import log_reason as read_log_reason

        log_reason = read_log_reason(stored.source, stored.logs)
        if log_reason is not None:
            advice += f" (its failure lines: {log_reason['file']} lines {log_reason['start']}-{log_reason['end']})"
    incomplete = stored.metadata.get("refused") if stored.metadata.get("incomplete") else None
    return {
        "job": run["job"], "build": run["build"], "run_id": rid, "status": status,
        "started_at": run["started_at"], "commit": run["commit_sha"], "url": run["url"],
        "failures": failures, "flaked": flaked,
        "bugs": all_bugs, "bug_titles": {b: definitions[b].title or "" if b in definitions else "" for b in all_bugs},
        "run_evidence": [_evidence(e) for e in run_level],
        "unexplained": unexplained, "reason": reason, "advice": advice,
        "log_reason": log_reason, "incomplete": incomplete,
    }


def _evidence(e: Evidence) -> dict[str, Any]:
    return {"bug": e.bug, "test": e.test, "file": e.file, "line": e.line, "text": e.text}


# ---------------------------------------------------------------------------- bugs

def bugs(store: Store, *, window: Window | None = None, days: int = 10) -> list[dict[str, Any]]:
    """One object per fingerprint (stored definitions, plus bugs with matches but no stored
    definition), most hits in the last ``days`` first, over the failed runs of ``window``
    (its time bounds included: the 24 h / 7 d / 10 d counts and the series end at its end)."""
    window = window or Window()
    end = _end(store, window)
    hits: dict[str, dict[int, tuple[str, datetime | None]]] = defaultdict(dict)
    for hit in bug_hits(store, window):
        hits[hit.bug][hit.run_id] = (hit.job, hit.started_at)
    failed = failed_run_count(store, window)
    defs = stored_fingerprints(store)
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
        d = defs.get(bug)
        out.append({
            "bug": bug, "title": d.title or "" if d else "", "url": d.url or "" if d else "", "retry": bool(d.retry) if d else False,
            "defined": d is not None,
            "hits": {**counts, "all": len(runs)},
            "share": round(len(runs) / failed, 4) if failed else 0.0,
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
    rows = failed_runs(store, window)
    per_job: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    runs = []
    for row in rows:
        counts = per_job[row.job]
        counts[0] += 1
        counts[1] += row.classified
        if not row.classified:
            runs.append({"job": row.job, "build": row.build, "status": row.status,
                         "started_at": row.started_at, "failed_tests": row.failed_tests,
                         "component": row.reason.get("component"), "message": row.reason.get("message"),
                         "cluster": row.reason.get("cluster")})
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
    explained = set() if include_known else explained_pair_set(store)
    return [{"run": f.run_id, "job": f.job, "build": f.build, "test": f.test, "time": f.started_at, "text": f.text}
            for f in first_failed_attempts(store, window) if (f.run_id, f.test) not in explained]


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
