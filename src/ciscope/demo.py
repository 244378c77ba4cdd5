"""A realistic synthetic CI history with its ground truth, for ``ciscope demo`` and for
measuring the analyses against known answers.

:func:`generate` writes Prow/GCS run folders (``logs/<job>/<build>/`` and, for the presubmit
job, ``pr-logs/pull/<org>_<repo>/<pr>/<job>/<build>/``) holding ``started.json``,
``finished.json``, ``prowjob.json``, ``build-log.txt`` and OpenShift-style JUnit reports,
plus ``truth.json``: which tests are flaky, which regressed at which build, which are
broken, which runs hit infrastructure trouble, what every known bug and unknown failure
family looks like, and the one cause of every failing test in every run.

Everything comes from ``random.Random`` seeded from ``seed`` (one generator per job plan and
one per run), so the same arguments give byte-identical files. See docs/demo.md.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from random import Random
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .errors import UsageError

__all__ = ["generate"]

RELEASE = "4.18"
ORG, REPO, BRANCH = "openshift", "origin", "main"
URL_PREFIX = "https://prow.example.com/view/gs/demo-bucket"
SNOWFLAKE_EPOCH_MS = 1288834974657  # Prow build ids are snowflakes: ms since this << 22
HOUR = 3600

# name, platform, network, upgrade, presubmit, retries, install report
JOBS = [
    ("periodic-ci-openshift-release-master-ci-4.18-e2e-aws-ovn", "aws", "ovn", "none", False, True, False),
    ("periodic-ci-openshift-release-master-ci-4.18-upgrade-from-stable-4.17-e2e-gcp-ovn-upgrade",
     "gcp", "ovn", "minor", False, True, True),
    ("pull-ci-openshift-origin-main-e2e-metal-ipi-sdn", "metal", "sdn", "none", True, False, True),
    ("periodic-ci-openshift-release-master-nightly-4.18-e2e-azure-sdn-upgrade", "azure", "sdn", "micro", False, False, False),
    ("periodic-ci-openshift-release-master-nightly-4.18-e2e-vsphere-ovn", "vsphere", "ovn", "none", False, True, True),
    ("periodic-ci-openshift-release-master-ci-4.18-e2e-aws-ovn-upgrade", "aws", "ovn", "micro", False, True, False),
]
PLATFORMS = ("aws", "gcp", "azure", "metal", "vsphere", "ibmcloud")

SUBJECTS = [  # (sig, subject)
    ("sig-network", "Services"), ("sig-network", "Networking Granular Checks: Pods"), ("sig-network", "NetworkPolicy"),
    ("sig-network", "DNS"), ("sig-network", "EgressFirewall"), ("sig-network-edge", "Router"),
    ("sig-network-edge", "Conformance Area Networking Feature Router"), ("sig-node", "Pods"),
    ("sig-node", "Container Runtime"), ("sig-node", "Kubelet"), ("sig-node", "Probing container"),
    ("sig-storage", "CSI Volumes"), ("sig-storage", "PersistentVolumes"), ("sig-storage", "Projected configMap"),
    ("sig-apps", "Deployment"), ("sig-apps", "StatefulSet"), ("sig-apps", "Job"), ("sig-apps", "CronJob"),
    ("sig-apps", "DaemonSet"), ("sig-api-machinery", "CustomResourceDefinition"), ("sig-api-machinery", "Garbage collector"),
    ("sig-api-machinery", "Watchers"), ("sig-api-machinery", "ResourceQuota"), ("sig-auth", "ServiceAccounts"),
    ("sig-auth", "OAuth server"), ("sig-auth", "RBAC"), ("sig-cli", "oc adm"), ("sig-cli", "Kubectl client"),
    ("sig-instrumentation", "Prometheus"), ("sig-scheduling", "SchedulerPredicates"),
    ("sig-builds", "build with docker strategy"), ("sig-imageregistry", "Image registry"), ("sig-etcd", "etcd"),
    ("sig-arch", "Managed cluster"), ("sig-operator", "OLM"), ("sig-cluster-lifecycle", "Machine API"),
]
BEHAVIORS = [
    "serve a basic endpoint from pods", "function for intra-pod communication: http", "be able to handle large requests",
    "provide DNS for the cluster", "be able to create a functioning NodePort service", "preserve source pod IP for traffic",
    "be restarted with a exec liveness probe", "run through the lifecycle of a pod", "not be ready with an exec readiness probe timeout",
    "support seccomp runtime/default", "have their auto-restart back-off timer reset on image update",
    "provision storage with defaults", "mount projected volumes with defaultMode set", "resize volume when PVC is edited",
    "run the lifecycle of a Deployment", "scale a replication controller", "perform rolling updates and roll backs",
    "adopt matching orphans and release non-matching pods", "schedule multiple jobs concurrently", "run and stop complex daemon",
    "orphan pods created by rc if delete options say so", "observe add, update, and delete watch notifications",
    "create a ResourceQuota and capture the life of a pod", "mount an API token into pods", "grant a token with the correct scopes",
    "validate NodePort requests", "run must-gather and collect audit logs", "create and delete a namespace",
    "report telemetry if a cloud.openshift.com token is present", "validate resource limits of pods that are allowed to run",
    "start a build and wait for it to complete", "push images to the integrated registry", "recover from a member restart",
    "ensure control plane operators do not make themselves unevictable", "install an operator from a catalog source",
    "scale a machineset up and down", "enforce egress rules to external hosts", "allow ingress access on one named port",
    "reject connections to services with no endpoints", "expose metrics with a valid certificate",
]
TAGS = ("", "", "", " [Conformance]", " [apigroup:apps.openshift.io]", " [Slow]", " [Feature:NetworkPolicy]", " [Skipped:Disconnected]")
SUITE_TAGS = (" [Suite:openshift/conformance/parallel]", " [Suite:openshift/conformance/parallel] [Suite:k8s]",
              " [Suite:openshift/conformance/parallel/minimal]")
SPECIAL_NAMES = [  # exercise attribute escaping: quotes, ampersand, angle brackets
    '[sig-storage] In-tree Volumes [Driver: local][LocalVolumeType: dir-link] [Testpattern: Pre-provisioned PV (default fs)]'
    ' subPath should support "readOnly" directory specified in the volumeMount [Suite:openshift/conformance/parallel] [Suite:k8s]',
    "[sig-cli] oc explain should contain proper fields for CRDs & their <nested> types [Suite:openshift/conformance/parallel]",
    "[sig-arch] Managed cluster should ensure platform components have system-* priority class associated"
    " [Suite:openshift/conformance/parallel]",
]
INSTALL_TESTS = ["install should succeed: infrastructure", "install should succeed: configuration",
                 "install should succeed: cluster bootstrap", "install should succeed: cluster creation",
                 "install should succeed: overall"]
OPERATORS = ("kube-apiserver", "etcd", "authentication", "ingress", "network", "machine-config", "monitoring", "dns")

FLAKE_MESSAGES = [
    "Timed out after {sec}s. Expected <bool>: false to be true",
    "timed out waiting for the condition",
    "context deadline exceeded waiting for pods in namespace {ns} to be ready",
    'Get "https://{host}:{port}/healthz": net/http: request canceled while waiting for connection'
    " (Client.Timeout exceeded while awaiting headers)",
    'error waiting for deployment "{pod}" status to match expectation: timed out waiting for the condition',
]
REGRESSION_MESSAGES = [
    'expected 3 endpoints for service "e2e-endpoints", found 2',
    'admission webhook "validation.machine.openshift.io" denied the request: spec.providerSpec: Invalid value: "null"',
    'unexpected condition Degraded=True on clusteroperator/network: RolloutHung: DaemonSet "ovnkube-node" rollout is not progressing',
    'error getting metric "apiserver_request_total": no data points found for job="apiserver"',
    "route status did not report Admitted=True for ingresscontroller default: HostAlreadyClaimed",
    'pod "e2e-exec" exited with code 137, expected 0 (OOMKilled at memory limit 64Mi)',
]
BROKEN_MESSAGES = [
    'Expected <[]string | len:1, cap:1>: ["openshift-monitoring/alertmanager-main"] to be empty',
    "Expected <int>: 1 to equal <int>: 0 (unexpected pods in CrashLoopBackOff)",
    'the server could not find the requested resource (get imagestreams.image.openshift.io "tools")',
]

# id, title, signature (in both the failure message and the log line), log source, variant
# filter, number of target tests, window ("always", "introduced", "fixed"), hit rate per run
# (id, title, signature, log source, variants it needs, target tests, window, rate per run)
BUGS: list[tuple[str, str, str, str, dict[str, Any], int, str, float]] = [
    ("OCPBUGS-12345", "etcd leader changes during e2e make API requests time out",
     "etcdserver: request timed out, possibly due to previous leader failure (leader {hex16}, term {int})",
     "etcd-{node}", {}, 3, "always", 0.05),
    ("OCPBUGS-23817", "kube-apiserver refuses connections on :6443 during graceful termination",
     "dial tcp {ip}:6443: connect: connection refused", "kube-apiserver-{node}", {}, 2, "fixed", 0.06),
    ("OCPBUGS-30241", "ovnkube-controller times out waiting for OVS port binding",
     "failed to configure pod interface: timed out waiting for OVS port binding (ovn-installed) for {mac} [{ns}/{pod}]",
     "ovnkube-node-{x5}/ovnkube-controller", {"network": ("ovn",)}, 2, "introduced", 0.05),
    ("OCPBUGS-31552", "openshift-sdn hands out an IP that is still allocated",
     'error adding container to network "openshift-sdn": {ip} has been allocated to {ns}/{pod}, duplicate allocation is not allowed',
     "sdn-{x5}/sdn", {"network": ("sdn",)}, 1, "always", 0.04),
    ("OCPBUGS-33003", "image-registry answers 500 on blob upload",
     "blob upload {uuid} failed: received unexpected HTTP status: 500 Internal Server Error",
     "image-registry-{pod}", {}, 2, "always", 0.04),
    ("OCPBUGS-34190", "AWS machines stuck in Provisioned without a private IP",
     "machine {node} stuck in phase Provisioned: instance i-{hex17} has no private IP address",
     "machine-api-controllers/machine-controller", {"platform": ("aws",)}, 1, "always", 0.05),
    ("OCPBUGS-35567", "operators stay Progressing for too long during upgrade",
     "clusteroperator/{operator} is still Progressing=True after {int}m: NodeInstallerProgressing",
     "cluster-version-operator", {"upgrade": ("minor", "micro")}, 2, "introduced", 0.06),
    ("OCPBUGS-36620", "OAuth tokens rejected right after signing key rotation",
     "oauth token sha256~{b64} rejected with 401 Unauthorized right after rotation of signing key {hex8}",
     "oauth-openshift-{pod}", {}, 2, "fixed", 0.04),
    ("OCPBUGS-37788", "kubelet PLEG stalls on busy nodes",
     "PLEG is not healthy: pleg was last seen active {dur} ago; threshold is 3m0s",
     "kubelet[{int}]", {"platform": ("metal", "vsphere", "azure")}, 3, "always", 0.04),
    ("OCPBUGS-38852", "in-cluster DNS misbehaves for the image registry service",
     "lookup image-registry.openshift-image-registry.svc on {ip}:53: server misbehaving",
     "dns-default-{x5}/dns", {}, 1, "always", 0.03),
]
# family, failure message template, log line template, hit rate per run
FAMILIES = [
    ("sandbox-deadline",
     "failed to create pod sandbox for {ns}/{pod}: rpc error: code = DeadlineExceeded desc = context deadline exceeded",
     'kubelet: "CreatePodSandbox for pod failed" err="context deadline exceeded" pod="{ns}/{pod}" sandbox="{hex64}" node="{node}"',
     0.035),
    ("registry-reset",
     'error pulling image "registry.build{int}.ci.example.com/ci-op-{x8}/pipeline@sha256:{hex64}":'
     " read tcp {ip}:{port}->{ip}:443: read: connection reset by peer",
     "crio: pulling sha256:{hex64} from {ip}:{port} failed: connection reset by peer", 0.03),
    ("nil-map-panic",
     'Observed a panic: "assignment to entry in nil map" (goroutine {int} [running], pc=0x{hex12})',
     "panic: assignment to entry in nil map [recovered] k8s.io/apimachinery/pkg/util/runtime.logPanic(0x{hex12}, 0xc{hex9})",
     0.025),
    ("watch-stream",
     "unable to decode an event from the watch stream: stream error: stream ID {int}; INTERNAL_ERROR; received from peer {ip}:{port}",
     "reflector.go:{int}] watch of *v1.Pod ended with: stream error: stream ID {int}; INTERNAL_ERROR", 0.03),
    ("conflict-modified",
     'Operation cannot be fulfilled on machines.machine.openshift.io "{node}": the object has been modified;'
     " please apply your changes to the latest version and try again (uid={uuid}, resourceVersion={int})",
     "machine-controller: conflict updating machine {node} uid={uuid} resourceVersion={int} at {time}", 0.03),
]

PLACEHOLDER = re.compile(r"\{(\w+)\}")
PATTERNS = {
    "ip": r"\d{1,3}(?:\.\d{1,3}){3}", "port": r"\d+", "int": r"\d+", "sec": r"\d+(?:\.\d+)?",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "mac": r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}",
    "ns": r"[a-z0-9-]+", "pod": r"[a-z0-9-]+", "node": r"[a-z0-9.-]+", "host": r"[a-z0-9.-]+", "operator": r"[a-z-]+",
    "dur": r"[0-9hms.]+", "time": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", "b64": r"[A-Za-z0-9_-]+",
    "x5": r"[a-z0-9]{5}", "x8": r"[a-z0-9]{8}",
}
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
WORDS = ("router", "dns", "build", "deployment", "quota", "scc", "egress", "csi", "cli", "prometheus")
POD_BASES = ("router-default", "console", "thanos-querier", "packageserver", "apiserver", "oauth-openshift")


def _alnum(rng: Random, n: int) -> str:
    return "".join(rng.choices(ALNUM, k=n))


# Kubernetes' generateName / pod-template-hash alphabet: no vowels, no 0, 1, 3 (k8s.io/apimachinery
# pkg/util/rand), so that real pod, namespace and machine suffixes look like this.
K8S_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _k8s(rng: Random, n: int) -> str:
    return "".join(rng.choices(K8S_SAFE, k=n))


def _iso(t: float, ms: bool = False) -> str:
    stamp = datetime.fromtimestamp(t, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{stamp.microsecond // 1000:03d}Z" if ms else "Z")


def _duration(seconds: float) -> str:
    s = int(seconds)
    return (f"{s // 3600}h" if s >= 3600 else "") + f"{s % 3600 // 60}m{s % 60}s"


def _value(name: str, rng: Random, t: float) -> str:
    if name.startswith("hex"):
        n = int(name[3:])
        return f"{rng.getrandbits(4 * n):0{n}x}"
    if name == "ip":
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if name in ("int", "port"):
        return str(rng.randrange(1024, 65536) if name == "port" else rng.randrange(1, 100000))
    if name == "sec":
        return f"{rng.choice((30, 60, 120, 300, 600))}.{rng.randrange(1000):03d}"
    if name == "uuid":
        h = f"{rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if name == "mac":
        return "0a:58:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(4))
    if name == "ns":
        return f"e2e-test-{rng.choice(WORDS)}-{_k8s(rng, 5)}"
    if name == "pod":
        return f"{rng.choice(POD_BASES)}-{_k8s(rng, rng.choice((9, 10)))}-{_k8s(rng, 5)}"
    if name == "node":
        return f"ci-op-{_alnum(rng, 8)}-{_k8s(rng, 5)}-worker-{rng.choice('abc')}-{_k8s(rng, 5)}"
    if name == "host":
        return f"test-{_alnum(rng, 5)}.apps.ci-op-{_alnum(rng, 8)}.example.com"
    if name == "operator":
        return rng.choice(OPERATORS)
    if name == "dur":
        return f"{rng.randrange(3, 12)}m{rng.randrange(60)}.{rng.randrange(1000):03d}s"
    if name == "time":
        return _iso(t + rng.uniform(0, 3000), ms=True)
    if name == "b64":
        return "".join(rng.choices(ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", k=43))
    if name in ("x5", "x8"):
        return _alnum(rng, int(name[1:]))
    raise KeyError(name)


def _render(template: str, rng: Random, t: float) -> str:
    """Fill every ``{placeholder}`` of a template with a fresh random value."""
    return PLACEHOLDER.sub(lambda m: _value(m.group(1), rng, t), template)


def _regex(template: str) -> str:
    """A Python/RE2/PostgreSQL-compatible regex matching every rendering of a template."""
    parts, pos = [], 0
    for m in PLACEHOLDER.finditer(template):
        name = m.group(1)
        parts.append(_escape(template[pos:m.start()]))
        parts.append(f"[0-9a-f]{{{name[3:]}}}" if name.startswith("hex") else PATTERNS[name])
        pos = m.end()
    parts.append(_escape(template[pos:]))
    return "".join(parts)


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


def _escape(text: str) -> str:
    # not re.escape: it also escapes spaces, which RE2 (DuckDB) and others reject or misread
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


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
    roles: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # test -> role
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
                job.roles[test] = ("regression", bad, None, rate, message)
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
                job.roles[test] = ("flake", rate, FLAKE_MESSAGES[rng.randrange(len(FLAKE_MESSAGES))])
            if job.index == 1 or job.index == 4 or n_jobs == 1:
                first = specific[0] if specific[0] in candidates else candidates[0]
                candidates.remove(first)
                for test, message in zip((first, candidates.pop()), rng.sample(BROKEN_MESSAGES, 2)):
                    job.roles[test] = ("broken", message)
            for _ in range(max(2, tests_per_job // 40)):
                job.roles[candidates.pop()] = ("skip", f"skip [github.com/openshift/origin/test/extended/util/framework.go:"
                                                        f"{rng.randrange(200, 2000)}]: Not supported on {job.variants['platform']}")
        self.slowdowns = []
        for test in rng.sample(shared, 2):
            info = self.tests[test]
            info.slow_from = int(n_commits * rng.uniform(0.4, 0.7))
            info.slow_factor = round(rng.uniform(1.8, 3.0), 2)
            self.slowdowns.append({"test": test, "from_commit": self.commits[info.slow_from][0], "factor": info.slow_factor})

        clusters = ("build01", "build02", "build03", "build05")
        self.nodes = [(c, f"{c}-{_alnum(rng, 5)}-worker-{z}-{_alnum(rng, 5)}") for c in clusters for z in "abc"]
        self.hotspot = self.nodes[rng.randrange(len(self.nodes))][1]
        for job in self.jobs:
            self._plan(job, runs_per_job)
        for job in self.jobs:  # first_bad_build: first run with results at or after the bad commit
            for test, role in list(job.roles.items()):
                if role[0] == "regression":
                    first_run = next((p.index for p in job.plans if p.kind == "ok" and p.commit >= role[1]), None)
                    if first_run is None:
                        del job.roles[test]
                    else:
                        job.roles[test] = (role[0], role[1], first_run, role[3], role[4])

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
    truth: dict[str, Any] = {
        "seed": seed, "end": _iso(end_ts),
        "params": {"days": days, "runs_per_job": runs_per_job, "tests_per_job": tests_per_job, "jobs": jobs},
        "jobs": {j.name: {"variants": j.variants, "retries": j.retries, "presubmit": j.presubmit,
                          "type": "presubmit" if j.presubmit else "periodic",
                          "tests": sum(len(t) for _, _, t in j.files)} for j in sc.jobs},
        "commits": [{"sha": sha, "time": _iso(t)} for sha, t in sc.commits],
        "flaky": [], "regressions": [], "broken": [], "skipped": [], "infra_runs": [], "pending_runs": [],
        "aborted_runs": [], "failures": [], "infra_hotspot": sc.hotspot, "slowdowns": sc.slowdowns,
        "durations": {n: {"median": round(math.exp(i.mu), 3), "sigma": round(i.sigma, 3)} for n, i in sc.tests.items()},
        "bugs": {}, "unknown_families": {}, "timing": _timing_truth(sc),
        "disruption": {"backends": [b[0] for b in BACKENDS], "alerts": [a[0] for a in ALERTS], "worse_runs": []},
    }
    example = Random(f"{seed}/examples")
    for bug in sc.bugs:
        truth["bugs"][bug["id"]] = {
            "title": bug["title"], "regex": _regex(bug["signature"]), "signature": bug["signature"],
            "message": f"fail [{sc.tests[bug['tests'][0]].source}]: {_render(bug['signature'], example, end_ts)}",
            "log_line": f"{_render(bug['source'], example, end_ts)}: {_render(bug['signature'], example, end_ts)}",
            "tests": bug["tests"], "jobs": bug["jobs"], "rate": bug["rate"],
            "introduced_commit": sc.commits[bug["lo"]][0] if bug["lo"] else None,
            "fixed_commit": sc.commits[bug["hi"]][0] if bug["hi"] < len(sc.commits) else None}
    for name, msg, log, rate, tests in sc.families:
        truth["unknown_families"][name] = {"template": msg, "log_template": log, "regex": _regex(msg),
                                           "log_regex": _regex(log), "tests": tests, "rate": rate}
    for job in sc.jobs:
        for test, role in job.roles.items():
            if role[0] == "flake":
                truth["flaky"].append({"job": job.name, "test": test, "rate": role[1]})
            elif role[0] == "regression":
                plan = job.plans[role[2]]
                truth["regressions"].append({"job": job.name, "test": test, "first_bad_build": plan.build,
                                             "first_bad_commit": sc.commits[role[1]][0], "fail_rate": role[3],
                                             "message": role[4]})
            elif role[0] in ("broken", "skip"):
                truth["broken" if role[0] == "broken" else "skipped"].append({"job": job.name, "test": test})
    for key in ("flaky", "regressions", "broken", "skipped"):
        truth[key].sort(key=lambda row: (row["job"], row["test"]))

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
        log.append(f"{level}[{_iso(t)}] {line}")

    say(f"ci-operator version v0.0.0-{_alnum(rng, 7)}", advance=0)
    say(f"Loading configuration from https://config.ci.openshift.org for {ORG}/{REPO}@{BRANCH}")
    merging = f", merging: #{plan.pr} {plan.pr_sha[:8]} @{plan.author}" if plan.pr_sha else ""
    say(f"Resolved source https://github.com/{ORG}/{REPO} to {BRANCH}@{sha[:8]}{merging}")
    namespace = f"ci-op-{_alnum(rng, 8)}"
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
        say(f"Provisioning cluster {namespace}-{_alnum(rng, 5)} on {platform}", advance=5)
    if plan.kind == "infra-install":
        reports.append(_install_failure(rng, sc, row, truth))
        say('level=error msg="Bootstrap failed to complete: waited 45m0s for the Kubernetes API"', "ERROR", 2700)
    if plan.kind in ("ok", "pending", "aborted"):
        install = rng.uniform(1800, 3000)
        t += install
        say(f"Step {job.step}-ipi-install-install succeeded after {_duration(install)}.", advance=0)
        say(f"Running step {job.step}-openshift-e2e-test.")
        say("Running tests: openshift-tests run openshift/conformance/parallel", advance=30)
    if plan.kind == "aborted":
        say("Received signal, cancelling job: superseded by a newer run of the pull request", "ERROR", 900)
    if plan.kind == "ok":
        reports, failed = _e2e(rng, sc, job, plan, t, row, truth, log)
        runtime = sum(r[5] for r in reports) / 8  # openshift-tests runs about 8 tests at a time
        t += runtime
        say(f"Step {job.step}-openshift-e2e-test {'failed' if failed else 'succeeded'} after {_duration(runtime)}.", advance=0)

    state = {"ok": "failure" if failed else "success", "pending": "pending", "aborted": "aborted",
             "infra-lease": "error", "infra-install": "error"}[plan.kind]
    if plan.kind != "pending":
        say(f"Running step {job.step}-gather-must-gather.", advance=300)
        say(f"Releasing leases for test {job.step}", advance=30)
        say(f"Ran for {_duration(t - plan.start)}")
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
            log.append(f"{_iso(t + rng.uniform(60, 1800), ms=True)} {_render(bug['source'], rng, t)}: "
                       f"{_render(bug['signature'], rng, t)}")
    family_hits: dict[str, int] = {}
    for f, (_, _, log_template, rate, candidates) in enumerate(sc.families):
        if rng.random() < rate:
            family_hits.update(dict.fromkeys(rng.sample(candidates, 1 if rng.random() < 0.7 else 2), f))
            log.append(f"{_iso(t + rng.uniform(60, 1800), ms=True)} {_render(log_template, rng, t)}")
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
            if role is None or role[0] == "flake":
                if name in bug_hits:
                    bug = sc.bugs[bug_hits[name]]
                    cause, message = f"bug:{bug['id']}", bug["signature"]
                elif name in family_hits:
                    family = sc.families[family_hits[name]]
                    cause, message = f"unknown:{family[0]}", family[1]
                elif role is not None and rng.random() < role[1]:
                    cause, message = "flake", role[2]
            elif role[0] == "skip":
                cases.append(f'<testcase name={info.quoted} time="0.000"><skipped message={quoteattr(role[1])}/></testcase>')
                skips += 1
                continue
            elif role[0] == "broken":
                cause, message = "broken", role[1]
            elif plan.index >= role[2] and (plan.index == role[2] or rng.random() < role[3]):
                cause, message = "regression", role[4]
            if cause is None:
                if rng.random() < 0.02:
                    cases.append(f'<testcase name={info.quoted} time="{d:.3f}"><system-out>STEP: Creating a kubernetes'
                                 f' client\nSTEP: Waiting for a default service account</system-out></testcase>')
                else:
                    cases.append(f'<testcase name={info.quoted} time="{d:.3f}"/>')
                n_pass += 1
                continue
            cases.append(_fail(rng, info, f"fail [{info.source}]: {_render(str(message), rng, t)}", d))
            fails += 1
            when = _iso(t + (elapsed + total_time) / 8)
            log.append(f'failed: ({d:.1f}s) {when} "{name}"')
            attempts = ["failed"]
            if job.retries and kind != "install":  # openshift-tests retries at the end of the file
                again = math.exp(info.mu + info.sigma * rng.gauss(0, 1))
                if cause == "flake":
                    retries.append(f'<testcase name={info.quoted} time="{again:.3f}"/>')
                    attempts.append("passed")
                    flaked_names.append(name)
                else:
                    retries.append(_fail(rng, info, f"fail [{info.source}]: {_render(str(message), rng, t)}", again))
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
    log.append(f"{'error: ' if failed_names else ''}{verdict}{n_pass} pass, {n_skip} skip ({_duration(elapsed / 8)})")
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
    status: dict[str, Any] = {"state": state, "startTime": _iso(created), "pendingTime": _iso(pending),
                              "build_id": plan.build, "pod_name": pod, "url": f"{URL_PREFIX}/{rel}",
                              "description": descriptions[state]}
    if state != "pending":
        status["completionTime"] = _iso(finish + rng.randrange(1, 30))
    _dump(folder / "prowjob.json", {
        "apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
        "metadata": {"name": pod, "namespace": "ci", "creationTimestamp": _iso(created), "labels": labels},
        "spec": {"type": kind, "agent": "kubernetes", "cluster": plan.cluster, "namespace": "ci-tests",
                 "job": job.name, "refs": refs, "report": job.presubmit},
        "status": status})


# OpenShift disruption artifacts (docs/disruption.md). Backend, connection type, share of runs
# with any disruption, median and sigma (lognormal) of the disrupted seconds; upgrades disrupt
# more (UPGRADE_FACTOR × the share, × the seconds). A few runs are genuinely worse: one backend
# is down for minutes (truth "disruption.worse_runs").
BACKENDS = [
    ("kube-api-new-connections", "New", 0.15, 2.0, 0.6),
    ("kube-api-reused-connections", "Reused", 0.10, 1.5, 0.5),
    ("openshift-api-new-connections", "New", 0.15, 2.0, 0.6),
    ("oauth-api-reused-connections", "Reused", 0.08, 1.5, 0.5),
    ("ingress-to-console-new-connections", "New", 0.30, 3.0, 0.6),
    ("image-registry-new-connections", "New", 0.20, 2.0, 0.6),
]
ALERTS = [  # name, namespace, level, share of runs, median seconds, sigma
    ("KubePodNotReady", "openshift-etcd", "Warning", 0.12, 60.0, 0.8),
    ("etcdMembersDown", "openshift-etcd", "Critical", 0.03, 30.0, 0.6),
    ("TargetDown", "openshift-monitoring", "Warning", 0.08, 120.0, 0.7),
]
UPGRADE_FACTOR = 4.0
WORSE_RATE = 0.03


def _write_disruption(junit: Path, seed: int, job: Job, plan: RunPlan, stamp: str, truth: dict[str, Any]) -> None:
    """backend-disruption, alerts and cluster-data files of a run that ran its e2e tests: one
    set per phase for upgrade jobs (the seconds split between them), as openshift-tests writes."""
    from .analysis.disruption import format_go_duration

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
def _timing_truth(sc: Scenario) -> dict[str, Any]:
    """Ground truth of the lifecycle events: one slow worker (its provision phase takes
    ``slow_factor`` times as long) and two stalled runs (their boot hangs; a ``stall`` event)."""
    slow = min(n for _, n in sc.nodes if n != sc.hotspot)
    ok = [p for p in sc.jobs[0].plans if p.kind == "ok"]
    stalls = [{"job": sc.jobs[0].name, "build": ok[len(ok) * k // 3].build} for k in (1, 2)] if len(ok) >= 3 else []
    return {"slow_worker": slow, "slow_phase": "provision", "slow_factor": 2.2, "stalls": stalls, "stall_phase": "boot"}


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
        lines.append(json.dumps({"run": plan.build, "event": name, "emitted_at": _iso(at, ms=True),
                                 "received_at": _iso(received, ms=True), "worker": plan.node,
                                 "device_group": plan.cluster, "requestor": requestor}, sort_keys=True))
    (folder / "artifacts" / "events.jsonl").write_text("\n".join(lines) + "\n")


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, sort_keys=True, indent=2) + "\n")


if __name__ == "__main__":  # python -m ciscope.demo OUT
    import sys

    facts = generate(sys.argv[1] if len(sys.argv) > 1 else "demo-data", end=datetime(2025, 1, 31, tzinfo=timezone.utc))
    print(f"{len(facts['failures'])} failures over {len(facts['jobs'])} jobs; truth in truth.json")
