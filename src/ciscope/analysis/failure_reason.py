"""The one structured reason of a failed or incomplete run (openQA's ``reason``, issue 12).

:func:`failure_reason` turns what is known of a run into one :class:`FailureReason`
``{category, component, phase, message, fingerprint, evidence}`` (plus ``tests`` and
``cluster``, which ``unclassified`` and the run page show). The first rule that applies decides
the category:

1. ``stall`` — stopped for slowness: a stall event (``timing.stall_events``) or a reason /
   metadata text matching ``timing.stall_reason`` (openQA's ``timeout: … exceeded``);
2. ``known_bug`` — known bugs' fingerprints explain every failed test (or, with no failed
   test, matched the run's logs);
3. ``stall`` — a phase took longer than its stall threshold (``ciscope timing thresholds``);
4. ``setup`` / ``infra`` — the run's own error text says so (openQA's ``cache failure``,
   ``asset failure``, ``setup failure`` / ``api failure``, ``worker broken``, ``backend died``,
   ``abandoned``, evictions, lost nodes …); a run with status ``error`` is ``infra``;
5. ``incomplete`` — aborted, or reports were left out unreadable and no test failed;
6. ``test_failure`` — tests failed and some failure no known bug explains (``cluster`` is the
   first one's failure cluster);
7. ``setup`` — failed before any test result was written;
8. ``unexplained`` — tests ran, none failed, nothing above says why.

``phase``: the phase that stalled or went over its threshold; else the phase the run's events
left open (started, never ended); else ``test`` when tests failed; else the ``step`` the
run's metadata names; else null — never guessed. ``evidence``: ``{file, line, text}`` items —
log lines the fingerprints matched, stall events and threshold comparisons, the run's error
text, unreadable reports, the first failed tests.

:func:`timing_verdicts` computes what timing says of each run (NumPy over
:class:`~ciscope.analysis.timing.TimingData`, no loop per run except over the verdicts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson

from ..status import FAILED_RUN_STATUSES, RunStatus
from .timing import MEASURED, ThresholdReport, TimingConfig, TimingData, outliers, phase_table, stalled_runs

__all__ = ["CATEGORIES", "FailureReason", "RunFacts", "TimingVerdict", "failure_reason", "timing_verdicts"]

CATEGORIES = ("stall", "known_bug", "setup", "infra", "incomplete", "test_failure", "unexplained")
MAX_EVIDENCE = 10

# openQA's worker reasons (known-failures.md B2) and CI infrastructure failures
_SETUP = re.compile(r"(?i)\b(cache failure|asset failure|setup failure|failed to (?:pull|clone|checkout|download)"
                    r"|image ?pull ?back ?off|errimagepull|could not resolve (?:host|dependencies))")
_INFRA = re.compile(r"(?i)\b(api failure|worker broken|quit: worker|abandoned|backend died|qemu terminated"
                    r"|terminated prematurely|evicted|oomkilled|node (?:lost|not ready)|lost connection|infrastructure"
                    r"|no space left on device|connection (?:refused|reset))")
_EPOCH = datetime(1970, 1, 1)


@dataclass(slots=True)
class FailureReason:
    """Why a run failed or did not complete. ``evidence``: ``{file, line, text}`` (``line``
    null when not a log line)."""

    category: str
    component: str
    phase: str | None
    message: str
    fingerprint: list[str] | None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    cluster: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class TimingVerdict:
    """What timing says of one run: ``stalled`` (stopped for slowness: ``stall_event`` at
    ``stall_at``, or its reason says so), the ``phase`` concerned and — when the phase has a
    threshold — its ``seconds``, ``threshold``, ``ratio`` and the ``samples`` the threshold
    rests on. ``open_phase``: the phase its events left open (started, never ended);
    ``reached``: the phases its events show started."""

    run_id: int
    stalled: bool = False
    stall_event: str | None = None
    stall_at: datetime | None = None
    phase: str | None = None
    seconds: float | None = None
    threshold: float | None = None
    ratio: float | None = None
    samples: int | None = None
    open_phase: str | None = None
    reached: tuple[str, ...] = ()

    @property
    def over(self) -> bool:
        return self.ratio is not None and self.ratio > 1


@dataclass(slots=True)
class RunFacts:
    """What the store knows of a run, as :func:`failure_reason` needs it. ``stored``: the
    ingest-time reason (``runs.reason``: component, message, fingerprint, cluster, tests);
    ``matches``: ``{bug, test, file, line, text}``; ``failures``: (test, first message line)
    of the first failed tests; ``unexplained``: failed tests no known bug explains."""

    run_id: int
    status: str
    tests: int
    failed_tests: int
    stored: Mapping[str, Any]
    metadata: Mapping[str, Any]
    source: str | None = None
    worker: str | None = None
    unexplained: int = 0
    matches: Sequence[Mapping[str, Any]] = ()
    failures: Sequence[tuple[str, str]] = ()


def _when(seconds: float) -> datetime:
    return _EPOCH + timedelta(seconds=float(seconds))


def timing_verdicts(data: TimingData, *, config: TimingConfig, limits: ThresholdReport,
                    now: datetime | None, by: str = "job") -> dict[int, TimingVerdict]:
    """Per run of ``data`` whose events show a phase started: the phases reached, the one left
    open, a phase over its threshold (``limits``), stopped for slowness."""
    if not data.runs:
        return {}
    table = phase_table(data, config.phases)
    names = [p.name for p in config.phases]
    inner = [i for i, p in enumerate(config.phases) if p.name != "total"] or list(range(len(names)))
    out: dict[int, TimingVerdict] = {}

    def verdict(i: int) -> TimingVerdict:
        rid = int(data.run_id[i])
        if rid not in out:
            out[rid] = TimingVerdict(rid)
        return out[rid]

    started = ~np.isnan(table.start[inner])
    for i in np.flatnonzero(started.any(axis=0)):
        verdict(int(i)).reached = tuple(names[inner[k]] for k in np.flatnonzero(started[:, i]))
    # the phase the events left open: started, not ended (the latest such start)
    unended = started & np.isnan(table.end[inner])
    last_open = np.where(unended, table.start[inner], -np.inf).argmax(axis=0)
    for i in np.flatnonzero(unended.any(axis=0)):
        verdict(int(i)).open_phase = names[inner[int(last_open[i])]]
    # phases over their threshold: the largest ratio (a whole run's "total" only when nothing inside is)
    report = outliers(data, by=by, config=config, now=now, limits=limits)
    index = {int(rid): i for i, rid in enumerate(data.run_id)}
    samples = {(t.group, t.phase): t.samples for t in limits.thresholds}
    for o in sorted(report.outliers, key=lambda o: (o.phase == "total", -o.ratio)):
        v = verdict(index[o.run_id])
        if v.ratio is None:
            v.phase, v.seconds, v.threshold, v.ratio = o.phase, o.seconds, o.threshold, o.ratio
            v.samples = samples.get((o.group, o.phase))
    # stopped for slowness: the phase open at the first stall event (the innermost: latest start)
    stalled = stalled_runs(data, config)
    occ = data.occ
    lookup = limits.lookup()
    group_of = {int(rid): g for rid, g in zip(data.run_id, _group_labels(data, by))}
    for i in np.flatnonzero(stalled):
        v = verdict(int(i))
        v.stalled = True
        at, event = np.inf, None
        for name in config.stall_events:
            if name in occ.names and occ.count[occ.names[name], i] and occ.first[occ.names[name], i] < at:
                at, event = float(occ.first[occ.names[name], i]), name
        if event is None:
            continue
        v.stall_event, v.stall_at = event, _when(at)
        begun = [k for k in inner if table.start[k, i] <= at and not table.end[k, i] < at]
        if begun:
            k = max(begun, key=lambda k: table.start[k, i])
            seconds = float(table.end[k, i] if table.state[k, i] == MEASURED else at) - float(table.start[k, i])
            limit = lookup.get((group_of[v.run_id], names[k]))
            v.phase, v.seconds = names[k], round(seconds, 3)
            v.threshold = limit
            v.ratio = round(seconds / limit, 3) if limit else None
            v.samples = samples.get((group_of[v.run_id], names[k])) if limit else None
    return out


def _group_labels(data: TimingData, by: str) -> list[str]:
    from .timing import _groups

    groups = _groups(data, by)
    return [str(groups.labels[g]) for g in groups.index]


def _line(file: str | None, text: str, line: int | None = None) -> dict[str, Any]:
    return {"file": file, "line": line, "text": text[:500]}


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} s"


def _error_text(facts: RunFacts) -> tuple[str, str] | None:
    """(key, text) of the run's own error statement in its metadata (finished.json/started.json
    metadata, an event file's ``error``), if any."""
    for key in ("reason", "error", "failure", "message"):
        value = facts.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return key, value.strip()
    return None


