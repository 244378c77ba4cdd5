"""The reads of the disruption reports (issue 9: analysis.disruption_store holds no SQL): what
the run and sample reads of :mod:`ciscope.queries.disruption` return, and the facts the web
pages ask (:func:`ciscope.queries.facts.job_has_runs` against ``job_exists``, the jobs and runs
with lifecycle events), on both engines. Baselines and ``disruption record`` are tested through
:mod:`ciscope.analysis.disruption_store` (tests/analysis/test_disruption_store.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from disruption_runs import JOB, add_artifacts, kube_api_seconds
from histories import T0
from runfolders import write_run

from ciscope.ingest.batch import ingest
from ciscope.ingest.disruption import AlertSample, DisruptionSample
from ciscope.model import LifecycleEvent, Run, RunStatus, Status, TestResult
from ciscope.queries import disruption as reads
from ciscope.queries import facts
from ciscope.queries.window import Window


def _ingest(store, tmp_path: Path) -> dict[str, int]:
    """Runs 1-3 of JOB with disruption artifacts, and a run of another job without; by build,
    their run ids."""
    for build in (1, 2, 3):
        add_artifacts(write_run(tmp_path / "data", JOB, str(build), result="SUCCESS"), build)
    write_run(tmp_path / "data", "plain", "1", result="SUCCESS")
    ingest(store, [tmp_path / "data"], workers=1)
    return {build: rid for build, rid in store.query("SELECT build, run_id FROM runs WHERE job = ?", (JOB,))}


def test_runs_with_disruption_data(store, tmp_path):
    ids = _ingest(store, tmp_path)
    plain = store.query("SELECT run_id FROM runs WHERE job = 'plain'")[0][0]
    one = reads.disruption_run(store, ids["2"])
    assert one is not None and (one.run_id, one.job, one.build, one.status) == (ids["2"], JOB, "", "")
    assert list(one.job_type) == ["release", "from_release", "platform", "architecture", "network", "topology"]
    assert reads.disruption_run(store, plain) is None
    assert (reads.has_disruption(store, ids["1"]), reads.has_disruption(store, plain)) == (True, False)
    assert reads.disruption_jobs(store) == [JOB]

    newest = reads.window_disruption_runs(store, Window(), limit=2)
    assert [r.build for r in newest] == ["3", "2"]  # newest first
    assert len(reads.window_disruption_runs(store, Window(), limit=None)) == 3
    assert reads.window_disruption_runs(store, Window(job="plain"), limit=None) == []
    assert (reads.disruption_run_count(store, Window()), reads.disruption_run_count(store, Window(job="plain"))) == (3, 0)

    every = reads.disruption_runs_with_status(store)
    assert [(r.build, r.status) for r in every] == [("1", "success"), ("2", "success"), ("3", "success")]
    assert all(r.run_started is not None for r in every)


def test_samples_of_runs(store, tmp_path):
    ids = _ingest(store, tmp_path)
    samples = reads.run_samples(store, [ids["1"], ids["3"]])
    assert set(samples.backends) == {ids["1"], ids["3"]}
    assert samples.backends[ids["1"]] == [
        DisruptionSample("image-registry-reused-connections", "Reused", 2),  # 0.1 s in each phase file, rounded up
        DisruptionSample("kube-api-new-connections", "New", kube_api_seconds(1)),
    ]
    assert samples.alerts[ids["3"]] == [AlertSample("Watchdog2", "", "Warning", 0)]
    empty = reads.run_samples(store, [])
    assert (empty.backends, empty.alerts) == ({}, {})


def test_imported_and_upstream_reads_without_data(store, tmp_path):
    ids = _ingest(store, tmp_path)
    assert reads.last_import_source(store, "disruption") is None
    assert reads.imported_rows(store, "disruption", "nowhere.json") == ("", [])
    upstream = reads.tests_outside_suite(store, list(ids.values()), "ciscope disruption")
    assert set(upstream) == set(ids.values()) and "[sig-a] passes" in upstream[ids["1"]]
    assert reads.tests_outside_suite(store, list(ids.values()), "openshift-tests") == {}


def test_a_job_without_runs_exists_but_has_no_runs(store):
    """``require_job`` (the web's "no such job") asks for a run; a TestGrid tab without runs is
    still a stored job."""
    store.register_job("empty-tab")
    store.write_runs([Run(job="e2e", build="1", status=RunStatus.SUCCESS, started_at=T0,
                          results=[TestResult(name="t", status=Status.PASSED)])])
    assert (facts.job_exists(store, "empty-tab"), facts.job_has_runs(store, "empty-tab")) == (True, False)
    assert (facts.job_exists(store, "e2e"), facts.job_has_runs(store, "e2e")) == (True, True)
    assert (facts.job_exists(store, "nope"), facts.job_has_runs(store, "nope")) == (False, False)


def test_jobs_and_runs_with_lifecycle_events(store):
    timed = Run(job="timed", build="1", status=RunStatus.SUCCESS, started_at=T0,
                events=[LifecycleEvent("requested", T0), LifecycleEvent("boot_end", T0 + timedelta(minutes=3))])
    untimed = Run(job="untimed", build="1", status=RunStatus.SUCCESS, started_at=T0)
    store.write_runs([timed, untimed])
    assert facts.jobs_with_events(store) == ["timed"]
    assert (facts.has_events(store, timed.run_id), facts.has_events(store, untimed.run_id)) == (True, False)
