"""Disruption and alert baselines, verdicts and the PR report — OpenShift's rules, pure.

Model (``../shared/reference/openshift.md`` §3, §5; ``docs/disruption.md``):

- **Baseline** per key (backend × release × from-release × platform × architecture × network ×
  topology, grouped also by MasterNodesUpdated as upstream does): P50/P75/P95/P99 by linear
  interpolation between order statistics (SQL ``PERCENTILE_CONT``, NumPy's default), the mean
  and the number of job runs. Kept as upstream keeps: rows with ``MasterNodesUpdated != "N"``
  or no from-release — an upgrade counts only when its control plane was updated ("Y"; NULL is
  dropped too). No minimum sample.
- **Best match** for a run: the exact key with ≥ 100 runs; else the previous release (X.Y →
  X.(Y−1), a from-release likewise) with > 100 runs (≥ 100 for alerts); else skipped.
- **Allowed seconds**: ``a = max(P99, 1)``; ``round(max(a + grace_s, a · grace_f))`` with
  (5 s, 1.2) by default, (10 s, 1.4) for single-node and (60 s, 1.4) for two-replica ("dual")
  topologies; a backend passes iff observed ≤ allowed.
- **Alerts**: above P99 fails, above P95 flakes, with per-alert modifiers.
- **PR report**: new rows of the target and previous release compared with the old rows of
  the same key; P99 up by more than the leeway counts as an increase; the table lists
  increases with ≥ 100 runs sorted by the P95 increase.

Nothing here touches a database: :mod:`ciscope.analysis.disruption_store` feeds it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ingest.disruption import AlertSample, BaselineRow, Baselines, DisruptionSample

MIN_JOB_RUNS = 100
PERCENTILES = (50, 75, 95, 99)
DAY = 86400.0

# (grace seconds, grace factor) per topology; the default for every other topology
GRACE = {"single": (10.0, 1.4), "dual": (60.0, 1.4)}
DEFAULT_GRACE = (5.0, 1.2)

JobType = tuple[str, str, str, str, str, str]  # release, from_release, platform, architecture, network, topology


# -- percentiles and baselines -----------------------------------------------------------


def percentile_cont(values: Sequence[float], q: float) -> float | None:
    """SQL's ``PERCENTILE_CONT(q)``: linear interpolation between the order statistics at
    ``q·(n−1)``. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True, slots=True)
class Sample:
    """One run's seconds for one backend (or alert) with the run's job type."""

    name: str
    release: str
    from_release: str
    platform: str
    architecture: str
    network: str
    topology: str
    seconds: float
    master_nodes_updated: str | None = None
    namespace: str = ""
    level: str = ""


def kept(master_nodes_updated: str | None, from_release: str) -> bool:
    """Upstream's filter ``MasterNodesUpdated != 'N' OR FromRelease = ''`` with SQL's NULL
    semantics: an upgrade counts only with MasterNodesUpdated = "Y"."""
    return from_release == "" or (master_nodes_updated is not None and master_nodes_updated != "N")


