"""Builders of Prow run folders for tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="openshift-tests" tests="4" failures="2">
  <testcase name="[sig-a] passes" time="1.5"/>
  <testcase name="[sig-b] flakes" time="2"><failure message="timed out">stack</failure></testcase>
  <testcase name="[sig-b] flakes" time="2.5"/>
  <testcase name="[sig-c] fails" time="3"><failure message="boom: expected 1 got 2">trace</failure></testcase>
</testsuite>
"""


def write_run(root: Path, job: str, build: str, *, result: str | None = "FAILURE",
              junit: str | None = JUNIT, gz: bool = False, started: dict | None = None,
              finished_extra: dict | None = None, layout: str = "logs") -> Path:
    if layout == "logs":
        folder = root / "logs" / job / build
    elif layout == "pr":
        folder = root / "pr-logs" / "pull" / "openshift_origin" / "1234" / job / build
    else:
        folder = root / job / build
    folder.mkdir(parents=True)
    started = started if started is not None else {
        "timestamp": 1793000000 + int(build) * 3600,
        "node": "worker-3",
        "repos": {"openshift/origin": "master:abc123"},
        "metadata": {"variants": {"platform": "aws", "network": "ovn"}, "release": "4.18"},
    }
    (folder / "started.json").write_text(json.dumps(started))
    if result is not None:
        finished = {"timestamp": 1793000000 + int(build) * 3600 + 1800, "passed": result == "SUCCESS",
                    "result": result, "revision": f"rev{build}", **(finished_extra or {})}
        (folder / "finished.json").write_text(json.dumps(finished))
    (folder / "build-log.txt").write_text("step 1\nerror: something\n")
    if junit is not None:
        target = folder / "artifacts" / "e2e" / "junit"
        target.mkdir(parents=True)
        if gz:
            (target / "junit_e2e.xml.gz").write_bytes(gzip.compress(junit.encode()))
        else:
            (target / "junit_e2e.xml").write_text(junit)
    return folder
