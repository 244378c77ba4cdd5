"""Writing the run folders: Prow metadata, JUnit reports, build logs, disruption files, lifecycle events."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from random import Random
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..errors import UsageError
from .catalog import (
    ALERTS,
    BACKENDS,
    BRANCH,
    HOUR,
    INSTALL_TESTS,
    OPERATORS,
    ORG,
    RELEASE,
    REPO,
    UPGRADE_FACTOR,
    URL_PREFIX,
    WORSE_RATE,
    alnum,
    hms,
    iso,
    render,
)
from .scenario import Broken, Flake, Job, RunPlan, Scenario, Skip, TestInfo
from .truth import scenario_truth, write_fingerprints


def generate(out: str | os.PathLike[str], *, seed: int = 1, end: datetime | None = None, days: int = 30,
             runs_per_job: int = 200, tests_per_job: int = 300, jobs: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write a synthetic CI history under ``out`` and ``out/truth.json``; return the truth.

    ``end`` (default: today 00:00 UTC) is the newest instant of the history, which spans
    ``days`` days before it. ``progress(done_runs, total_runs)`` is called after each run.
    A folder that already holds a previous demo (a ``truth.json``) is rewritten; any other
    non-empty folder is refused.
    """
    if jobs is None:
        jobs = 4
    for name, value, low in (("days", days, 1), ("runs_per_job", runs_per_job, 10),
                             ("tests_per_job", tests_per_job, 100), ("jobs", jobs, 1)):
        if value < low:
            raise UsageError(f"demo {name} = {value}: expected at least {low}")
    if end is None:
        end = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    elif end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    end_ts = int(end.timestamp())
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        if not (root / "truth.json").is_file():
            raise UsageError(f"demo output folder {str(root)!r} is not empty and holds no previous demo (truth.json); "
                             "choose an empty or new folder")
        for sub in ("logs", "pr-logs", "fingerprints"):
            shutil.rmtree(root / sub, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)

    sc = Scenario(seed, end_ts - days * 86400, end_ts, runs_per_job, tests_per_job, jobs)
    truth = scenario_truth(sc, end_ts, days=days, runs_per_job=runs_per_job, tests_per_job=tests_per_job)

    total, done = sum(len(j.plans) for j in sc.jobs), 0
    for job in sc.jobs:
        for plan in job.plans:
            _write_run(root, sc, job, plan, truth)
            done += 1
            if progress is not None:
                progress(done, total)
        if not job.presubmit:
            (root / "logs" / job.name / "latest-build.txt").write_text(job.plans[-1].build)
    (root / "truth.json").write_text(json.dumps(truth, sort_keys=True, indent=1) + "\n")
    write_fingerprints(truth, root / "fingerprints")
    return truth


def _fail(rng: Random, info: TestInfo, message: str, duration: float) -> str:
    """One failing <testcase>: message attribute, multi-line text, and some system-out."""
    text = (f"{message}\n\ngoroutine {rng.randrange(1, 9999)} [running]:\n"
            f"github.com/openshift/origin/test/extended/util.FailWithStack(...)\n"
            f"\t{info.source} +0x{rng.getrandbits(12):x}\n")
    out = "STEP: Creating a kubernetes client\nSTEP: Building a namespace api object\nSTEP: Collecting events\n"
    return (f"<testcase name={info.quoted} time=\"{duration:.3f}\"><failure message={quoteattr(message)}>"
            f"{escape(text)}</failure><system-out>{escape(out)}</system-out></testcase>")


Report = tuple[str, str, list[str], int, int, float]  # kind, suite, <testcase> lines, failures, skips, time


