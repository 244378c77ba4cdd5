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

The scoring itself is ciscope.demo.score (typed results); this script runs it per seed.

Usage: python benchmarks/quality.py [--seeds 1 2 3] [--json]
Also imported by tests/analysis/test_quality.py, which asserts floors on these numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
END = datetime(2026, 11, 1, tzinfo=timezone.utc)


def evaluate(seed: int, workdir: Path, *, runs_per_job: int = 200) -> dict[str, Any]:
    from ciscope.analysis.known import prepare
    from ciscope.demo import generate, write_fingerprints
    from ciscope.demo.score import score
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

    result = score(store, truth)
    store.close()
    return {"seed": seed, "results": report.results, **_plain(result)}


def _plain(result: Any) -> dict[str, Any]:
    """The score as the dict this script prints (and tests/analysis/test_quality.py reads)."""
    d = asdict(result)
    d["regressions"] = {**d["regressions"].pop("detection"), **d["regressions"]}
    d["known_bugs"] = {**d["known_bugs"].pop("detection"), **d["known_bugs"]}
    return d


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
