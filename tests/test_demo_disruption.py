"""The demo's disruption artifacts: realistic, ingested, and its planted outages found."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ciscope.analysis.disruption_store import record_verdicts
from ciscope.demo import BACKENDS, generate
from ciscope.ingest.batch import ingest
from ciscope.store import connect

END = datetime(2026, 11, 1, tzinfo=UTC)


def test_demo_writes_disruption_and_its_outages_are_found(tmp_path: Path) -> None:
    truth = generate(tmp_path / "demo", seed=1, end=END, jobs=2, tests_per_job=100, runs_per_job=200)
    worse = {(w["job"], w["build"]): w for w in truth["disruption"]["worse_runs"]}
    assert worse and all(w["seconds"] > 60 for w in worse.values())
    files = list((tmp_path / "demo").rglob("backend-disruption_*.json"))
    assert files
    doc = json.loads(files[0].read_text())
    assert sorted(doc["BackendDisruptions"]) == sorted(b[0] for b in BACKENDS)
    # the upgrade job writes one set per phase
    upgrade = next(j for j, info in truth["jobs"].items() if info["variants"]["upgrade"] != "none")
    one_run = next(p.parent for p in (tmp_path / "demo").rglob("backend-disruption_*.json") if upgrade in str(p))
    assert len(list(one_run.glob("backend-disruption_*.json"))) == 2

    with connect(f"duckdb:///{tmp_path / 'demo.duckdb'}") as store:
        report = ingest(store, [tmp_path / "demo"], workers=1)
        assert not report.warnings and not report.refused
        types = store.query("SELECT DISTINCT release, from_release, platform FROM disruption_runs ORDER BY ALL")
        assert types == [("4.18", "", "aws"), ("4.18", "4.17", "gcp")]
        recorded = record_verdicts(store, alert_days=30)
        failed = {(r["job"], r["build"]) for r in recorded.failed_runs}
        assert set(worse) <= failed  # every planted outage is found
        backend_failures = store.query(
            "SELECT DISTINCT r.job, r.build FROM test_verdicts v JOIN runs r ON r.run_id = v.run_id "
            "WHERE v.test LIKE '%disruption/%' AND v.verdict = 'failed'")
        chance = set(backend_failures) - set(worse)
        judged = store.query("SELECT count(DISTINCT run_id) FROM test_verdicts WHERE test LIKE '%disruption/%' "
                             "AND verdict <> 'skipped'")[0][0]
        # chance exceedances of the allowed seconds stay rare (upstream's graces exist for them)
        assert judged > 100 and len(chance) <= 0.05 * judged