def _write_run(root: Path, sc: Scenario, job: Job, plan: RunPlan, truth: dict[str, Any]) -> None:
    """Write one run folder and add its failures and run kind to the truth."""
    rng = Random(f"{sc.seed}/run/{job.name}/{plan.index}")
    if job.presubmit:
        rel = f"pr-logs/pull/{ORG}_{REPO}/{plan.pr}/{job.name}/{plan.build}"
    else:
        rel = f"logs/{job.name}/{plan.build}"
    folder = root / rel
    (folder / "artifacts").mkdir(parents=True, exist_ok=True)
    sha = sc.commits[plan.commit][0]
    row = {"job": job.name, "build": plan.build}
    platform = job.variants["platform"]
    t = float(plan.start)
    log: list[str] = []

    def say(line: str, level: str = "INFO", advance: float = 2.0) -> None:
        nonlocal t
        t += advance * rng.uniform(0.5, 1.5)
        log.append(f"{level}[{iso(t)}] {line}")

    say(f"ci-operator version v0.0.0-{alnum(rng, 7)}", advance=0)
    say(f"Loading configuration from https://config.ci.openshift.org for {ORG}/{REPO}@{BRANCH}")
    merging = f", merging: #{plan.pr} {plan.pr_sha[:8]} @{plan.author}" if plan.pr_sha else ""
    say(f"Resolved source https://github.com/{ORG}/{REPO} to {BRANCH}@{sha[:8]}{merging}")
    namespace = f"ci-op-{alnum(rng, 8)}"
    say(f"Using namespace https://console.{plan.cluster}.ci.openshift.org/k8s/cluster/projects/{namespace}")
    say(f"Acquiring leases for test {job.step}: [{platform}-quota-slice]", advance=5)
    failed = False
    reports: list[Report] = []
    if plan.kind == "infra-lease":
        say(f"Failed to acquire lease for {platform}-quota-slice: resources not found", "ERROR", 7200)
    else:
        say(f"Acquired 1 lease(s) for {platform}-quota-slice: [{platform}-quota-slice-{rng.randrange(40):02d}]",
            advance=rng.uniform(5, 600))
        say(f"Running multi-stage test {job.step}")
        say(f"Running step {job.step}-ipi-install-install.")
        say(f"Provisioning cluster {namespace}-{alnum(rng, 5)} on {platform}", advance=5)
    if plan.kind == "infra-install":
        reports.append(_install_failure(rng, sc, row, truth))
        say('level=error msg="Bootstrap failed to complete: waited 45m0s for the Kubernetes API"', "ERROR", 2700)
    if plan.kind in ("ok", "pending", "aborted"):
        install = rng.uniform(1800, 3000)
        t += install
        say(f"Step {job.step}-ipi-install-install succeeded after {hms(install)}.", advance=0)
        say(f"Running step {job.step}-openshift-e2e-test.")
        say("Running tests: openshift-tests run openshift/conformance/parallel", advance=30)
    if plan.kind == "aborted":
        say("Received signal, cancelling job: superseded by a newer run of the pull request", "ERROR", 900)
    if plan.kind == "ok":
        reports, failed = _e2e(rng, sc, job, plan, t, row, truth, log)
        runtime = sum(r[5] for r in reports) / 8  # openshift-tests runs about 8 tests at a time
        t += runtime
        say(f"Step {job.step}-openshift-e2e-test {'failed' if failed else 'succeeded'} after {hms(runtime)}.", advance=0)

    state = {"ok": "failure" if failed else "success", "pending": "pending", "aborted": "aborted",
             "infra-lease": "error", "infra-install": "error"}[plan.kind]
    if plan.kind != "pending":
        say(f"Running step {job.step}-gather-must-gather.", advance=300)
        say(f"Releasing leases for test {job.step}", advance=30)
        say(f"Ran for {hms(t - plan.start)}")
        if state != "success":
            say(f"Some steps failed: * could not run steps: step {job.step} failed", "ERROR", 1)
        else:
            say("Reporting job state 'succeeded'", advance=1)
    if plan.kind.startswith("infra"):
        truth["infra_runs"].append({**row, "kind": plan.kind[6:]})
    elif plan.kind in ("pending", "aborted"):
        truth[f"{plan.kind}_runs"].append(row)

    stamp = datetime.fromtimestamp(plan.start + 2700, timezone.utc).strftime("%Y%m%d-%H%M%S")
    gzipped = rng.random() < 0.03
    for kind, suite, cases, fails, skips, total_time in reports:
        path = "artifacts/e2e/junit/junit_install.xml" if kind == "install" else f"artifacts/junit/junit_{kind}_{stamp}.xml"
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name={quoteattr(suite)} tests="{len(cases)}" '
                f'skipped="{skips}" failures="{fails}" time="{total_time:.3f}">\n' + "\n".join(cases) + "\n</testsuite>\n")
        data = body.encode()
        if gzipped and kind == "e2e":
            path, data = path + ".gz", gzip.compress(data, mtime=0)
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    (folder / "build-log.txt").write_text("\n".join(log) + "\n")
    _write_metadata(folder, rel, sc, job, plan, rng, state, int(t), namespace)
    if plan.kind == "ok":
        _write_disruption(folder / "artifacts" / "junit", sc.seed, job, plan, stamp, truth)
    _write_events(folder, sc, job, plan, truth["timing"])


