"""The one structured failure reason (issue 12): each category's rule on hand-made facts, and
timing's verdicts (stall phase, threshold ratio) on hand-computed events (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from analysis.test_timing import ev, lab_run, run

from ciscope.analysis.failure_reason import (
    CATEGORIES,
    FailureReason,
    RunFacts,
    TimingVerdict,
    failure_reason,
    timing_verdicts,
)
from ciscope.analysis.timing import ThresholdRule, TimingConfig, TimingData, thresholds
from ciscope.model import RunStatus

FIELDS = {"category", "component", "phase", "message", "fingerprint", "evidence"}


def facts(status: str = "failure", *, tests: int = 10, failed: int = 0, stored: dict[str, Any] | None = None,
          metadata: dict[str, Any] | None = None, unexplained: int = 0, matches: tuple[dict[str, Any], ...] = (),
          failures: tuple[tuple[str, str], ...] = ()) -> RunFacts:
    return RunFacts(1, status, tests, failed, stored or {}, metadata or {}, source="/ci/run", worker="w1",
                    unexplained=unexplained, matches=matches, failures=failures)


def reason(f: RunFacts, verdict: TimingVerdict | None = None) -> FailureReason:
    got = failure_reason(f, verdict)
    assert got is not None
    assert FIELDS <= set(got.to_dict()) and got.category in CATEGORIES
    return got


MATCH = {"bug": "BUG-1", "test": "t1", "file": "build-log.txt", "line": 42, "text": "connection reset by peer"}


def test_passing_and_pending_runs_have_no_reason() -> None:
    assert failure_reason(facts("success")) is None
    assert failure_reason(facts("pending")) is None


def test_known_bug_explains_every_failure() -> None:
    got = reason(facts(failed=1, stored={"component": "tests", "message": "t1: boom", "tests": ["t1"]},
                       matches=(MATCH,), failures=(("t1", "boom"),)))
    assert (got.category, got.component, got.phase, got.fingerprint) == ("known_bug", "tests", "test", ["BUG-1"])
    assert got.evidence[0] == {"file": "build-log.txt", "line": 42, "text": "BUG-1: connection reset by peer"}
    assert {"file": None, "line": None, "text": "t1: boom"} in got.evidence


def test_a_failure_no_bug_explains_is_a_test_failure_with_its_cluster() -> None:
    got = reason(facts(failed=2, unexplained=1, matches=(MATCH,),
                       stored={"message": "t2: assert 1 == 2", "tests": ["t1", "t2"], "cluster": "abc"}))
    assert (got.category, got.phase, got.message, got.cluster, got.fingerprint) == (
        "test_failure", "test", "t2: assert 1 == 2", "abc", ["BUG-1"])


@pytest.mark.parametrize(("status", "metadata", "tests", "category", "component"), [
    ("failure", {"error": "cache failure: Failed to download SLE-15.iso"}, 0, "setup", "setup"),
    ("failure", {"reason": "api failure: 503 Service Unavailable"}, 0, "infra", "infrastructure"),
    ("error", {}, 0, "infra", "infrastructure"),
    ("aborted", {}, 3, "incomplete", "job"),
    ("success", {"incomplete": True, "refused": [{"file": "junit.xml", "reason": "truncated XML"}]}, 3, "incomplete", "job"),
    ("failure", {}, 0, "setup", "infrastructure"),
    ("failure", {}, 12, "unexplained", "outside_tests"),
])
def test_run_level_categories(status: str, metadata: dict[str, Any], tests: int, category: str, component: str) -> None:
    got = reason(facts(status, tests=tests, metadata=metadata))
    assert (got.category, got.component) == (category, component)
    if metadata.get("refused"):
        assert got.evidence == [{"file": "junit.xml", "line": None, "text": "truncated XML"}]
        assert got.message == "1 report(s) could not be read: junit.xml"


def test_a_stall_reason_text_wins_over_known_bugs() -> None:
    """openQA's ``timeout: test execution exceeded MAX_JOB_TIME`` is a stall, not the bug that also matched."""
    got = reason(facts(metadata={"reason": "timeout: test execution exceeded MAX_JOB_TIME"}, matches=(MATCH,),
                       failed=0, tests=0))
    assert (got.category, got.component, got.fingerprint) == ("stall", "worker", ["BUG-1"])
    assert "timeout: test execution exceeded MAX_JOB_TIME" in got.message
    # a test's own "timed out" is a test failure
    assert reason(facts(failed=1, unexplained=1, stored={"message": "t1: timed out after 30 s"})).category == "test_failure"


def test_timing_verdicts_say_which_phase_and_by_how_much() -> None:
    config = TimingConfig(rule=ThresholdRule(quantile=1.0, factor=1.5, min_samples=5))
    runs = [lab_run(str(i), 30, 100, start=i * 3600.0) for i in range(8)]
    # boot took 90 s (threshold 20 × 1.5 = 30 s): over, 3×
    slow = run("slow", [ev("requested", 0), ev("queued", 1), ev("pulled", 11), ev("flash_start", 11), ev("flash_end", 41),
                        ev("boot_start", 41), ev("boot_end", 131), ev("test_start", 131), ev("test_end", 231),
                        ev("results_reported", 235)], status=RunStatus.FAILURE, start=9 * 3600.0)
    # stopped by a stall event 300 s into its test phase (threshold 150 s)
    hung = run("hung", [ev("requested", 0), ev("queued", 1), ev("pulled", 11), ev("flash_start", 11), ev("flash_end", 41),
                        ev("boot_start", 41), ev("boot_end", 61), ev("test_start", 61), ev("stall", 361)],
               status=RunStatus.ERROR, start=10 * 3600.0)
    data = TimingData.from_runs([*runs, slow, hung])
    limits = thresholds(TimingData.from_runs(runs), config=config)
    verdicts = timing_verdicts(data, config=config, limits=limits, now=None)
    v = verdicts[slow.run_id]
    assert (v.stalled, v.phase, v.seconds, v.threshold, v.ratio, v.samples) == (False, "boot", 90.0, 30.0, 3.0, 8)
    got = reason(facts(tests=0), v)
    assert (got.category, got.phase) == ("stall", "boot")
    assert got.message == "boot took 90 s on w1, 3× its stall threshold 30 s"
    assert got.evidence[0]["file"] == "timing" and "boot: 90.0 s, threshold 30.0 s (×3" in got.evidence[0]["text"]
    h = verdicts[hung.run_id]
    assert (h.stalled, h.stall_event, h.phase, h.seconds, h.threshold, h.ratio, h.open_phase) == (
        True, "stall", "test", 300.0, 150.0, 2.0, "test")
    got = reason(facts("error", tests=0), h)
    assert (got.category, got.phase) == ("stall", "test")
    assert got.message == "stopped for slowness in test on w1: 300 s, 2× its threshold 150 s"
    assert got.evidence[0] == {"file": "run_events", "line": None, "text": "stall at 2026-11-01 12:06:01 during test"}
    # a run on time has nothing over: its failure is told by the rest
    assert verdicts[runs[0].run_id].ratio is None and verdicts[runs[0].run_id].reached[-1] == "publish"