def compute_baselines(samples: Iterable[Sample], *, kind: str = "disruption") -> Baselines:
    """Baselines of in-memory samples (the reference implementation the store's SQL is
    tested against). Rows sorted by key."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for s in samples:
        if not kept(s.master_nodes_updated, s.from_release):
            continue
        key = (s.name, s.namespace, s.level, s.release, s.from_release, s.platform, s.architecture,
               s.network, s.topology, s.master_nodes_updated or "")
        groups.setdefault(key, []).append(float(s.seconds))
    rows = []
    for group in sorted(groups):
        values = np.asarray(groups[group], dtype=float)
        p50, p75, p95, p99 = (float(v) for v in np.percentile(values, PERCENTILES))
        name, namespace, level, release, from_release, platform, arch, network, topology, mnu = group
        rows.append(BaselineRow(
            name=str(name), namespace=str(namespace), level=str(level), release=str(release),
            from_release=str(from_release), platform=str(platform), architecture=str(arch),
            network=str(network), topology=str(topology), master_nodes_updated=str(mnu) or None,
            job_runs=len(values), p50=p50, p75=p75, p95=p95, p99=p99, mean=float(values.mean()),
        ))
    return Baselines(kind=kind, format="current", rows=rows, source="computed")


# -- releases ------------------------------------------------------------------------------

_RELEASE = re.compile(r"^(\d+)\.(\d+)$")


def release_tuple(release: str) -> tuple[int, int] | None:
    match = _RELEASE.match(release)
    return (int(match.group(1)), int(match.group(2))) if match else None


def previous_release(release: str) -> str | None:
    """``4.19`` → ``4.18``; None when there is none (``4.0``, not a release number)."""
    parsed = release_tuple(release)
    if parsed is None or parsed[1] == 0:
        return None
    return f"{parsed[0]}.{parsed[1] - 1}"


def previous_release_upgrade(job_type: JobType) -> JobType | None:
    """origin's ``PreviousReleaseUpgrade`` guess: Release X.Y → X.(Y−1); a FromRelease, if
    set, → X.(fromMinor−1) with the major taken from Release."""
    release, from_release, *rest = job_type
    previous = previous_release(release)
    if previous is None:
        return None
    new_from = from_release
    if from_release:
        parsed, from_parsed = release_tuple(release), release_tuple(from_release)
        if parsed is None or from_parsed is None or from_parsed[1] == 0:
            return None
        new_from = f"{parsed[0]}.{from_parsed[1] - 1}"
    return (previous, new_from, *rest)  # type: ignore[return-value]


# -- best match --------------------------------------------------------------------------


def _level_key(level: str) -> str:
    return level.lower()


class BaselineIndex:
    """Rows by (name, namespace, level, job type); levels compared case-insensitively. Rows
    differing only in MasterNodesUpdated share a key: the one with more runs wins."""

    def __init__(self, baselines: Baselines) -> None:
        self.kind = baselines.kind
        self.source = baselines.source
        self._rows: dict[tuple[str, str, str, JobType], BaselineRow] = {}
        for row in baselines.rows:
            key = (row.name, row.namespace, _level_key(row.level), row.job_type())
            old = self._rows.get(key)
            if old is None or (row.job_runs or 0) > (old.job_runs or 0):
                self._rows[key] = row

    def get(self, name: str, job_type: JobType, *, namespace: str = "", level: str = "") -> BaselineRow | None:
        row = self._rows.get((name, namespace, _level_key(level), job_type))
        if row is None and (namespace or level):  # old alert files: one row per alert name
            row = self._rows.get((name, "", "", job_type))
        return row


@dataclass(frozen=True, slots=True)
class Match:
    """The historical row chosen for a backend or alert, or why there is none."""

    row: BaselineRow | None
    how: str  # exact | previous_release | none
    reason: str = ""


def _enough(row: BaselineRow, minimum: int, *, strictly: bool) -> bool:
    if row.job_runs is None:  # the oldest files have no JobRuns: origin then used every row
        return True
    return row.job_runs > minimum if strictly else row.job_runs >= minimum


def best_match(index: BaselineIndex, name: str, job_type: JobType, *, namespace: str = "", level: str = "",
               alerts: bool = False) -> Match:
    """origin's ``bestMatch``: exact key with ≥ 100 runs, else the previous release with more
    than 100 runs (alerts: ≥ 100), else no match with the reason."""
    exact = index.get(name, job_type, namespace=namespace, level=level)
    if exact is not None and _enough(exact, MIN_JOB_RUNS, strictly=False):
        return Match(exact, "exact")
    guess = previous_release_upgrade(job_type)
    previous = index.get(name, guess, namespace=namespace, level=level) if guess else None
    if previous is not None and _enough(previous, MIN_JOB_RUNS, strictly=not alerts):
        return Match(previous, "previous_release")
    if exact is not None:
        reason = f"only {exact.job_runs} historical runs for this job type ({MIN_JOB_RUNS} needed)"
    else:
        reason = "no historical data for this job type"
    if previous is not None:
        reason += f"; previous release {guess[0] if guess else ''} has only {previous.job_runs}"
    elif guess is not None:
        reason += f"; none for the previous release {guess[0]}"
    return Match(None, "none", reason)


# -- verdicts -----------------------------------------------------------------------------


def go_round(value: float) -> int:
    """Round half away from zero (Go's ``Duration.Round``), not Python's half-to-even."""
    return math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)


def allowed_seconds(p99: float, topology: str) -> int:
    """origin's allowed disruption: ``round(max(a + grace_s, a · grace_f))``, ``a = max(P99, 1)``."""
    grace_s, grace_f = GRACE.get(topology, DEFAULT_GRACE)
    a = max(p99, 1.0)
    return go_round(max(a + grace_s, a * grace_f))


_OWNERS = (
    ("kube-api", "sig-api-machinery"), ("openshift-api", "sig-api-machinery"), ("oauth-api", "sig-api-machinery"),
    ("cache-", "sig-api-machinery"), ("image-registry", "sig-imageregistry"), ("ingress", "sig-network-edge"),
    ("oauth", "sig-network-edge"), ("console", "sig-network-edge"), ("service-load-balancer", "sig-network"),
)


def disruption_test_name(backend: str, connection_type: str) -> str:
    """origin's test name for a backend: ``[sig-…] disruption/<backend> connection/<new|reused>
    should be available throughout the test`` (the sig is ciscope's guess from the name)."""
    suffix = re.search(r"-(new|reused)-connections$", backend)
    base = backend[: suffix.start()] if suffix else backend
    connection = (connection_type or (suffix.group(1) if suffix else "new")).lower()
    owner = next((sig for part, sig in _OWNERS if part in base), "sig-network")
    return f"[{owner}] disruption/{base} connection/{connection} should be available throughout the test"


@dataclass(frozen=True, slots=True)
class DisruptionVerdict:
    """A backend of a run against history."""

    backend: str
    connection_type: str
    test: str
    observed_seconds: int
    verdict: str  # pass | fail | skipped
    allowed_seconds: int | None = None
    match: str = "none"  # exact | previous_release | none
    reason: str = ""
    baseline: BaselineRow | None = None


def judge_backend(sample: DisruptionSample, job_type: JobType, index: BaselineIndex) -> DisruptionVerdict:
    """Pass iff the observed seconds are within the allowed seconds of the best match."""
    test = disruption_test_name(sample.backend, sample.connection_type)
    common = {"backend": sample.backend, "connection_type": sample.connection_type, "test": test,
                  "observed_seconds": sample.seconds}
    if not job_type[2]:
        return DisruptionVerdict(**common, verdict="skipped",  # type: ignore[arg-type]
                                 reason="the run's job type has no platform")
    match = best_match(index, sample.backend, job_type)
    if match.row is None:
        return DisruptionVerdict(**common, verdict="skipped", reason=match.reason)  # type: ignore[arg-type]
    allowed = allowed_seconds(match.row.p99, job_type[5])
    return DisruptionVerdict(**common, verdict="pass" if sample.seconds <= allowed else "fail",  # type: ignore[arg-type]
                             allowed_seconds=allowed, match=match.how, baseline=match.row)


# per-alert modifiers (origin's allowedalerts): never_fail → fail after 24 h; always_flake →
# fail after 24 h, flake after 1 s; fail_on_any → fail after 1 s. Keys: (alert, namespace or "").
ALERT_MODIFIERS: dict[tuple[str, str], str] = {
    ("KubeMemoryOvercommit", ""): "never_fail",
    ("RedhatOperatorsCatalogError", ""): "never_fail",
    ("TargetDown", "kube-system"): "fail_on_any",
}
_NAMESPACE_COMPONENTS = {
    "openshift-etcd": "etcd", "openshift-kube-apiserver": "kube-apiserver", "openshift-monitoring": "monitoring",
    "openshift-ovn-kubernetes": "networking", "openshift-machine-config-operator": "machine config operator",
    "openshift-marketplace": "OLM", "openshift-storage": "storage",
}


def alert_modifier(name: str, namespace: str, level: str) -> str | None:
    """The modifier of an alert test: every ``pending`` test never fails, else the table."""
    if level.lower() == "pending":
        return "never_fail"
    return ALERT_MODIFIERS.get((name, namespace)) or ALERT_MODIFIERS.get((name, ""))


def alert_test_name(name: str, namespace: str, level: str) -> str:
    """origin's ``[bz-<component>][invariant] alert/<Name> should not be at or above <level>
    [in ns/<namespace>]`` (the component is ciscope's guess from the namespace)."""
    component = _NAMESPACE_COMPONENTS.get(namespace, "Unknown")
    where = f" in ns/{namespace}" if namespace else ""
    return f"[bz-{component}][invariant] alert/{name} should not be at or above {level.lower()}{where}"


@dataclass(frozen=True, slots=True)
class AlertVerdict:
    """An alert of a run against history: above P99 fails, above P95 flakes."""

    alert: str
    namespace: str
    level: str
    test: str
    observed_seconds: int
    verdict: str  # pass | flake | fail | skipped
    fail_after: float | None = None
    flake_after: float | None = None
    modifier: str | None = None
    match: str = "none"
    reason: str = ""
    baseline: BaselineRow | None = None


def judge_alert(sample: AlertSample, job_type: JobType, index: BaselineIndex) -> AlertVerdict:
    """Fail above fail_after (P99), flake above flake_after (P95), modifiers applied."""
    test = alert_test_name(sample.name, sample.namespace, sample.level)
    modifier = alert_modifier(sample.name, sample.namespace, sample.level)
    common = {"alert": sample.name, "namespace": sample.namespace, "level": sample.level, "test": test,
                  "observed_seconds": sample.seconds, "modifier": modifier}
    match = best_match(index, sample.name, job_type, namespace=sample.namespace, level=sample.level, alerts=True)
    if modifier == "always_flake":
        fail_after, flake_after = DAY, 1.0
    elif modifier == "fail_on_any":
        fail_after, flake_after = 1.0, 1.0
    elif match.row is None:
        return AlertVerdict(**common, verdict="skipped", reason=match.reason)  # type: ignore[arg-type]
    else:
        fail_after, flake_after = match.row.p99, match.row.p95
        if modifier == "never_fail":
            fail_after = DAY
    if sample.seconds > fail_after:
        verdict = "fail"
    elif sample.seconds > flake_after:
        verdict = "flake"
    else:
        verdict = "pass"
    return AlertVerdict(**common, verdict=verdict, fail_after=fail_after, flake_after=flake_after,  # type: ignore[arg-type]
                        match=match.how, reason=match.reason, baseline=match.row)


@dataclass(slots=True)
class RunCheck:
    """Every backend and alert of one run against history."""

    job: str
    build: str
    job_type: dict[str, str]
    backends: list[DisruptionVerdict] = field(default_factory=list)
    alerts: list[AlertVerdict] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """fail if anything failed, else flake if an alert flaked, else pass."""
        verdicts = {v.verdict for v in self.backends} | {v.verdict for v in self.alerts}
        return "fail" if "fail" in verdicts else "flake" if "flake" in verdicts else "pass"


def check_run(job: str, build: str, job_type: dict[str, str], backends: Sequence[DisruptionSample],
              alerts: Sequence[AlertSample], *, disruption: BaselineIndex, alert_history: BaselineIndex | None) -> RunCheck:
    """Verdicts of a run's backends (all of them) and alerts (those seen for more than 0 s:
    known-but-unseen alerts are zero seconds and pass by definition)."""
    jt: JobType = tuple(job_type[f] for f in ("release", "from_release", "platform", "architecture",  # type: ignore[assignment]
                                              "network", "topology"))
    out = RunCheck(job=job, build=build, job_type=dict(job_type))
    out.backends = [judge_backend(s, jt, disruption) for s in backends]
    if alert_history is not None:
        out.alerts = [judge_alert(a, jt, alert_history) for a in alerts if a.seconds > 0]
    return out


# -- the PR report -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A key whose P99 rose beyond the leeway (values of the new baselines)."""

    name: str
    release: str
    from_release: str
    architecture: str
    network: str
    platform: str
    topology: str
    job_runs: int
    p95: float
    p95_increase_percent: float  # 0 unless above the leeway
    p95_increase: float  # seconds (TimeDiffP95), 0 unless above the leeway
    p99: float
    p99_increase_percent: float
    p99_increase: float
    previous_p95: float
    previous_p99: float


@dataclass(slots=True)
class Comparison:
    """Upstream's ``compareAndUpdate`` of two baseline sets."""

    kind: str
    leeway: float
    releases: list[str]  # target, previous
    added: int = 0
    missing: int = 0
    increased: int = 0
    decreased: int = 0
    increases: list[ReportRow] = field(default_factory=list)  # every key with P99 above leeway
    compared: int = 0

    @property
    def rows(self) -> list[ReportRow]:
        """The table: increases with at least 100 runs, by P95 increase (largest first)."""
        return [r for r in self.increases if r.job_runs >= MIN_JOB_RUNS and r.p99_increase != 0]


def _report_key(row: BaselineRow) -> tuple[str, ...]:
    return (row.name, row.namespace, _level_key(row.level), row.from_release, row.release, row.architecture,
            row.platform, row.network, row.topology)


def _pct(new: float, old: float) -> float:
    return 0.0 if old == 0 else (new - old) / old * 100.0


def compare_baselines(old: Baselines, new: Baselines, *, leeway: float = 30.0, release: str | None = None,
                      previous: str | None = None) -> Comparison:
    """Compare ``new`` with ``old`` for the target ``release`` (default: the newest in
    ``new``) and ``previous`` (default: the release before it), as upstream does."""
    if release is None:
        known = sorted({r.release for r in new.rows if release_tuple(r.release)}, key=release_tuple)  # type: ignore[arg-type]
        release = known[-1] if known else None
    if previous is None and release is not None:
        previous = previous_release(release)
    releases = [r for r in (release, previous) if r]
    out = Comparison(kind=new.kind, leeway=leeway, releases=releases)
    old_rows: dict[tuple[str, ...], BaselineRow] = {}
    for row in old.rows:
        old_rows.setdefault(_report_key(row), row)
    new_keys = {_report_key(r) for r in new.rows}
    out.missing = sum(1 for key in old_rows if key not in new_keys)
    seen: set[tuple[str, ...]] = set()
    for row in new.rows:
        if row.release not in releases:
            continue
        key = _report_key(row)
        if key in seen:
            continue
        seen.add(key)
        before = old_rows.get(key)
        if before is None:
            out.added += 1
            continue
        out.compared += 1
        pct95, pct99 = _pct(row.p95, before.p95), _pct(row.p99, before.p99)
        up95 = row.p95 > before.p95 and pct95 > leeway
        if row.p99 < before.p99:
            out.decreased += 1
        if row.p99 > before.p99 and pct99 > leeway:
            out.increased += 1
            name = row.name if new.kind != "alerts" else " ".join(x for x in (row.name, row.namespace, row.level) if x)
            out.increases.append(ReportRow(
                name=name, release=row.release, from_release=row.from_release, architecture=row.architecture,
                network=row.network, platform=row.platform, topology=row.topology, job_runs=row.job_runs or 0,
                p95=row.p95, p95_increase_percent=pct95 if up95 else 0.0,
                p95_increase=row.p95 - before.p95 if up95 else 0.0,
                p99=row.p99, p99_increase_percent=pct99, p99_increase=row.p99 - before.p99,
                previous_p95=before.p95, previous_p99=before.p99,
            ))
    out.increases.sort(key=lambda r: (-r.p95_increase, -r.p99_increase, r.name, r.release, r.from_release,
                                      r.platform, r.architecture, r.network, r.topology))
    return out


def format_go_duration(seconds: float) -> str:
    """Go's ``time.Duration(seconds·1e9).String()``: ``1m2.5s``, ``500ms``, ``0s``."""
    ns = int(seconds * 1e9)  # Go's float → int conversion truncates
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)

    def frac(value: int, digits: int) -> str:
        whole, rest = divmod(value, 10**digits)
        text = f"{rest:0{digits}d}".rstrip("0")
        return f"{whole}.{text}" if text else str(whole)

    if ns < 1_000_000_000:
        if ns < 1_000:
            return f"{sign}{ns}ns"
        if ns < 1_000_000:
            return f"{sign}{frac(ns, 3)}µs"
        return f"{sign}{frac(ns, 6)}ms"
    secs = frac(ns % 60_000_000_000, 9) + "s"
    minutes_total = ns // 60_000_000_000
    if minutes_total == 0:
        return sign + secs
    hours, minutes = divmod(minutes_total, 60)
    if hours == 0:
        return f"{sign}{minutes}m{secs}"
    return f"{sign}{hours}h{minutes}m{secs}"