def _install_failure(rng: Random, sc: Scenario, row: dict[str, str], truth: dict[str, Any]) -> Report:
    """The install report of a run whose cluster never came up: one phase and "overall" fail,
    the later phases are absent."""
    phase = rng.choice((2, 3))
    cases, spent = [], 0.0
    for k, name in enumerate(INSTALL_TESTS[:phase] + INSTALL_TESTS[-1:]):
        info = sc.tests[name]
        d = math.exp(info.mu + info.sigma * rng.gauss(0, 1))
        spent += d
        if k < phase - 1:
            cases.append(f'<testcase name={info.quoted} time="{d:.3f}"/>')
        else:
            msg = (f"level=error msg=\"Cluster operator {rng.choice(OPERATORS)} Available is False\" "
                   f"(install phase {name.split(': ')[1]} failed)")
            cases.append(_fail(rng, info, msg, d))
            truth["failures"].append({**row, "test": name, "cause": "infra", "attempts": ["failed"]})
    return ("install", "cluster install", cases, 2, 0, spent)


def _e2e(rng: Random, sc: Scenario, job: Job, plan: RunPlan, t: float, row: dict[str, str],
         truth: dict[str, Any], log: list[str]) -> tuple[list[Report], bool]:
    """Decide every test's attempts in a run that ran its tests; return the reports and
    whether a test failed for good. Causes never overlap: each test has at most one role."""
    bug_hits: dict[str, int] = {}
    for b, targets in job.bugs:
        bug = sc.bugs[b]
        if bug["lo"] <= plan.commit < bug["hi"] and rng.random() < bug["rate"]:
            hit = [x for x in targets if rng.random() < 0.75] or [rng.choice(targets)]
            bug_hits.update(dict.fromkeys(hit, b))
            log.append(f"{iso(t + rng.uniform(60, 1800), ms=True)} {render(bug['source'], rng, t)}: "
                       f"{render(bug['signature'], rng, t)}")
    family_hits: dict[str, int] = {}
    for f, (_, _, log_template, rate, candidates) in enumerate(sc.families):
        if rng.random() < rate:
            family_hits.update(dict.fromkeys(rng.sample(candidates, 1 if rng.random() < 0.7 else 2), f))
            log.append(f"{iso(t + rng.uniform(60, 1800), ms=True)} {render(log_template, rng, t)}")
    reports: list[Report] = []
    failed_names: list[str] = []
    flaked_names: list[str] = []
    n_pass = n_skip = 0
    elapsed = 0.0
    for kind, suite, tests in job.files:
        cases, retries = [], []
        fails = skips = 0
        total_time = 0.0
        for name in tests:
            info = sc.tests[name]
            d = math.exp(info.mu + info.sigma * rng.gauss(0, 1))
            if info.slow_from is not None and plan.commit >= info.slow_from:
                d *= info.slow_factor
            total_time += d
            role = job.roles.get(name)
            cause = message = None
            if role is None or isinstance(role, Flake):
                if name in bug_hits:
                    bug = sc.bugs[bug_hits[name]]
                    cause, message = f"bug:{bug['id']}", bug["signature"]
                elif name in family_hits:
                    family = sc.families[family_hits[name]]
                    cause, message = f"unknown:{family[0]}", family[1]
                elif role is not None and rng.random() < role.rate:
                    cause, message = "flake", role.message
            elif isinstance(role, Skip):
                cases.append(f'<testcase name={info.quoted} time="0.000"><skipped message={quoteattr(role.message)}/></testcase>')
                skips += 1
                continue
            elif isinstance(role, Broken):
                cause, message = "broken", role.message
            elif plan.index >= role.first_run and (plan.index == role.first_run or rng.random() < role.rate):
                cause, message = "regression", role.message
            if cause is None:
                if rng.random() < 0.02:
                    cases.append(f'<testcase name={info.quoted} time="{d:.3f}"><system-out>STEP: Creating a kubernetes'
                                 f' client\nSTEP: Waiting for a default service account</system-out></testcase>')
                else:
                    cases.append(f'<testcase name={info.quoted} time="{d:.3f}"/>')
                n_pass += 1
                continue
            cases.append(_fail(rng, info, f"fail [{info.source}]: {render(str(message), rng, t)}", d))
            fails += 1
            when = iso(t + (elapsed + total_time) / 8)
            log.append(f'failed: ({d:.1f}s) {when} "{name}"')
            attempts = ["failed"]
            if job.retries and kind != "install":  # openshift-tests retries at the end of the file
                again = math.exp(info.mu + info.sigma * rng.gauss(0, 1))
                if cause == "flake":
                    retries.append(f'<testcase name={info.quoted} time="{again:.3f}"/>')
                    attempts.append("passed")
                    flaked_names.append(name)
                else:
                    retries.append(_fail(rng, info, f"fail [{info.source}]: {render(str(message), rng, t)}", again))
                    attempts.append("failed")
                    fails += 1
            if attempts[-1] == "failed":
                failed_names.append(name)
                if cause in ("regression", "broken"):
                    log.append(f"  [FAILED] in [It] at: {info.source} @ {when}\n  goroutine {rng.randrange(1, 9999)}"
                               f" [running]:\n  {info.source.rsplit(':', 1)[0]}.init.func{rng.randrange(1, 40)}()")
            truth["failures"].append({**row, "test": name, "cause": cause, "attempts": attempts})
        elapsed += total_time
        n_skip += skips
        reports.append((kind, suite, cases + retries, fails, skips, total_time))
    if flaked_names:
        log.append("Flaky tests:\n\n" + "\n".join(flaked_names) + "\n")
    if failed_names:
        log.append("Failing tests:\n\n" + "\n".join(failed_names) + "\n")
    verdict = f"{len(failed_names)} fail, " if failed_names else ""
    log.append(f"{'error: ' if failed_names else ''}{verdict}{n_pass} pass, {n_skip} skip ({hms(elapsed / 8)})")
    return reports, bool(failed_names)


