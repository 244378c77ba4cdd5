"""What the demo history is made of: its jobs, test names, messages, known bugs, unknown
failure families, disruption backends, and the text helpers that render and match them."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from random import Random
from typing import Any

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


def alnum(rng: Random, n: int) -> str:
    return "".join(rng.choices(ALNUM, k=n))


# Kubernetes' generateName / pod-template-hash alphabet: no vowels, no 0, 1, 3 (k8s.io/apimachinery
# pkg/util/rand), so that real pod, namespace and machine suffixes look like this.
K8S_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def k8s(rng: Random, n: int) -> str:
    return "".join(rng.choices(K8S_SAFE, k=n))


def iso(t: float, ms: bool = False) -> str:
    stamp = datetime.fromtimestamp(t, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{stamp.microsecond // 1000:03d}Z" if ms else "Z")


def hms(seconds: float) -> str:
    s = int(seconds)
    return (f"{s // 3600}h" if s >= 3600 else "") + f"{s % 3600 // 60}m{s % 60}s"


def placeholder_value(name: str, rng: Random, t: float) -> str:
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
        return f"e2e-test-{rng.choice(WORDS)}-{k8s(rng, 5)}"
    if name == "pod":
        return f"{rng.choice(POD_BASES)}-{k8s(rng, rng.choice((9, 10)))}-{k8s(rng, 5)}"
    if name == "node":
        return f"ci-op-{alnum(rng, 8)}-{k8s(rng, 5)}-worker-{rng.choice('abc')}-{k8s(rng, 5)}"
    if name == "host":
        return f"test-{alnum(rng, 5)}.apps.ci-op-{alnum(rng, 8)}.example.com"
    if name == "operator":
        return rng.choice(OPERATORS)
    if name == "dur":
        return f"{rng.randrange(3, 12)}m{rng.randrange(60)}.{rng.randrange(1000):03d}s"
    if name == "time":
        return iso(t + rng.uniform(0, 3000), ms=True)
    if name == "b64":
        return "".join(rng.choices(ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", k=43))
    if name in ("x5", "x8"):
        return alnum(rng, int(name[1:]))
    raise KeyError(name)


def render(template: str, rng: Random, t: float) -> str:
    """Fill every ``{placeholder}`` of a template with a fresh random value."""
    return PLACEHOLDER.sub(lambda m: placeholder_value(m.group(1), rng, t), template)


def regex_of(template: str) -> str:
    """A Python/RE2/PostgreSQL-compatible regex matching every rendering of a template."""
    parts, pos = [], 0
    for m in PLACEHOLDER.finditer(template):
        name = m.group(1)
        parts.append(escape_regex(template[pos:m.start()]))
        parts.append(f"[0-9a-f]{{{name[3:]}}}" if name.startswith("hex") else PATTERNS[name])
        pos = m.end()
    parts.append(escape_regex(template[pos:]))
    return "".join(parts)



def escape_regex(text: str) -> str:
    # not re.escape: it also escapes spaces, which RE2 (DuckDB) and others reject or misread
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


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

