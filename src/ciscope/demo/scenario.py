"""Everything decided before a run is written: jobs, tests and their roles, commits, run plans."""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from dataclasses import dataclass, field
from random import Random
from typing import Any
from xml.sax.saxutils import quoteattr

from .catalog import (
    BEHAVIORS,
    BRANCH,
    BROKEN_MESSAGES,
    BUGS,
    FAMILIES,
    FLAKE_MESSAGES,
    HOUR,
    INSTALL_TESTS,
    JOBS,
    PLATFORMS,
    REGRESSION_MESSAGES,
    RELEASE,
    SNOWFLAKE_EPOCH_MS,
    SPECIAL_NAMES,
    SUBJECTS,
    SUITE_TAGS,
    TAGS,
    alnum,
)


@dataclass(slots=True, frozen=True)
class Flake:
    """A test that fails at random with ``rate`` per run (and passes when retried)."""
    rate: float
    message: str


@dataclass(slots=True)
class Regression:
    """A test broken by commit ``bad`` (index into the commits): from the first run with results
    at or after it (``first_run``, a plan index) it fails with ``rate`` per run."""
    bad: int
    rate: float
    message: str
    first_run: int = -1  # set once the job's runs are planned


@dataclass(slots=True, frozen=True)
class Broken:
    """A test that fails in every run of the job."""
    message: str


@dataclass(slots=True, frozen=True)
class Skip:
    """A test the job always skips, with this message."""
    message: str


Role = Flake | Regression | Broken | Skip


@dataclass(slots=True)
class TestInfo:
    __test__ = False
    name: str
    quoted: str  # quoteattr(name), computed once
    mu: float  # log of the median duration in seconds
    sigma: float
    source: str  # "github.com/openshift/origin/test/extended/<area>/<file>.go:<line>"
    slow_from: int | None = None  # commit index from which the test is slower
    slow_factor: float = 1.0


@dataclass(slots=True)
class RunPlan:
    index: int
    start: int
    commit: int  # index into the commit list
    build: str
    kind: str  # "ok", "pending", "aborted", "infra-lease", "infra-install"
    cluster: str
    node: str
    pr: int | None = None
    pr_sha: str | None = None
    author: str | None = None


@dataclass
class Job:
    name: str
    index: int
    variants: dict[str, str]
    presubmit: bool
    retries: bool
    install: bool
    files: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (kind, suite, tests)
    roles: dict[str, Role] = field(default_factory=dict)  # test -> its role in this job
    bugs: list[tuple[int, list[str]]] = field(default_factory=list)  # (bug index, target tests)
    plans: list[RunPlan] = field(default_factory=list)

    @property
    def step(self) -> str:
        return self.name.split(f"-{RELEASE}-")[-1].split(f"-{BRANCH}-")[-1]