def failure_reason(facts: RunFacts, verdict: TimingVerdict | None = None, *,
                   config: TimingConfig | None = None) -> FailureReason | None:
    """The reason of a failed (``failure``, ``error``), aborted or incomplete run — or of a
    pending run stopped for slowness; None for any other run."""
    config = config or TimingConfig()
    status = facts.status
    incomplete_reports = bool(facts.metadata.get("incomplete"))
    error = _error_text(facts)
    stored = facts.stored
    stored_message = str(stored.get("message") or "")
    # searched as stalled_runs searches it: the stored reason and the metadata, as text
    searched = f"{orjson.dumps(dict(stored)).decode() if stored else ''} {orjson.dumps(dict(facts.metadata)).decode()}"
    stalled = bool(verdict and verdict.stalled) or bool(re.search(config.stall_reason, searched))
    failed = status in FAILED_RUN_STATUSES
    if not (failed or status == RunStatus.ABORTED or incomplete_reports or (status == RunStatus.PENDING and stalled)):
        return None
    bugs = sorted({str(m["bug"]) for m in facts.matches}) or (list(stored["fingerprint"]) if stored.get("fingerprint") else None)
    tests = list(stored.get("tests") or [])
    cluster = stored.get("cluster")
    step = facts.metadata.get("step") or facts.metadata.get("failed_step")
    reached = verdict.reached if verdict is not None else ()
    fail_phase = verdict.open_phase if verdict and verdict.open_phase else ("test" if facts.failed_tests else None)
    if fail_phase is None and isinstance(step, str) and step:
        fail_phase = step
    if fail_phase is None and reached:
        fail_phase = reached[-1]

    evidence: list[dict[str, Any]] = []
    if verdict is not None and verdict.stall_event is not None:
        evidence.append(_line("run_events", f"{verdict.stall_event} at {verdict.stall_at:%Y-%m-%d %H:%M:%S}"
                              + (f" during {verdict.phase}" if verdict.phase else "")))
    if verdict is not None and verdict.phase and verdict.threshold is not None and verdict.seconds is not None:
        evidence.append(_line("timing", f"{verdict.phase}: {verdict.seconds:.1f} s, threshold {verdict.threshold:.1f} s"
                              f" (×{verdict.ratio:g}; rule {config.rule.quantile:g} quantile × {config.rule.factor:g}"
                              f" over {verdict.samples} runs)"))
    if error is not None:
        evidence.append(_line(facts.source if error[0] == "error" and facts.source else "metadata", f"{error[0]}: {error[1]}"))
    evidence += [_line(m.get("file"), f"{m['bug']}: {m.get('text') or ''}".rstrip(": "), m.get("line"))
                 for m in facts.matches]
    if incomplete_reports:
        evidence += [_line(r.get("file"), str(r.get("reason") or "unreadable"))
                     for r in facts.metadata.get("refused") or [] if isinstance(r, Mapping)]
    evidence += [_line(None, f"{test}: {message}") for test, message in facts.failures]
    evidence = evidence[:MAX_EVIDENCE]

    def reason(category: str, component: str, phase: str | None, message: str) -> FailureReason:
        return FailureReason(category, component, phase, message[:1000], bugs, evidence, tests, cluster)

    where = f" on {facts.worker}" if facts.worker else ""
    if stalled:
        if verdict is not None and verdict.phase is not None:
            how = (f": {_seconds(verdict.seconds)}, {verdict.ratio:g}× its threshold {_seconds(verdict.threshold)}"
                   if verdict.ratio is not None else f" after {_seconds(verdict.seconds)}")
            return reason("stall", "worker", verdict.phase, f"stopped for slowness in {verdict.phase}{where}{how}")
        said = re.search(config.stall_reason, searched)
        text = error[1] if error else stored_message
        return reason("stall", "worker", fail_phase, f"stopped for slowness{where} ({said.group(0) if said else 'stall event'})"
                      + (f": {text}" if text else ""))
    if bugs and facts.unexplained == 0:
        what = f"{facts.failed_tests} failed test(s)" if facts.failed_tests else "the run's logs"
        return reason("known_bug", str(stored.get("component") or ("tests" if facts.failed_tests else "job")), fail_phase,
                      f"known bug(s) {', '.join(bugs)} explain {what}" + (f": {stored_message}" if stored_message else ""))
    if verdict is not None and verdict.over and verdict.phase is not None:
        return reason("stall", "worker", verdict.phase,
                      f"{verdict.phase} took {_seconds(verdict.seconds)}{where}, {verdict.ratio:g}× its stall threshold "
                      f"{_seconds(verdict.threshold)}")
    if error is not None and _SETUP.search(error[1]):
        return reason("setup", "setup", fail_phase, error[1])
    if error is not None and (_INFRA.search(error[1]) or status == RunStatus.ERROR):
        return reason("infra", "infrastructure", fail_phase, error[1])
    if status == RunStatus.ERROR and not facts.failed_tests:
        return reason("infra", "infrastructure", fail_phase, stored_message or "infrastructure error: the job could not run its tests")
    if status == RunStatus.ABORTED or (incomplete_reports and not facts.failed_tests):
        refused = [r for r in facts.metadata.get("refused") or [] if isinstance(r, Mapping)]
        message = "aborted before it finished" if status == RunStatus.ABORTED else (
            f"{len(refused)} report(s) could not be read" + (f": {refused[0].get('file')}" if refused else ""))
        return reason("incomplete", "job", fail_phase, message)
    if facts.failed_tests:
        return reason("test_failure", "tests", fail_phase, stored_message or f"{facts.failed_tests} failed test(s)")
    if not facts.tests and "test" not in reached:
        return reason("setup", "infrastructure", fail_phase, error[1] if error else "job failed before any test ran")
    if not facts.tests:
        return reason("unexplained", "job", fail_phase, error[1] if error else
                      "job failed after its tests started, no test result stored and nothing says why")
    return reason("unexplained", "outside_tests", fail_phase,
                  error[1] if error else "job failed but no test failed (build failed outside of test results)")