def _write_metadata(folder: Path, rel: str, sc: Scenario, job: Job, plan: RunPlan, rng: Random,
                    state: str, end: int, namespace: str) -> None:
    """started.json, finished.json (unless pending) and prowjob.json. Lifecycle: the ProwJob is
    created (= status.startTime, as in Prow), waits in the queue until pendingTime, the pod
    starts (started.json) and ends (finished.json, then completionTime)."""
    sha = sc.commits[plan.commit][0]
    clone = rng.randrange(10, 90)
    queue = int(min(3 * HOUR, rng.lognormvariate(math.log(60), 1.0)))
    created, pending = plan.start - clone - queue, plan.start - clone
    metadata: dict[str, Any] = {"variants": job.variants, "release": RELEASE, "branch": BRANCH}
    repos = f"{BRANCH}:{sha}"
    revision: str | None = sha
    if plan.pr is not None:
        metadata["pull"] = str(plan.pr)
        repos += f",{plan.pr}:{plan.pr_sha}"
        revision = plan.pr_sha  # as Prow: the pull request's head; the base is in "repos"
    pod = hashlib.sha1(f"{sc.seed}:{job.name}:{plan.build}".encode()).hexdigest()
    pod = f"{pod[:8]}-{pod[8:12]}-{pod[12:16]}-{pod[16:20]}-{pod[20:32]}"
    started = {"timestamp": plan.start, "node": plan.node, "repos": {f"{ORG}/{REPO}": repos},
               "repo-version": revision, "metadata": metadata}
    if plan.pr is not None:
        started["pull"] = str(plan.pr)
    _dump(folder / "started.json", started)
    finish = end + rng.randrange(5, 60)
    if state != "pending":
        result = {"success": "SUCCESS", "failure": "FAILURE", "error": "ERROR", "aborted": "ABORTED"}[state]
        _dump(folder / "finished.json", {"timestamp": finish, "passed": state == "success", "result": result,
                                         "revision": revision, "metadata": {"work-namespace": namespace, "pod": pod}})
    refs: dict[str, Any] = {"org": ORG, "repo": REPO, "base_ref": BRANCH, "base_sha": sha}
    kind = "presubmit" if job.presubmit else "periodic"
    labels = {"created-by-prow": "true", "prow.k8s.io/job": job.name[:63], "prow.k8s.io/build-id": plan.build,
              "prow.k8s.io/type": kind, "prow.k8s.io/refs.org": ORG, "prow.k8s.io/refs.repo": REPO}
    if plan.pr is not None:
        refs["pulls"] = [{"number": plan.pr, "author": plan.author, "sha": plan.pr_sha}]
        labels["prow.k8s.io/refs.pull"] = str(plan.pr)
    descriptions = {"success": "Job succeeded.", "failure": "Job failed.", "error": "Job errored.",
                    "aborted": "Job aborted.", "pending": "Job triggered."}
    status: dict[str, Any] = {"state": state, "startTime": iso(created), "pendingTime": iso(pending),
                              "build_id": plan.build, "pod_name": pod, "url": f"{URL_PREFIX}/{rel}",
                              "description": descriptions[state]}
    if state != "pending":
        status["completionTime"] = iso(finish + rng.randrange(1, 30))
    _dump(folder / "prowjob.json", {
        "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
        "metadata": {"name": pod, "namespace": "ci", "creationTimestamp": iso(created), "labels": labels},
        "spec": {"type": kind, "agent": "kubernetes", "cluster": plan.cluster, "namespace": "ci-tests",
                 "job": job.name, "refs": refs, "report": job.presubmit},
        "status": status})