class Scenario:
    """Everything decided before any run is written: jobs, tests, roles, commits, plans."""

    def __init__(self, seed: int, start: int, end: int, runs_per_job: int, tests_per_job: int, n_jobs: int):
        rng = Random(f"{seed}/scenario")
        self.seed, self.start, self.end = seed, start, end
        self.commits: list[tuple[str, int]] = []
        t = start - 12 * HOUR
        while t < end:
            self.commits.append((hashlib.sha1(f"{seed}:commit:{len(self.commits)}".encode()).hexdigest(), t))
            t += int(rng.uniform(1.5, 6.0) * HOUR)
        self.commit_times = [c[1] for c in self.commits]
        n_commits = len(self.commits)

        self.jobs = [self._job(k) for k in range(n_jobs)]
        self.tests: dict[str, TestInfo] = {}
        used: set[str] = set(SPECIAL_NAMES)
        n_specific = tests_per_job // 7
        shared = SPECIAL_NAMES + [self._name(rng, used, "") for _ in range(tests_per_job - n_specific - len(SPECIAL_NAMES))]
        for name in shared + INSTALL_TESTS:
            self._info(rng, name)
        for job in self.jobs:
            upgrade = job.variants["upgrade"] != "none"
            suffix = " during upgrade [Suite:openshift/upgrade]" if upgrade else " [Serial] [Suite:openshift/conformance/serial]"
            # job-specific tests: "<phrase><tag> [Suite:...]"; the suite keeps them apart from the shared pool
            specific = [self._name(rng, used, suffix) for _ in range(n_specific)]
            for name in specific:
                self._info(rng, name)
            if upgrade:
                job.files = [("e2e", "openshift-tests", list(shared)), ("upgrade", "openshift-tests-upgrade", specific)]
            else:
                job.files = [("e2e", "openshift-tests", shared + specific)]
            if job.install:
                job.files.append(("install", "cluster install", list(INSTALL_TESTS)))

        pool = list(shared)
        rng.shuffle(pool)
        # Known bugs: disjoint target tests, each bug on the jobs whose variants it fits.
        self.bugs: list[dict[str, Any]] = []
        for b, (bug_id, title, sig, source, where, n_tests, window, rate) in enumerate(BUGS):
            targets = [pool.pop() for _ in range(n_tests)]
            jobs = [j for j in self.jobs if all(j.variants[k] in v for k, v in where.items())] or self.jobs[:1]
            lo, hi = 0, n_commits
            if window == "introduced":
                lo = int(n_commits * rng.uniform(0.2, 0.5))
            elif window == "fixed":
                hi = int(n_commits * rng.uniform(0.5, 0.85))
            for job in jobs:
                job.bugs.append((b, targets))
            self.bugs.append({"id": bug_id, "title": title, "signature": sig, "source": source, "rate": rate,
                              "lo": lo, "hi": hi, "tests": targets, "jobs": [j.name for j in jobs]})
        self.families = [(name, msg, log, rate, [pool.pop() for _ in range(5)]) for name, msg, log, rate in FAMILIES]
        # Regressions: a bad commit in the middle of the history breaks a test on some jobs.
        for r, message in enumerate(rng.sample(REGRESSION_MESSAGES, 3)):
            test = pool.pop()
            jobs = self.jobs if r == 0 else rng.sample(self.jobs, rng.randint(1, min(2, n_jobs)))
            bad = int(n_commits * rng.uniform(0.4, 0.8))
            for job in jobs:
                rate = round(rng.uniform(0.85, 1.0), 3)
                job.roles[test] = Regression(bad, rate, message)
        shared_flaky = [pool.pop() for _ in range(3)]
        rest = pool  # no global role: per-job roles come from here and the job-specific tests
        shared_set = set(shared)
        for job in self.jobs:
            specific = [t for kind, _, tests in job.files if kind != "install" for t in tests if t not in shared_set]
            candidates = [t for t in rest + specific if t not in job.roles]
            rng.shuffle(candidates)
            flaky = [t for t in shared_flaky if n_jobs == 1 or rng.random() < 0.6]
            flaky += [candidates.pop() for _ in range(max(3, tests_per_job // 60) - len(flaky))]
            for test in flaky:
                rate = round(0.02 + 0.28 * rng.random() ** 3, 4)
                job.roles[test] = Flake(rate, FLAKE_MESSAGES[rng.randrange(len(FLAKE_MESSAGES))])
            if job.index == 1 or job.index == 4 or n_jobs == 1:
                first = specific[0] if specific[0] in candidates else candidates[0]
                candidates.remove(first)
                for test, message in zip((first, candidates.pop()), rng.sample(BROKEN_MESSAGES, 2)):
                    job.roles[test] = Broken(message)
            for _ in range(max(2, tests_per_job // 40)):
                job.roles[candidates.pop()] = Skip(f"skip [github.com/openshift/origin/test/extended/util/framework.go:"
                                                        f"{rng.randrange(200, 2000)}]: Not supported on {job.variants['platform']}")
        self.slowdowns = []
        for test in rng.sample(shared, 2):
            info = self.tests[test]
            info.slow_from = int(n_commits * rng.uniform(0.4, 0.7))
            info.slow_factor = round(rng.uniform(1.8, 3.0), 2)
            self.slowdowns.append({"test": test, "from_commit": self.commits[info.slow_from][0], "factor": info.slow_factor})

        clusters = ("build01", "build02", "build03", "build05")
        self.nodes = [(c, f"{c}-{alnum(rng, 5)}-worker-{z}-{alnum(rng, 5)}") for c in clusters for z in "abc"]
        self.hotspot = self.nodes[rng.randrange(len(self.nodes))][1]
        for job in self.jobs:
            self._plan(job, runs_per_job)
        for job in self.jobs:  # first_bad_build: first run with results at or after the bad commit
            for test, role in list(job.roles.items()):
                if isinstance(role, Regression):
                    first_run = next((p.index for p in job.plans if p.kind == "ok" and p.commit >= role.bad), None)
                    if first_run is None:
                        del job.roles[test]
                    else:
                        role.first_run = first_run

    def _job(self, k: int) -> Job:
        if k < len(JOBS):
            name, platform, network, upgrade, presubmit, retries, install = JOBS[k]
        else:
            platform, network, upgrade = PLATFORMS[k % 6], ("ovn", "sdn")[k // 6 % 2], ("none", "micro", "minor")[k % 3]
            middle = {"none": "", "micro": "", "minor": "upgrade-from-stable-4.17-"}[upgrade]
            name = (f"periodic-ci-openshift-release-master-ci-{RELEASE}-{middle}e2e-{platform}-{network}"
                    f"{'' if upgrade == 'none' else '-upgrade'}-{k}")
            presubmit, retries, install = False, k % 2 == 0, k % 3 == 0
        variants = {"platform": platform, "network": network, "upgrade": upgrade}
        return Job(name, k, variants, presubmit, retries, install)

    def _name(self, rng: Random, used: set[str], suffix: str) -> str:
        for _ in range(50):
            sig, subject = rng.choice(SUBJECTS)
            phrase, _, suite = suffix.rpartition(" [Suite:")
            suite = f" [Suite:{suite}" if suffix else rng.choice(SUITE_TAGS)
            name = f"[{sig}] {subject} should {rng.choice(BEHAVIORS)}{phrase}{rng.choice(TAGS)}{suite}"
            if name not in used:
                used.add(name)
                return name
        name = f"[sig-arch] generated check {len(used)} should pass{suffix or SUITE_TAGS[0]}"
        used.add(name)
        return name

    def _info(self, rng: Random, name: str) -> None:
        area = name[5:name.index("]")] if name.startswith("[sig-") else "installer"
        word = re.sub(r"[^a-z]", "", name.split("] ", 1)[-1].split(" ")[0].lower()) or "e2e"
        source = f"github.com/openshift/origin/test/extended/{area}/{word}.go:{rng.randrange(30, 1500)}"
        median = math.exp(rng.uniform(math.log(0.5), math.log(240)))
        if name in INSTALL_TESTS:
            median *= 10
        self.tests[name] = TestInfo(name, quoteattr(name), math.log(median), rng.uniform(0.08, 0.35), source)

    def _plan(self, job: Job, runs: int) -> None:
        rng = Random(f"{self.seed}/plan/{job.name}")
        span = (self.end - 3 * HOUR - self.start) / runs
        n_pending = max(1, round(runs * 0.01))
        open_prs: list[list[Any]] = []
        next_pr = 30000 + rng.randrange(500)
        for i in range(runs):
            start = int(self.start + (i + rng.uniform(0.05, 0.95)) * span)
            commit = bisect.bisect_right(self.commit_times, start) - 1
            ms = start * 1000 + rng.randrange(1000) - SNOWFLAKE_EPOCH_MS
            build = str((ms << 22) | ((job.index % 1024) << 12) | (i % 4096))
            cluster, node = self.nodes[rng.randrange(len(self.nodes))]
            kind = "ok"
            if i >= runs - n_pending:
                kind = "pending"
            elif job.presubmit and rng.random() < 0.02:
                kind = "aborted"
            elif rng.random() < (0.12 if node == self.hotspot else 0.022):
                kind = "infra-install" if job.install and rng.random() < 0.5 else "infra-lease"
            plan = RunPlan(i, start, commit, build, kind, cluster, node)
            if job.presubmit:
                if not open_prs or rng.random() < 0.45:
                    next_pr += rng.randrange(1, 30)
                    open_prs = (open_prs + [[next_pr, 0, rng.choice(("alice", "bob", "carol", "dan", "erin"))]])[-4:]
                pr = rng.choice(open_prs)
                if rng.random() < 0.3:
                    pr[1] += 1  # a new push to the pull request
                plan.pr, plan.author = pr[0], pr[2]
                plan.pr_sha = hashlib.sha1(f"{self.seed}:pr:{pr[0]}:{pr[1]}".encode()).hexdigest()
            job.plans.append(plan)