def report_markdown(comparison: Comparison) -> str:
    """upstream's ``pr_message.md`` section for one data type."""
    kind = "Alerts" if comparison.kind == "alerts" else "Disruptions"
    lines = [f"## {kind} Information",
             f"There were ({comparison.added}) added jobs and ({comparison.missing}) were removed."]
    if comparison.increased > 0:
        lines += [
            "",
            f"### Comparisons were above allowed leeway of `{comparison.leeway:g}%`",
            (f"Note: For P99, {kind.lower()} had `{comparison.increased}` jobs increased and "
            f"`{comparison.decreased}` jobs decreased."),
            "",
            "<details><summary>Click To Show Table</summary>",
            "",
            "| Name | Release | From | Arch | Network | Platform | Topology | Job Results | P95 | P95 % Increase | P99 | P99 % Increase |",
            "| ---- | ------- | ---- | ---- | ------- | -------- | -------- | ----------- | --- | -------------- | --- | -------------- |",
        ]
        for r in comparison.rows:
            lines.append(
                f"| {r.name} | {r.release} | {r.from_release} | {r.architecture} | {r.network} | {r.platform} | "
                f"{r.topology} | {r.job_runs} | {format_go_duration(r.p95)} | {r.p95_increase_percent:.2f}% | "
                f"{format_go_duration(r.p99)} | {r.p99_increase_percent:.2f}% |"
            )
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


