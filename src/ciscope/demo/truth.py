"""The ground truth a demo history is written with: truth.json and the fingerprint files."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from random import Random
from typing import Any

from .catalog import ALERTS, BACKENDS, PLACEHOLDER, iso, regex_of, render
from .scenario import Broken, Flake, Regression, Scenario


def write_fingerprints(truth: dict[str, Any], directory: str | os.PathLike[str]) -> list[Path]:
    """One fingerprint file per known bug of the truth, as a team would write them: half as
    openQA-style ``regex`` (the full signature), half as elastic-recheck-style Lucene
    ``query`` on the signature's longest literal phrase. Returns the files written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (bug_id, bug) in enumerate(sorted(truth["bugs"].items())):
        title = bug["title"].replace('"', "'")
        lines = [f'title: "{title}"', f"url: https://issues.example.com/browse/{bug_id}"]
        if i % 2 == 0:
            lines.append("regex: '" + bug["regex"].replace("'", "''") + "'")
        else:
            pieces = [re.sub(r'["\\]', " ", p) for p in PLACEHOLDER.split(bug["signature"])[::2]]
            phrase = " ".join(max(pieces, key=lambda p: len(p.strip())).split())
            lines.append(f'query: >\n  message:"{phrase}"')
        path = folder / f"{bug_id}.yaml"
        path.write_text("\n".join(lines) + "\n")
        written.append(path)
    return written



def timing_truth(sc: Scenario) -> dict[str, Any]:
    """Ground truth of the lifecycle events: one slow worker (its provision phase takes
    ``slow_factor`` times as long) and two stalled runs (their boot hangs; a ``stall`` event)."""
    slow = min(n for _, n in sc.nodes if n != sc.hotspot)
    ok = [p for p in sc.jobs[0].plans if p.kind == "ok"]
    stalls = [{"job": sc.jobs[0].name, "build": ok[len(ok) * k // 3].build} for k in (1, 2)] if len(ok) >= 3 else []
    return {"slow_worker": slow, "slow_phase": "provision", "slow_factor": 2.2, "stalls": stalls, "stall_phase": "boot"}


def scenario_truth(sc: Scenario, end_ts: int, *, days: int, runs_per_job: int, tests_per_job: int) -> dict[str, Any]:
    """The truth of a scenario before any run is written: jobs, commits, roles (flaky, regressed,
    broken, skipped tests), known bugs and unknown families. Writing the runs adds each failure's
    cause and the infra, pending, aborted and disruption-worse runs."""
    truth: dict[str, Any] = {
        "seed": sc.seed, "end": iso(end_ts),
        "params": {"days": days, "runs_per_job": runs_per_job, "tests_per_job": tests_per_job, "jobs": len(sc.jobs)},
        "jobs": {j.name: {"variants": j.variants, "retries": j.retries, "presubmit": j.presubmit,
                          "type": "presubmit" if j.presubmit else "periodic",
                          "tests": sum(len(t) for _, _, t in j.files)} for j in sc.jobs},
        "commits": [{"sha": sha, "time": iso(t)} for sha, t in sc.commits],
        "flaky": [], "regressions": [], "broken": [], "skipped": [], "infra_runs": [], "pending_runs": [],
        "aborted_runs": [], "failures": [], "infra_hotspot": sc.hotspot, "slowdowns": sc.slowdowns,
        "durations": {n: {"median": round(math.exp(i.mu), 3), "sigma": round(i.sigma, 3)} for n, i in sc.tests.items()},
        "bugs": {}, "unknown_families": {}, "timing": timing_truth(sc),
        "disruption": {"backends": [b[0] for b in BACKENDS], "alerts": [a[0] for a in ALERTS], "worse_runs": []},
    }
    example = Random(f"{sc.seed}/examples")
    for bug in sc.bugs:
        truth["bugs"][bug["id"]] = {
            "title": bug["title"], "regex": regex_of(bug["signature"]), "signature": bug["signature"],
            "message": f"fail [{sc.tests[bug['tests'][0]].source}]: {render(bug['signature'], example, end_ts)}",
            "log_line": f"{render(bug['source'], example, end_ts)}: {render(bug['signature'], example, end_ts)}",
            "tests": bug["tests"], "jobs": bug["jobs"], "rate": bug["rate"],
            "introduced_commit": sc.commits[bug["lo"]][0] if bug["lo"] else None,
            "fixed_commit": sc.commits[bug["hi"]][0] if bug["hi"] < len(sc.commits) else None}
    for name, msg, log, rate, tests in sc.families:
        truth["unknown_families"][name] = {"template": msg, "log_template": log, "regex": regex_of(msg),
                                           "log_regex": regex_of(log), "tests": tests, "rate": rate}
    for job in sc.jobs:
        for test, role in job.roles.items():
            if isinstance(role, Flake):
                truth["flaky"].append({"job": job.name, "test": test, "rate": role.rate})
            elif isinstance(role, Regression):
                plan = job.plans[role.first_run]
                truth["regressions"].append({"job": job.name, "test": test, "first_bad_build": plan.build,
                                             "first_bad_commit": sc.commits[role.bad][0], "fail_rate": role.rate,
                                             "message": role.message})
            else:
                truth["broken" if isinstance(role, Broken) else "skipped"].append({"job": job.name, "test": test})
    for key in ("flaky", "regressions", "broken", "skipped"):
        truth[key].sort(key=lambda row: (row["job"], row["test"]))
    return truth