# OpenShift disruption artifacts (docs/disruption.md). Backend, connection type, share of runs
# with any disruption, median and sigma (lognormal) of the disrupted seconds; upgrades disrupt
# more (UPGRADE_FACTOR × the share, × the seconds). A few runs are genuinely worse: one backend
# is down for minutes (truth "disruption.worse_runs").

def _write_disruption(junit: Path, seed: int, job: Job, plan: RunPlan, stamp: str, truth: dict[str, Any]) -> None:
    """backend-disruption, alerts and cluster-data files of a run that ran its e2e tests: one
    set per phase for upgrade jobs (the seconds split between them), as openshift-tests writes."""
    from ..analysis.disruption import format_go_duration

    rng = Random(f"{seed}/disruption/{job.name}/{plan.index}")  # own stream: the rest is unchanged
    upgrade = job.variants.get("upgrade", "none") != "none"
    factor = UPGRADE_FACTOR if upgrade else 1.0
    seconds: dict[str, float] = {}
    for name, _conn, share, median, sigma in BACKENDS:
        hit = rng.random() < min(1.0, share * factor)
        seconds[name] = median * factor * math.exp(sigma * rng.gauss(0, 1)) if hit else 0.0
    # planted in the later 40 % of a job's runs, where the history holds enough runs to judge them
    if plan.index >= 0.6 * len(job.plans) and rng.random() < WORSE_RATE:
        name, _conn, _share, median, sigma = rng.choice(BACKENDS)
        seconds[name] = median * factor * math.exp(4 * sigma) * 3 + rng.uniform(60, 180)
        truth["disruption"]["worse_runs"].append({"job": job.name, "build": plan.build, "backend": name,
                                                  "seconds": math.ceil(seconds[name])})
    alerts = []
    for name, namespace, level, share, median, sigma in ALERTS:
        if rng.random() < min(1.0, share * factor):
            alerts.append((name, namespace, level, median * math.exp(sigma * rng.gauss(0, 1))))
    phases = 2 if upgrade else 1
    split = rng.uniform(0.2, 0.8)
    junit.mkdir(parents=True, exist_ok=True)
    for phase in range(phases):
        part = (split if phase == 0 else 1 - split) if phases == 2 else 1.0
        suffix = f"{stamp}-{phase}" if phases == 2 else stamp
        doc = {"BackendDisruptions": {name: {
            "Name": name, "BackendName": name, "ConnectionType": conn,
            "DisruptedDuration": format_go_duration(round(seconds[name] * part, 3)),
            "DisruptionMessages": [f"{name} was unreachable during disruption"] if seconds[name] else [],
            "LoadBalancerType": "", "Protocol": "", "TargetAPI": ""} for name, conn, *_ in BACKENDS}}
        _dump(junit / f"backend-disruption_{suffix}.json", doc)
        known = [{"Name": n, "Namespace": "", "Level": lv, "Duration": "0s"} for n, _, _, *_ in ALERTS
                 for lv in ("Warning", "Critical")]
        seen = [{"Name": n, "Namespace": ns, "Level": lv, "Duration": format_go_duration(round(s * part, 3))} for n, ns, lv, s in alerts]
        _dump(junit / f"alerts_{suffix}.json", {"Alerts": seen + known})
        mnu = ("Y" if rng.random() < 0.95 else "N") if upgrade else "N"
        _dump(junit / f"cluster-data_{suffix}.json", {"MasterNodesUpdated": mnu if phase == phases - 1 else "N"})