# -- JSON: what `ciscope disruption ... --json` prints and /api/disruption/... returns --------


def baseline_json(row: BaselineRow, kind: str) -> dict[str, Any]:
    """A baseline row of ``ciscope disruption baseline --json``."""
    data = dataclasses.asdict(row)
    name = data.pop("name")
    if kind == "alerts":
        return {"alert": name, **data}
    for key in ("namespace", "level", "first_observed", "last_observed"):
        data.pop(key)
    return {"backend": name, **data}


def _baseline_ref(row: BaselineRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: getattr(row, k) for k in ("release", "from_release", "platform", "architecture", "network", "topology",
                                        "master_nodes_updated", "job_runs", "p95", "p99")}


def check_json(result: RunCheck) -> dict[str, Any]:
    """``ciscope disruption check RUN --json``: a run's verdicts with the history each used."""
    def verdict(v: DisruptionVerdict | AlertVerdict) -> dict[str, Any]:
        data = dataclasses.asdict(v)
        data["baseline"] = _baseline_ref(v.baseline)
        return data

    return {"job": result.job, "build": result.build, "job_type": result.job_type, "verdict": result.verdict,
            "backends": [verdict(v) for v in result.backends], "alerts": [verdict(v) for v in result.alerts]}


def comparison_json(result: Comparison) -> dict[str, Any]:
    """``ciscope disruption report --json``."""
    return {"kind": result.kind, "leeway": result.leeway, "releases": result.releases,
            "added": result.added, "missing": result.missing, "compared": result.compared,
            "increased": result.increased, "decreased": result.decreased,
            "rows": [dataclasses.asdict(r) for r in result.rows]}
