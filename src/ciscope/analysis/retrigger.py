"""Bounded automatic retriggers of runs that failed for a known, retryable reason — **off
unless configured** (openQA's ``auto_clone_regex`` / auto-review ``:retry``, with the bounds
they lack). See docs/timing.md.

A failed run (status ``failure`` or ``error``) is **retryable** when

- every failed test of it is explained (the ``explanations`` table: the one definition of
  :mod:`ciscope.queries.explained`) by a fingerprint marked ``retry: true`` — or, when no test
  failed, a ``retry`` fingerprint matched one of its logs; or
- its reason message matches the configured ``reason_regex`` (like ``auto_clone_regex``).

It is then retriggered unless a bound says no: no commit (a chain could not be bounded); a
newer run of the job on the same commit exists (already rerun); ``max_per_run`` (1) retriggers
of this run, or ``max_per_commit`` (3) retriggers of this job on this commit were already made
— a retrigger of a retrigger is a run of the same job and commit, so the chain stops there.
``ciscope retrigger run`` decides under the store's write lock, in one transaction that also
logs every decision with its reason (table ``retriggers``), so concurrent planners cannot
exceed the bounds; the actions (a command, or a webhook POST) run after the commit.

What this module reads and writes (the failed runs, their retry explanations, the bounds, the
``retriggers`` log) is in :mod:`ciscope.queries.retrigger`; here are the rules, the actions and
the transactions.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import UsageError
from ..queries.retrigger import (
    LoggedDecision,
    RetriggerCandidate,
    failed_runs_to_retrigger,
    log_decisions,
    newest_starts,
    record_outcome,
    retriggered_outcomes,
    retriggers_per_commit,
    retriggers_per_run,
    retry_bugs,
    retry_explained_counts,
    retry_log_bugs,
)
from ..queries.window import Window
from ..status import FAILED_RUN_STATUSES, RetriggerDecision, RunStatus
from ..store.base import Store

__all__ = [
    "Decision",
    "RetriggerConfig",
    "RetriggerPlan",
    "RetriggerStats",
    "RuleStats",
    "Webhook",
    "plan_retriggers",
    "retrigger_stats",
    "run_retriggers",
]

FAILED = FAILED_RUN_STATUSES
_RETRIGGER, _SKIP = RetriggerDecision.RETRIGGER.value, RetriggerDecision.SKIP.value
DEFAULT_PAYLOAD = '{"job": "{job}", "build": "{build}", "commit": "{commit}", "rule": "{rule}"}'


@dataclass(frozen=True, slots=True)
class Webhook:
    """POST ``payload`` (a template; values are JSON-escaped) to ``url``."""

    url: str
    payload: str = DEFAULT_PAYLOAD
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class RetriggerConfig:
    """The ``retrigger:`` section of the config file."""

    enabled: bool = False
    max_per_run: int = 1
    max_per_commit: int = 3
    reason_regex: str | None = None
    command: str | None = None  # argv template, e.g. "gh workflow run {job} --ref {commit}" (no shell)
    webhook: Webhook | None = None
    days: float = 2.0  # failed runs of the last N days, unless the window says otherwise

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> RetriggerConfig:
        known = {"enabled", "max_per_run", "max_per_commit", "reason_regex", "command", "webhook", "days"}
        unknown = set(data) - known
        if unknown:
            raise UsageError(f"{source}: retrigger: unknown key(s) {sorted(unknown)}; expected {', '.join(sorted(known))}")
        try:
            config = cls(enabled=_bool(data.get("enabled", False), source),
                         max_per_run=int(data.get("max_per_run", 1)), max_per_commit=int(data.get("max_per_commit", 3)),
                         reason_regex=None if data.get("reason_regex") in (None, "") else str(data["reason_regex"]),
                         command=None if data.get("command") in (None, "") else str(data["command"]),
                         webhook=_webhook(data.get("webhook"), source), days=float(data.get("days", 2.0)))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{source}: retrigger: {exc}") from None
        if config.max_per_run < 0 or config.max_per_commit < 0 or config.days <= 0:
            raise UsageError(f"{source}: retrigger: expected max_per_run ≥ 0, max_per_commit ≥ 0, days > 0")
        if config.reason_regex is not None:
            try:
                re.compile(config.reason_regex)
            except re.error as exc:
                raise UsageError(f"{source}: retrigger.reason_regex: not a regular expression ({exc})") from None
        if config.command is not None:
            try:
                shlex.split(config.command)
            except ValueError as exc:
                raise UsageError(f"{source}: retrigger.command: {exc}") from None
        return config


def _bool(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    raise UsageError(f"{source}: retrigger.enabled = {value!r}: expected true or false")


def _webhook(value: Any, source: str) -> Webhook | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, Mapping) or not str(value.get("url", "")).startswith(("http://", "https://")):
        raise UsageError(f"{source}: retrigger.webhook: expected {{url: http(s)://…, payload: template}}")
    headers = value.get("headers") or {"Content-Type": "application/json"}
    if not isinstance(headers, Mapping):
        raise UsageError(f"{source}: retrigger.webhook.headers: expected a mapping")
    return Webhook(url=str(value["url"]), payload=str(value.get("payload", DEFAULT_PAYLOAD)),
                   headers=tuple((str(k), str(v)) for k, v in headers.items()), timeout=float(value.get("timeout", 10.0)))


@dataclass(slots=True)
class Decision:
    """What to do with one failed run, and why. ``decision``: ``retrigger`` (done, or what a plan
    would do), ``dry_run`` (``retrigger run`` would have, but is not enabled), ``skip``,
    ``failed`` (the action failed; it still counts against the bounds)."""

    run_id: int
    job: str
    build: str
    commit: str | None
    status: str
    decision: str
    reason: str
    rule: str | None = None
    action: str | None = None
    response: str | None = None


@dataclass(slots=True)
class RetriggerPlan:
    enabled: bool
    dry_run: bool
    max_per_run: int
    max_per_commit: int
    decisions: list[Decision] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fill(template: str, values: Mapping[str, str], *, json_escape: bool = False) -> str:
    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise UsageError(f"retrigger template {template!r}: unknown placeholder {{{key}}}; "
                             f"expected one of {', '.join('{' + k + '}' for k in values)}")
        text = values[key]
        return json.dumps(text)[1:-1] if json_escape else text

    return re.sub(r"\{(\w+)\}", value, template)


def _values(d: Decision, url: str | None, branch: str | None) -> dict[str, str]:
    return {"job": d.job, "build": d.build, "commit": d.commit or "", "run_id": str(d.run_id), "rule": d.rule or "",
            "url": url or "", "branch": branch or ""}


def _action(config: RetriggerConfig, d: Decision, url: str | None, branch: str | None) -> str | None:
    values = _values(d, url, branch)
    if config.webhook is not None:
        return f"POST {config.webhook.url} {_fill(config.webhook.payload, values, json_escape=True)}"
    if config.command is not None:
        return shlex.join(_fill(arg, values) for arg in shlex.split(config.command))
    return None


def _candidates(store: Store, window: Window, config: RetriggerConfig) -> list[RetriggerCandidate]:
    if window.days is None and window.since is None:
        window = window.replace(days=config.days)
    return failed_runs_to_retrigger(store, window)


def _retry_rules(store: Store, run_ids: list[int]) -> dict[int, str | None]:
    """Per run: the retry fingerprints that explain all of its failures (None: some failure is
    not explained by a retry fingerprint)."""
    out: dict[int, str | None] = {}
    for start in range(0, len(run_ids), 5000):
        chunk = run_ids[start:start + 5000]
        counted = retry_explained_counts(store, chunk)
        bugs = retry_bugs(store, chunk)
        logs = retry_log_bugs(store, chunk)
        for rid in chunk:
            if rid in counted:
                n, k = counted[rid]
                out[rid] = ",".join(sorted(bugs.get(rid, ()))) if n and n == k else None
            else:  # no failed test: the run failed outside its tests; a retry log match explains it
                out[rid] = ",".join(sorted(logs[rid])) if rid in logs else None
    return out


def _message(reason: str | None) -> str:
    if not reason:
        return ""
    try:
        value = json.loads(reason)
    except ValueError:
        return reason
    return str(value.get("message") or "") if isinstance(value, dict) else str(value)


def _decide(store: Store, window: Window, config: RetriggerConfig) -> list[tuple[Decision, str | None, str | None]]:
    """Decisions for the failed runs of the window (with each run's url and branch), bounds
    counted from the log and from the decisions made before in the same plan."""
    runs = _candidates(store, window, config)
    rules = _retry_rules(store, [r.run_id for r in runs])
    pattern = re.compile(config.reason_regex) if config.reason_regex else None
    per_run = retriggers_per_run(store, [r.run_id for r in runs])
    commits = sorted({(r.job, r.commit_sha) for r in runs if r.commit_sha})
    per_commit = retriggers_per_commit(store, commits)
    newest = newest_starts(store, commits)
    out = []
    for r in runs:
        rule = rules.get(r.run_id)
        why = f"every failure is explained by retry fingerprint(s) {rule}" if rule else None
        if rule is None and pattern is not None:
            message = _message(r.reason)
            if pattern.search(message):
                rule = f"reason:{config.reason_regex}"
                why = f"reason {message[:200]!r} matches reason_regex"
        d = Decision(run_id=r.run_id, job=r.job, build=r.build, commit=r.commit_sha, status=r.status,
                     decision=_SKIP, reason="", rule=rule)
        key = (r.job, r.commit_sha) if r.commit_sha else None
        if rule is None:
            d.reason = "not every failure is explained by a retry fingerprint" + (
                " and the reason does not match reason_regex" if pattern else "")
        elif key is None:
            d.reason = "no commit: a retrigger chain could not be bounded"
        elif r.started_at is not None and newest.get(key) is not None and newest[key] > r.started_at:
            d.reason = "a newer run of this job on this commit exists"
        elif per_run.get(d.run_id, 0) >= config.max_per_run:
            d.reason = f"already retriggered {per_run.get(d.run_id, 0)} time(s) (max_per_run {config.max_per_run})"
        elif per_commit.get(key, 0) >= config.max_per_commit:
            d.reason = (f"{per_commit.get(key, 0)} retrigger(s) of {d.job} on {d.commit} already "
                        f"(max_per_commit {config.max_per_commit})")
        else:
            d.decision = _RETRIGGER
            d.reason = why or ""
            per_run[d.run_id] = per_run.get(d.run_id, 0) + 1
            per_commit[key] = per_commit.get(key, 0) + 1
        if d.decision == _RETRIGGER:
            d.action = _action(config, d, r.url, r.branch)
        out.append((d, r.url, r.branch))
    return out


def plan_retriggers(store: Store, window: Window, config: RetriggerConfig) -> RetriggerPlan:
    """``ciscope retrigger plan``: what ``retrigger run`` would decide now (nothing is logged)."""
    decisions = [d for d, _, _ in _decide(store, window, config)]
    return RetriggerPlan(enabled=config.enabled, dry_run=True, max_per_run=config.max_per_run,
                         max_per_commit=config.max_per_commit, decisions=decisions)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def run_retriggers(store: Store, window: Window, config: RetriggerConfig, *, execute: bool = False) -> RetriggerPlan:
    """``ciscope retrigger run``: decide under the write lock and log every decision in the
    same transaction; then, only when ``execute`` and the config enables it, perform the
    actions and record their responses. A dry run logs its decisions as ``dry_run``."""
    live = execute and config.enabled
    if live and config.webhook is None and config.command is None:
        raise UsageError("retrigger is enabled but neither retrigger.command nor retrigger.webhook is configured")
    store.begin()
    try:
        store.lock_writes()
        decided = _decide(store, window, config)
        now = _now()
        for d, _url, _branch in decided:
            if not live and d.decision == _RETRIGGER:
                d.decision = RetriggerDecision.DRY_RUN.value
        log_decisions(store, [LoggedDecision(d.run_id, d.job, d.build, d.commit, d.rule, d.decision, d.reason, d.action)
                              for d, _, _ in decided], now)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    if live:
        for d, url, branch in decided:
            if d.decision != _RETRIGGER:
                continue
            ok, d.response = _perform(config, d, url, branch)
            if not ok:
                d.decision = RetriggerDecision.FAILED.value
            store.begin()
            try:
                record_outcome(store, d.run_id, now, decision=d.decision, response=d.response)
                store.commit()
            except BaseException:
                store.rollback()
                raise
    return RetriggerPlan(enabled=config.enabled, dry_run=not live, max_per_run=config.max_per_run,
                         max_per_commit=config.max_per_commit, decisions=[d for d, _, _ in decided])


def _perform(config: RetriggerConfig, d: Decision, url: str | None, branch: str | None) -> tuple[bool, str]:
    values = _values(d, url, branch)
    if config.webhook is not None:
        hook = config.webhook
        body = _fill(hook.payload, values, json_escape=True).encode()
        request = urllib.request.Request(hook.url, data=body, method="POST", headers=dict(hook.headers))
        try:
            with urllib.request.urlopen(request, timeout=hook.timeout) as response:
                return 200 <= response.status < 300, f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return False, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return False, f"error: {exc}"
    assert config.command is not None
    argv = [_fill(arg, values) for arg in shlex.split(config.command)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"error: {exc}"
    return done.returncode == 0, f"exit {done.returncode}"


@dataclass(slots=True)
class RuleStats:
    """Retriggers made for one retry rule (a fingerprint, or ``reason:<regex>``) and how the
    next run of the same job on the same commit ended. ``flagged``: retries that do not help
    (success rate < ``min_rate`` over ≥ ``min_retries`` resolved retries)."""

    rule: str
    retriggers: int
    passed: int
    failed: int
    pending: int
    success_rate: float | None
    flagged: bool


@dataclass(slots=True)
class RetriggerStats:
    min_rate: float
    min_retries: int
    rules: list[RuleStats]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrigger_stats(store: Store, *, min_rate: float = 0.5, min_retries: int = 10) -> RetriggerStats:
    """``ciscope retrigger stats``: per retry rule, the success rate of retriggered runs — the
    first run of the same job on the same commit started after the retriggered one."""
    rows = retriggered_outcomes(store)
    per: dict[str, list[int]] = {}
    for rule, _rid, status in rows:
        names = [rule] if rule.startswith("reason:") else rule.split(",")
        for name in names:
            counts = per.setdefault(name, [0, 0, 0, 0])
            counts[0] += 1
            if status == RunStatus.SUCCESS:
                counts[1] += 1
            elif status in FAILED:
                counts[2] += 1
            else:
                counts[3] += 1
    out = []
    for rule, (total, passed, failed, pending) in sorted(per.items()):
        resolved = passed + failed
        rate = round(passed / resolved, 4) if resolved else None
        out.append(RuleStats(rule, total, passed, failed, pending, rate,
                             bool(rate is not None and resolved >= min_retries and rate < min_rate)))
    return RetriggerStats(min_rate=min_rate, min_retries=min_retries, rules=out)