def _write_events(folder: Path, sc: Scenario, job: Job, plan: RunPlan, timing: dict[str, Any]) -> None:
    """``artifacts/events.jsonl``: the run's lifecycle (docs/timing.md) on the times of its
    started.json, finished.json and prowjob.json; provisioning the cluster uses the default
    ``flash_start``/``flash_end`` names, waiting for it ``boot_start``/``boot_end``."""
    rng = Random(f"{sc.seed}/events/{job.name}/{plan.index}")
    prowjob = json.loads((folder / "prowjob.json").read_text())
    status = prowjob["status"]

    def epoch(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    finished = folder / "finished.json"
    end = float(json.loads(finished.read_text())["timestamp"]) if finished.is_file() else None
    events: list[tuple[str, float]] = [("requested", epoch(prowjob["metadata"]["creationTimestamp"])),
                                       ("queued", epoch(prowjob["metadata"]["creationTimestamp"]) + rng.uniform(0.5, 3)),
                                       ("pulled", epoch(status["pendingTime"]))]
    start = float(plan.start) + rng.uniform(5, 120)
    flash = rng.lognormvariate(math.log(900), 0.12) * (timing["slow_factor"] if plan.node == timing["slow_worker"] else 1)
    boot = rng.lognormvariate(math.log(240), 0.2)
    stalled = {"job": job.name, "build": plan.build} in timing["stalls"]
    if plan.kind in ("ok", "aborted", "pending", "infra-install"):
        events.append(("flash_start", start))
    if plan.kind in ("ok", "aborted", "pending"):
        span = (end if end is not None else start + 3 * flash + 3600) - start
        if flash + boot + 60 > 0.7 * span:  # keep the phases inside the run's recorded times
            scale = 0.7 * span / (flash + boot + 60)
            flash, boot = flash * scale, boot * scale
        if stalled:
            boot = 0.6 * (span - flash)
        events += [("flash_end", start + flash), ("boot_start", start + flash)]
        if stalled:
            events.append(("stall", start + flash + boot * 0.9))
        events += [("boot_end", start + flash + boot), ("test_start", start + flash + boot)]
        if plan.kind == "ok" and end is not None:
            events.append(("test_end", end))
    if "completionTime" in status:
        events.append(("results_reported", epoch(status["completionTime"])))
    requestor = plan.author or "periodic"
    lines = []
    for name, at in events:
        received = at + rng.lognormvariate(math.log(0.2), 0.5)
        lines.append(json.dumps({"run": plan.build, "event": name, "emitted_at": iso(at, ms=True),
                                 "received_at": iso(received, ms=True), "worker": plan.node,
                                 "device_group": plan.cluster, "requestor": requestor}, sort_keys=True))
    (folder / "artifacts" / "events.jsonl").write_text("\n".join(lines) + "\n")


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, sort_keys=True, indent=2) + "\n")


if __name__ == "__main__":  # python -m ciscope.demo OUT
    import sys

    facts = generate(sys.argv[1] if len(sys.argv) > 1 else "demo-data", end=datetime(2025, 1, 31, tzinfo=timezone.utc))
    print(f"{len(facts['failures'])} failures over {len(facts['jobs'])} jobs; truth in truth.json")
