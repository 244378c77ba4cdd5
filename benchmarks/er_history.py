"""How many of elastic-recheck's historical queries ciscope loads.

Reads every version of every query file ever committed to elastic-recheck (``queries/<bug>.yaml``
and the 2013 ``queries.yaml`` list) straight from a git directory, keeps the distinct query
texts (with their ``allow-nonvoting`` flag), loads each with ``ciscope.fingerprints`` and
reports how many load, how many draw warnings, and why the others are refused.

Usage:
    python benchmarks/er_history.py GIT_DIR [--extract DIR] [--show N] [--json]

GIT_DIR is a clone (bare or not) of elastic-recheck with its full history, e.g. the
snapshot of github:ssbarnea/elastic-recheck. ``--extract DIR`` also writes each distinct
query as ``DIR/<bug>-<n>.yaml`` (outside the repository; never commit them). Run it with
``PYTHONPATH=<worktree>/src`` to measure that worktree's code.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Version:
    """One distinct query text (and allow-nonvoting flag) and where it occurred."""

    query: str
    allow_nonvoting: bool
    bugs: set[str] = field(default_factory=set)
    first_commit: str = ""


def _git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True).stdout


def _blobs(git_dir: str) -> list[tuple[str, str, str]]:
    """(commit, path, blob) for every added or modified query file in the history."""
    out = _git(git_dir, "log", "--all", "--raw", "--no-abbrev", "--no-renames", "--format=C %H",
               "--diff-filter=AM", "--", "queries", "queries.yaml").decode()
    rows: list[tuple[str, str, str]] = []
    commit = ""
    for line in out.splitlines():
        if line.startswith("C "):
            commit = line[2:]
        elif line.startswith(":"):
            meta, path = line.split("\t", 1)
            blob = meta.split()[3]
            if path == "queries.yaml" or re.fullmatch(r"queries/[^/]+\.yaml", path):
                rows.append((commit, path, blob))
    return rows


def _read_blobs(git_dir: str, blobs: list[str]) -> dict[str, bytes]:
    proc = subprocess.run(["git", "--git-dir", git_dir, "cat-file", "--batch"], check=True,
                          input="".join(b + "\n" for b in blobs).encode(), capture_output=True)
    data, pos, out = proc.stdout, 0, {}
    for _blob in blobs:
        header_end = data.index(b"\n", pos)
        sha, _kind, size = data[pos:header_end].decode().split()
        start = header_end + 1
        out[sha] = data[start:start + int(size)]
        pos = start + int(size) + 1
    return out


def collect(git_dir: str) -> dict[tuple[str, bool], Version]:
    rows = _blobs(git_dir)
    contents = _read_blobs(git_dir, sorted({b for _, _, b in rows}))
    versions: dict[tuple[str, bool], Version] = {}

    def add(bug: str, entry: Any, commit: str) -> None:
        if not isinstance(entry, dict) or not isinstance(entry.get("query"), str):
            return
        key = (entry["query"].strip(), bool(entry.get("allow-nonvoting", False)))
        v = versions.setdefault(key, Version(key[0], key[1], first_commit=commit))
        v.bugs.add(bug)

    for commit, path, blob in rows:
        try:
            doc = yaml.safe_load(contents[blob])
        except yaml.YAMLError:
            continue  # a version elastic-recheck itself could not read
        if path == "queries.yaml":
            for entry in doc or []:
                if isinstance(entry, dict):
                    add(str(entry.get("bug", "?")), entry, commit)
        else:
            add(Path(path).stem, doc, commit)
    return versions


def _reason(message: str) -> str:
    """An error or warning without the place and the specifics, to group them."""
    reason = " ".join(message.split())
    reason = re.sub(r"^(line \d+, )?(query, )?at character \d+( \(near .*?\))?: ", "", reason)
    reason = re.split(r"; | read as | it ran as | \(near ", reason)[0]
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)
    return re.sub(r"\d+", "N", reason)[:100]


def measure(versions: dict[tuple[str, bool], Version]) -> dict[str, Any]:
    from ciscope.fingerprints.loader import from_mapping
    from ciscope.fingerprints.model import FingerprintError

    ok = warned = 0
    reasons: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    for v in versions.values():
        bug = min(v.bugs)
        data: dict[str, Any] = {"query": v.query}
        if v.allow_nonvoting:
            data["allow-nonvoting"] = True
        try:
            fp = from_mapping(data, id=bug, file="")
        except FingerprintError as exc:
            reasons[_reason(f"{exc.place}: {exc.reason}" if exc.place else exc.reason)] += 1
            failures.append({"bug": bug, "query": v.query, "error": exc.reason, "hint": exc.hint})
            continue
        ok += 1
        if fp.warnings:
            warned += 1
            for w in fp.warnings:
                warnings[_reason(w)] += 1
    return {"distinct_queries": len(versions), "bugs": len({b for v in versions.values() for b in v.bugs}),
            "loaded": ok, "refused": len(versions) - ok, "loaded_with_warnings": warned,
            "refusal_reasons": reasons.most_common(), "warning_reasons": warnings.most_common(),
            "failures": failures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("git_dir", help="elastic-recheck git directory with full history")
    ap.add_argument("--extract", metavar="DIR", help="also write each distinct query to DIR/<bug>-<n>.yaml")
    ap.add_argument("--show", type=int, default=0, metavar="N", help="print N refused queries")
    ap.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = ap.parse_args(argv)
    versions = collect(args.git_dir)
    if args.extract:
        out = Path(args.extract)
        out.mkdir(parents=True, exist_ok=True)
        seen: Counter[str] = Counter()
        for v in versions.values():
            bug = min(v.bugs)
            seen[bug] += 1
            data: dict[str, Any] = {"query": v.query}
            if v.allow_nonvoting:
                data["allow-nonvoting"] = True
            (out / f"{bug}-{seen[bug]}.yaml").write_text(yaml.safe_dump(data, sort_keys=False, width=10**6))
    report = measure(versions)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
        return 0
    n = report["distinct_queries"]
    print(f"distinct queries: {n} (from {report['bugs']} bug files)")
    print(f"loaded: {report['loaded']} ({100 * report['loaded'] / n:.1f} %), "
          f"of which with warnings: {report['loaded_with_warnings']}")
    print(f"refused: {report['refused']} ({100 * report['refused'] / n:.1f} %)")
    for reason, count in report["refusal_reasons"]:
        print(f"  {count:4d}  {reason}")
    if report["warning_reasons"]:
        print("warnings:")
        for reason, count in report["warning_reasons"]:
            print(f"  {count:4d}  {reason}")
    for f in report["failures"][: args.show]:
        print(f"--- {f['bug']}: {f['error']}\n    {' '.join(f['query'].split())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
