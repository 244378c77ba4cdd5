"""Detector quality against the demo's ground truth (several seeds).

For each seed: generate the demo history (cached in benchmarks/_data), ingest it into a fresh
DuckDB, run ``flaky`` and ``regressions`` with their defaults, and compare with truth.json:

- flaky: precision and recall of verdict ``flaky`` against truth ``flaky``, separately for jobs
  with retries and jobs without;
- regressions: precision and recall of reported (job, test) against truth ``regressions``,
  and how often
  ``first_bad_build`` is exactly right;
- known bugs: the demo's fingerprint directory (one file per true bug) is used at ingest;
  per failed (run, test), precision and recall of "explained by bug X" against truth causes
  ``bug:X``, and the classification rate of failed runs;
- clusters: purity of the clusters of unexplained failures (share of members whose true cause
  is their cluster's majority cause) and how many clusters each true unknown family spans.

Usage: python benchmarks/quality.py [--seeds 1 2 3] [--json]
Also imported by tests/analysis/test_quality.py, which asserts floors on these numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
END = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _ratio(good: int, total: int) -> float:
    return good / total if total else 1.0


def evaluate(seed: int, workdir: Path, *, runs_per_job: int = 200) -> dict[str, Any]:
    from ciscope.analysis.flakes import flaky_tests
    from ciscope.analysis.known import prepare
    from ciscope.analysis.regressions import regressions
    from ciscope.demo import generate, write_fingerprints
    from ciscope.ingest.batch import ingest
    from ciscope.store import connect

    out = workdir / f"demo-seed{seed}-{runs_per_job}"
    truth_file = out / "truth.json"
    if truth_file.exists():
        truth = json.loads(truth_file.read_text())
    else:
        truth = generate(out, seed=seed, end=END, runs_per_job=runs_per_job)
    db = workdir / f"quality-seed{seed}-{runs_per_job}.duckdb"
    for suffix in ("", ".wal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = connect(f"duckdb:///{db}")
    if not (out / "fingerprints").is_dir():
        write_fingerprints(truth, out / "fingerprints")
    classifier, _, rejected = prepare(store, out / "fingerprints")
    assert not rejected, rejected
    report = ingest(store, [out], classifier=classifier)
    assert not report.refused, report.refused[:3]

    retry_jobs = {job for job, info in truth["jobs"].items() if info["retries"]}
    true_flaky = {(f["job"], f["test"]) for f in truth["flaky"]}
    # the tests' own flakiness: failures explained by known bugs left out (they are the bug's)
    found = {(r["job"], r["test"]) for r in flaky_tests(store, only_flaky=True, exclude_known=True)}
    flaky: dict[str, Any] = {}
    for kind, jobs in (("retries", retry_jobs), ("no_retries", set(truth["jobs"]) - retry_jobs)):
        t = {x for x in true_flaky if x[0] in jobs}
        f = {x for x in found if x[0] in jobs}
        flaky[kind] = {
            "true": len(t), "found": len(f), "correct": len(t & f),
            "precision": _ratio(len(t & f), len(f)), "recall": _ratio(len(t & f), len(t)),
            "false_positives": sorted(f - t)[:10], "missed": sorted(t - f)[:10],
        }

    # flakes with a known cause: reported by default, each with the bugs that explain it
    targets = {(job, test): bug_id for bug_id, bug in truth["bugs"].items() for job in bug["jobs"] for test in bug["tests"]}
    with_bugs = [r for r in flaky_tests(store, only_flaky=True) if r["known_bugs"]]
    right = sum(1 for r in with_bugs if targets.get((r["job"], r["test"])) in r["known_bugs"])
    flaky["known_cause"] = {"reported": len(with_bugs), "attributed_right": right,
                            "precision": _ratio(right, len(with_bugs)),
                            "own_flakes_marked_known": sorted((r["job"], r["test"]) for r in with_bugs
                                                              if (r["job"], r["test"]) in true_flaky)[:10]}

    rows = regressions(store)
    # Every demo regression starts at 40–80 % of the history and is never fixed, so each one
    # is visible in the default sample window (the last 7 days) against its basis.
    true_reg = {(r["job"], r["test"]): r["first_bad_build"] for r in truth["regressions"]}
    # `shared_cause` rows are reported as the cluster's drop, not the test's (see docs/regressions.md)
    reported = {(r["job"], r["test"]): r["first_bad_build"] for r in rows if r["status"] != "shared_cause"}
    correct = set(true_reg) & set(reported)
    exact = sum(1 for key in correct if reported[key] == true_reg[key])
    regress = {
        "true": len(true_reg), "found": len(reported), "correct": len(correct),
        "precision": _ratio(len(correct), len(reported)), "recall": _ratio(len(correct), len(true_reg)),
        "first_bad_build_exact": _ratio(exact, len(correct)),
        "false_positives": sorted(set(reported) - set(true_reg))[:10],
        "missed": sorted(set(true_reg) - set(reported))[:10],
        "wrong_first_bad_build": sorted((k, reported[k], true_reg[k]) for k in correct if reported[k] != true_reg[k])[:10],
    }
    known = known_bug_quality(store, truth)
    store.close()
    return {"seed": seed, "results": report.results, "flaky": flaky, "regressions": regress, **known}


def known_bug_quality(store: Any, truth: dict[str, Any]) -> dict[str, Any]:
    """Fingerprint matches per failure against truth causes; purity of unexplained clusters."""
    from collections import Counter, defaultdict

    from ciscope.analysis.triage import failure_clusters, unclassified
    from ciscope.model import run_id

    cause = {(run_id(f["job"], f["build"]), f["test"]): f["cause"] for f in truth["failures"]}
    predicted: dict[tuple[int, str], set[str]] = defaultdict(set)
    for rid, bug, test in store.query("SELECT run_id, bug, test FROM matches WHERE test IS NOT NULL"):
        predicted[(rid, test)].add(bug)
    true_bug = {k for k, c in cause.items() if c.startswith("bug:")}
    pred_pairs = {(k, b) for k, bugs in predicted.items() for b in bugs}
    true_pairs = {(k, cause[k][4:]) for k in true_bug}
    correct = pred_pairs & true_pairs
    rate = unclassified(store)
    clusters = failure_clusters(store, top=None, suggest=False)["items"]
    # members of every cluster (not only the shown fields): recompute with members
    from ciscope.analysis.clusters import cluster
    from ciscope.analysis.triage import unexplained_failures

    groups = cluster(unexplained_failures(store), suggest=False)
    members = total = pure = 0
    spans: dict[str, set[str]] = defaultdict(set)
    for c in groups:
        causes = Counter(cause.get((m[0], m[2]), "none") for m in c.members)
        pure += causes.most_common(1)[0][1]
        total += c.size
        for m in c.members:
            label = cause.get((m[0], m[2]), "none")
            if label.startswith("unknown:"):
                spans[label].add(c.id)
    members = total
    return {
        "known_bugs": {
            "true": len(true_pairs), "found": len(pred_pairs), "correct": len(correct),
            "precision": _ratio(len(correct), len(pred_pairs)), "recall": _ratio(len(correct), len(true_pairs)),
            "false_positives": sorted(pred_pairs - true_pairs, key=str)[:5],
            "missed": sorted(true_pairs - pred_pairs, key=str)[:5],
            "classification_rate": rate["classification_rate"],
        },
        "clusters": {
            "clusters": len(clusters), "members": members, "purity": _ratio(pure, total),
            "unknown_family_spans": {k: len(v) for k, v in sorted(spans.items())},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = HERE / "_data"
    workdir.mkdir(parents=True, exist_ok=True)
    reports = [evaluate(seed, workdir) for seed in args.seeds]
    if args.json:
        json.dump(reports, sys.stdout, indent=2, default=str)
        return
    print("| seed | results | flaky P/R (retry jobs) | flaky P/R (no retries) | regressions P/R | first_bad_build exact "
          "| known-bug matches P/R | failed runs classified | clusters (purity) |")
    print("|---:|---:|---|---|---|---:|---|---:|---|")
    for r in reports:
        fr, fn, rg = r["flaky"]["retries"], r["flaky"]["no_retries"], r["regressions"]
        print(f"| {r['seed']} | {r['results']:,} | {fr['precision']:.3f} / {fr['recall']:.3f} ({fr['true']} true) "
              f"| {fn['precision']:.3f} / {fn['recall']:.3f} ({fn['true']} true) "
              f"| {rg['precision']:.3f} / {rg['recall']:.3f} ({rg['true']} true) | {rg['first_bad_build_exact']:.3f} "
              f"| {r['known_bugs']['precision']:.3f} / {r['known_bugs']['recall']:.3f} ({r['known_bugs']['true']} true) "
              f"| {r['known_bugs']['classification_rate']:.3f} "
              f"| {r['clusters']['clusters']} ({r['clusters']['purity']:.3f}) |")
    for r in reports:
        for kind in ("retries", "no_retries"):
            f = r["flaky"][kind]
            if f["false_positives"] or f["missed"]:
                print(f"seed {r['seed']} flaky/{kind}: false positives {f['false_positives']}, missed {f['missed']}", file=sys.stderr)
        g = r["regressions"]
        if g["false_positives"] or g["missed"] or g["wrong_first_bad_build"]:
            print(f"seed {r['seed']} regressions: false positives {g['false_positives']}, missed {g['missed']}, "
                  f"wrong first bad build {g['wrong_first_bad_build']}", file=sys.stderr)
        k = r["known_bugs"]
        if k["false_positives"] or k["missed"]:
            print(f"seed {r['seed']} known bugs: false positives {k['false_positives']}, missed {k['missed']}", file=sys.stderr)
        print(f"seed {r['seed']} unknown families → clusters: {r['clusters']['unknown_family_spans']}", file=sys.stderr)


if __name__ == "__main__":
    main()
