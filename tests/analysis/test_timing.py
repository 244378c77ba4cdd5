"""Phase statistics, thresholds and outliers on hand-computed numbers (no database)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from ciscope.analysis.timing import (
    Phase,
    ThresholdRule,
    TimingConfig,
    TimingData,
    outliers,
    phase_table,
    thresholds,
    timing_report,
)
from ciscope.errors import UsageError
from ciscope.ingest.events import number_iterations
from ciscope.model import LifecycleEvent, Run, RunStatus, Status, TestResult

T0 = datetime(2026, 11, 1, 12, 0, 0)


def ev(name: str, at: float, *, recv: float | None = None, worker: str | None = "w1", group: str | None = "g1",
       requestor: str | None = None) -> LifecycleEvent:
    return LifecycleEvent(name, T0 + timedelta(seconds=at), None if recv is None else T0 + timedelta(seconds=recv),
                          worker, group, requestor)


def run(build: str, events: list[LifecycleEvent], *, job: str = "lab", status: RunStatus = RunStatus.SUCCESS,
        start: float = 0.0, error: str | None = None) -> Run:
    return Run(job=job, build=build, status=status, started_at=T0 + timedelta(seconds=start),
               events=number_iterations(events), metadata={"error": error} if error else {})


def lab_run(build: str, flash: float, test: float, *, worker: str = "w1", requestor: str = "a@x", retries: int = 0,
            start: float = 0.0, **kw: object) -> Run:
    t = start
    events = [ev("requested", t, worker=worker, requestor=requestor), ev("queued", t + 1, worker=worker),
              ev("pulled", t + 11, worker=worker)]
    t += 11
    for _ in range(retries):
        events += [ev("flash_start", t, worker=worker), ev("flash_end", t + 5, worker=worker)]
        t += 5
    events += [ev("flash_start", t, worker=worker), ev("flash_end", t + flash, worker=worker)]
    t += flash
    events += [ev("boot_start", t, worker=worker), ev("boot_end", t + 20, worker=worker),
               ev("test_start", t + 20, worker=worker), ev("test_end", t + 20 + test, worker=worker),
               ev("results_reported", t + 20 + test + 4, worker=worker)]
    return run(build, events, start=start, **kw)  # type: ignore[arg-type]


def test_phase_durations_and_group_statistics() -> None:
    runs = [lab_run("1", 30, 100), lab_run("2", 50, 200, retries=1), lab_run("3", 40, 300, requestor="b@x"),
            lab_run("4", 60, 400, requestor="b@x", worker="w2")]
    data = TimingData.from_runs(runs)
    report = timing_report(data, by="job")
    rows = {r.phase: r for r in report.phases}
    assert [r.phase for r in report.phases] == ["queue", "provision", "boot", "test", "publish", "total"]
    # queue = queued (t+1) -> pulled (t+11) = 10 s for every run
    assert (rows["queue"].count, rows["queue"].min, rows["queue"].max, rows["queue"].std) == (4, 10, 10, 0)
    # provision: 30, 5+50=55 (first flash_start to last flash_end), 40, 60
    p = rows["provision"]
    assert (p.count, p.min, p.max, p.mean) == (4, 30, 60, 46.25)
    assert p.std == pytest.approx(np.std([30, 55, 40, 60]), abs=1e-3)  # 11.924
    assert p.p50 == 47.5  # between 40 and 55
    assert p.p90 == pytest.approx(55 + 0.7 * 5)  # rank 2.7 of 0..3
    # test: 100..400: mean 250, std sqrt(12500)=111.803, p99 = 300 + 0.97*100
    t = rows["test"]
    assert (t.mean, t.std, t.p99) == (250, pytest.approx(111.803, abs=1e-3), pytest.approx(397.0))
    # total = requested -> results_reported: 11 + flash(+retry) + 20 + test + 4
    assert rows["total"].min == 11 + 30 + 20 + 100 + 4
    group = report.groups[0]
    assert [(r.name, r.requests) for r in group.requestors] == [("a@x", 2), ("b@x", 2)]
    flash = next(i for i in group.iterations if i.event == "flash_start")
    assert (flash.runs, flash.repeated, flash.max, flash.mean) == (4, 1, 2, 1.25)
    by_worker = timing_report(data, by="worker")
    assert [g.group for g in by_worker.groups] == ["w1", "w2"]
    assert [r.count for r in by_worker.phases if r.phase == "test"] == [3, 1]


def test_missing_out_of_order_open_and_skew() -> None:
    runs = [
        run("ok", [ev("test_start", 0, recv=2), ev("test_end", 10, recv=11)]),
        run("no-end", [ev("test_start", 0)], status=RunStatus.FAILURE),
        run("backwards", [ev("test_start", 10, recv=9), ev("test_end", 5)]),
        run("running", [ev("queued", 0), ev("test_start", 3)], status=RunStatus.PENDING),
        run("waiting", [ev("queued", 0)], status=RunStatus.PENDING),
        run("broke", [ev("test_start", 0), ev("test_end", 1)], status=RunStatus.ERROR),
    ]
    report = timing_report(TimingData.from_runs(runs))
    test = next(r for r in report.phases if r.phase == "test")
    assert (test.count, test.missing, test.out_of_order, test.open) == (2, 1, 1, 1)
    assert (test.min, test.max) == (1, 10)
    g = report.groups[0]
    assert (g.runs, g.ongoing, g.queued, g.errored, g.failed) == (6, 2, 2, 1, 1)
    assert g.error_share == round(1 / 4, 4)
    # skew: +2, +1, -1
    assert report.skew is not None
    assert (report.skew.count, report.skew.min, report.skew.max, report.skew.negative) == (3, -1, 2, 1)
    assert report.skew.mean == pytest.approx(2 / 3, abs=1e-3)


def test_thresholds_rest_on_samples_and_fall_back() -> None:
    runs = [lab_run(str(i), 30, 100 + i, start=i * 3600.0) for i in range(10)]
    runs += [lab_run(f"b{i}", 30, 50, start=i * 60.0, worker="w2") for i in range(3)]
    rule = ThresholdRule(quantile=0.5, factor=2.0, days=30, min_samples=5)
    report = thresholds(TimingData.from_runs(runs), by="worker", config=TimingConfig(rule=rule))
    by = {(t.group, t.phase): t for t in report.thresholds}
    # w1 test durations 100..109: median 104.5, x2 = 209
    assert (by["w1", "test"].threshold, by["w1", "test"].samples, by["w1", "test"].basis) == (209.0, 10, "group")
    # w2 has 3 samples < 5: the phase over all groups (13 durations: median 103)
    assert (by["w2", "test"].threshold, by["w2", "test"].samples, by["w2", "test"].basis) == (206.0, 13, "all")
    # no flash retries anywhere, no boot data missing: provision measured; a phase never seen is insufficient
    none = thresholds(TimingData.from_runs(runs[:2]), config=TimingConfig(rule=rule))
    assert all(t.basis == "insufficient" and t.threshold is None for t in none.thresholds)
    # the window: only runs started in the last `days` before now count
    late = thresholds(TimingData.from_runs(runs), by="worker", now=T0 + timedelta(hours=9, minutes=30),
                      config=TimingConfig(rule=ThresholdRule(quantile=0.5, factor=1.0, days=5 / 24, min_samples=1)))
    w1 = next(t for t in late.thresholds if (t.group, t.phase) == ("w1", "test"))
    assert (w1.samples, w1.threshold) == (5, 107.0)  # runs 5..9 (started 5 h..9 h)


def test_outliers_finished_and_running() -> None:
    runs = [lab_run(str(i), 30, 100, start=i * 60.0) for i in range(20)]
    runs.append(lab_run("slow", 30, 400, start=20 * 60.0, worker="w9"))
    hang = [ev("queued", 0, worker="w9"), ev("pulled", 10, worker="w9"), ev("test_start", 10, worker="w9")]
    runs.append(run("hang", [e for e in hang], status=RunStatus.PENDING, start=21 * 60.0 - 10))
    runs.append(run("killed", [ev("test_start", 0, worker="w9"), ev("stall", 5, worker="w9"), ev("test_end", 6, worker="w9")],
                    status=RunStatus.FAILURE, start=100.0))
    rule = ThresholdRule(quantile=0.9, factor=1.5, days=30, min_samples=10)
    data = TimingData.from_runs(runs)
    now = T0 + timedelta(seconds=21 * 60 + 1000)
    report = outliers(data, config=TimingConfig(rule=rule), now=now)
    found = {(o.build, o.phase): o for o in report.outliers}
    # test threshold: q90 of (20 x 100, 400, 6) = 100 -> x1.5 = 150
    assert found["slow", "test"].state == "finished" and found["slow", "test"].seconds == 400
    assert found["slow", "test"].threshold == 150.0
    assert found["hang", "test"].state == "running" and found["hang", "test"].seconds == 2260 - 10  # now - test_start
    assert ("killed", "test") not in found and all(b != "killed" for b, _ in found)
    w9 = next(w for w in report.workers if w.worker == "w9")
    assert (w9.runs, w9.outlier_runs, w9.stalled) == (3, 2, 1)
    assert [w.worker for w in report.workers] == ["w9"]
    assert timing_report(data, by="worker").groups[-1].stalled == 1


def test_stall_reason_and_config() -> None:
    runs = [run("a", [ev("test_start", 0)], status=RunStatus.ERROR, error="timeout: test execution exceeded MAX_JOB_TIME"),
            run("b", [ev("test_start", 0)], status=RunStatus.ERROR, error="backend died")]
    runs[0].results = [TestResult("x", Status.FAILED), TestResult("y", Status.ERROR), TestResult("z", Status.PASSED)]
    runs[1].results = [TestResult("w", Status.FAILED)]
    group = timing_report(TimingData.from_runs(runs)).groups[0]
    assert (group.stalled, group.stalled_failed_tests) == (1, 2)  # the stalled run's 2 failed tests
    config = TimingConfig.from_mapping({"phases": {"run": ["test_start", ["test_end", "results_reported"]]},
                                        "thresholds": {"quantile": 0.5}})
    assert config.phases == (Phase("run", ("test_start",), ("test_end", "results_reported")),)
    assert config.rule.quantile == 0.5 and config.rule.factor == 1.5
    with pytest.raises(UsageError, match="timing.thresholds: unknown key"):
        TimingConfig.from_mapping({"thresholds": {"p": 1}})
    with pytest.raises(UsageError, match=r"timing.phases.x: expected \[start event, end event\]"):
        TimingConfig.from_mapping({"phases": {"x": "a"}})
    with pytest.raises(UsageError, match="--by 'host'"):
        timing_report(TimingData.from_runs(runs), by="host")


def test_empty_and_vectorised_phase_table() -> None:
    report = timing_report(TimingData.from_runs([]))
    assert report.runs == 0 and report.phases == [] and report.groups == []
    runs = [lab_run(str(i), 10 + i, 100) for i in range(50)]
    table = phase_table(TimingData.from_runs(runs))
    assert np.array_equal(table.duration[1], np.arange(50) + 10.0)


def test_groups_fall_back_to_the_run_worker_and_dash() -> None:
    a = run("a", [ev("test_start", 0, worker=None, group=None), ev("test_end", 5, worker=None, group=None)])
    a.worker = "node-7"
    b = run("b", [ev("test_start", 0, worker="w2", group="g2"), ev("test_end", 7, worker="w1", group="g2")])
    c = run("c", [ev("test_start", 0, worker=None, group=None), ev("test_end", 9, worker=None, group=None)])
    data = TimingData.from_runs([a, b, c])
    by_worker = {r.group: r.max for r in timing_report(data, by="worker").phases if r.phase == "test"}
    assert by_worker == {"node-7": 5.0, "w1": 7.0, "-": 9.0}  # b: the smallest worker its events name
    by_group = {r.group: r.count for r in timing_report(data, by="device_group").phases if r.phase == "test"}
    assert by_group == {"g2": 1, "-": 2}
