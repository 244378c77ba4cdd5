"""Issue 8: one definition of "explained", one window (filters and "now"), setup failures as
infrastructure, the first bad build — on both engines, and through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from histories import T0, history_runs

from ciscope.analysis.flakes import flaky_tests
from ciscope.analysis.known import refresh_reasons
from ciscope.analysis.regressions import regressions
from ciscope.analysis.stats import list_runs, stats_by_test
from ciscope.analysis.triage import failure_clusters, triage, unclassified
from ciscope.model import Evidence, Run, RunStatus, Status, TestResult
from ciscope.queries.window import Window, now


def _scoped_store(store):
    """Runs where a LOG match of BUG-LOG (test_ids: [t]) is the only evidence of t's failures."""
    runs = history_runs({"t": "PPFPPPFPPPPFPPPPF", "u": "PPPPPPPPPPPPPPPPP"})
    store.execute("INSERT INTO fingerprints (bug, title, url, retry, kind, pattern, source, digest, test_ids, loaded_at)"
                  " VALUES ('BUG-LOG', 'log bug', '', FALSE, 'regex', 'x', 'f.yaml', 'd', '[\"t\"]', ?)",
                  (T0.replace(tzinfo=None),))
    for run in runs:
        if any(r.name == "t" and r.status is Status.FAILED for r in run.results):
            run.evidence.append(Evidence("BUG-LOG", "build-log.txt", 3, "node lost", None, ("t",)))
    store.write_runs(runs)
    return runs


def test_a_log_match_explains_its_test_ids_for_every_consumer(store):
    runs = _scoped_store(store)
    failed = [r for r in runs if r.status is RunStatus.FAILURE]
    # stored rule: one row per (run, test, bug)
    assert store.query("SELECT count(*), count(DISTINCT run_id) FROM explanations WHERE bug = 'BUG-LOG'") == [(4, 4)]
    # reasons at ingest: nothing unexplained, so no cluster
    reasons = [json.loads(r) for (r,) in store.query("SELECT reason FROM runs WHERE reason IS NOT NULL")]
    assert reasons and all(r["fingerprint"] == ["BUG-LOG"] and r["cluster"] is None for r in reasons)
    # reasons rewritten by reclassify's refresh agree
    refresh_reasons(store, [r.run_id for r in failed])
    again = [json.loads(r) for (r,) in store.query("SELECT reason FROM runs WHERE reason IS NOT NULL")]
    assert again == reasons
    # triage: the failure is explained, by the log line
    t = triage(store, failed[0].build)
    assert t["unexplained"] == [] and t["failures"][0]["bugs"] == ["BUG-LOG"]
    assert t["failures"][0]["evidence"][0]["file"] == "build-log.txt"
    # clusters: nothing unexplained to cluster
    assert failure_clusters(store)["failures"] == 0
    assert failure_clusters(store, include_known=True)["failures"] == 4
    # flakes: reported with the bug; excluded with --exclude-known
    [row] = flaky_tests(store, only_flaky=True)
    assert (row["test"], row["known_bugs"], row["known_share"]) == ("t", ["BUG-LOG"], 1.0)
    assert flaky_tests(store, only_flaky=True, exclude_known=True) == []
    # regressions: the same rows left out (a history of only known failures has no regression)
    assert regressions(store) == []


def test_migration_0007_backfills_explanations_and_variants(store):
    runs = _scoped_store(store)
    store.write_runs([Run("v", "1", RunStatus.SUCCESS, started_at=T0, variants={"platform": "aws"},
                          results=[TestResult("a", Status.PASSED)])])
    before = sorted(store.query("SELECT run_id, test, bug FROM explanations"))
    variants = sorted(store.query("SELECT run_id, key, value FROM run_variants"))
    assert before and variants == [(runs[0].run_id * 0 + Run("v", "1", RunStatus.SUCCESS).run_id, "platform", "aws")]
    for table in ("explanations", "run_variants"):
        store.execute(f"DROP TABLE {table}")
    store.execute("DELETE FROM schema_migrations WHERE version IN (7, 12)")
    store.migrate()
    assert sorted(store.query("SELECT run_id, test, bug FROM explanations")) == before
    assert sorted(store.query("SELECT run_id, key, value FROM run_variants")) == variants


def _two_branches(store):
    a = history_runs({"t": "PPPF", "x": "PPPP"}, job="j")
    b = history_runs({"t": "PPPP"}, job="k")
    for run in a:
        run.branch, run.variants = "main", {"platform": "aws", "network": "ovn"}
    for run in b:
        run.branch, run.variants = "release-4.18", {"platform": "gcp", "network": "ovn"}
        run.started_at += timedelta(days=2)
    store.write_runs(a + b)
    return a, b


def test_window_filters_on_both_engines(store):
    a, b = _two_branches(store)
    assert now(store) == b[-1].started_at.replace(tzinfo=None)
    assert {r["job"] for r in list_runs(store, window=Window(branch="main"))} == {"j"}
    assert {r["job"] for r in list_runs(store, window=Window(variants=(("platform", "gcp"),)))} == {"k"}
    assert len(list_runs(store, window=Window(variants=(("network", "ovn"),)))) == 8
    assert list_runs(store, window=Window(variants=(("platform", "gcp"), ("network", "sdn")))) == []
    assert {r["test"] for r in stats_by_test(store, window=Window(test="^t$"))} == {"t"}
    assert {(r["job"], r["test"]) for r in stats_by_test(store, window=Window(branch="release-4.18", test="t"))} == {("k", "t")}
    # runs with a verdict of a matching test
    assert {r["job"] for r in list_runs(store, window=Window(test="^x$"))} == {"j"}
    # --days counts back from now (the newest run, whatever its job)
    assert {r["job"] for r in list_runs(store, window=Window(days=1))} == {"k"}
    until = b[0].started_at
    assert {r["build"] for r in list_runs(store, window=Window(job="k", until=until + timedelta(seconds=1)))} == {b[0].build}
    assert unclassified(store, window=Window(branch="main"))["failed_runs"] == 1


def test_a_failed_setup_test_makes_the_run_infrastructure(store):
    # "install should succeed: overall" failed in runs 3 and 7: nothing else ran there
    runs = history_runs({"install should succeed: overall": "PPPFPPPFPPPP", "t": "PPPFPPPFPPPP"})
    store.write_runs(runs)
    rows = {r["test"]: r for r in flaky_tests(store)}
    assert rows["t"]["runs"] == 10 and rows["t"]["failed"] == 0 and rows["t"]["verdict"] == "not_flaky"
    from ciscope.analysis.history import InfraRule, infra_runs

    assert infra_runs(store, Window()) == 2
    off = {r["test"]: r for r in flaky_tests(store, infra=InfraRule(setup_tests=None))}
    assert off["t"]["failed"] == 2  # counted again (they fail together: a shared cause, not flakes)


def test_first_bad_build_is_the_first_failing_run_with_the_bisect_range(store):
    # runs of 3 builds per commit; the bad commit's first build PASSES, its second fails
    pattern = "P" * 90 + "PFF" + "FFFFFF" * 5
    commits = [f"c{i // 3:03d}" for i in range(len(pattern))]
    store.write_runs(history_runs({"t": pattern}, hours=6.0, commits=commits))
    [r] = regressions(store)
    assert r["first_bad_build"] == "1091" and r["first_bad_commit"] == "c030"
    assert (r["last_good_build"], r["last_good_commit"]) == ("1089", "c029")
    assert r["suspects"] == {"from_build": "1089", "from_commit": "c029", "to_build": "1091", "to_commit": "c030"}


def _cli(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", db, *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "250"})


def test_window_options_through_the_cli(store_url):
    from ciscope.store import connect

    with connect(store_url) as store:
        _two_branches(store)
    for command in ("runs", "tests", "flaky", "unclassified", "clusters", "bugs", "regressions", "summary"):
        done = _cli(store_url, command, "--json", "--branch", "main", "--variant", "platform=aws", "--test", "t")
        assert done.returncode == 0, (command, done.stderr)
        json.loads(done.stdout)
        table = _cli(store_url, command, "--branch", "main")
        assert table.returncode == 0 and "Traceback" not in table.stderr, (command, table.stderr)
    grid = json.loads(_cli(store_url, "grid", "j", "--json", "--since", "2026-10-01T12:00:00Z", "--test", "^t$").stdout)
    assert len(grid["column_ids"]) == 2 and {t["name"] for t in grid["tests"]} - {"Overall"} == {"t"}
    summary = json.loads(_cli(store_url, "summary", "--json", "--variant", "platform=gcp").stdout)
    assert {s["job"]: s["overall_status"] for s in summary}["j"] == "STALE"  # no run of j is on gcp
    runs = json.loads(_cli(store_url, "runs", "--json", "--variant", "platform=gcp").stdout)
    assert {r["job"] for r in runs} == {"k"}
    tests = json.loads(_cli(store_url, "tests", "--json", "--since", "2026-10-02", "--test", "^t$").stdout)
    assert {(r["job"], r["test"]) for r in tests} == {("k", "t")}
    bad = _cli(store_url, "runs", "--variant", "platform")
    assert bad.returncode == 2 and "key=value" in bad.stderr
    bad = _cli(store_url, "tests", "--test", "([")
    assert bad.returncode == 2 and "not a regular expression" in bad.stderr and "Traceback" not in bad.stderr
    bad = _cli(store_url, "runs", "--since", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
    bad = _cli(store_url, "runs", "--days", "1", "--since", "2026-10-01")
    assert bad.returncode == 2 and "not both" in bad.stderr


def test_failures_without_text_join_no_cluster(store):
    """Real data (TestGrid dumps, some runners): failures with no message at all are counted,
    not clustered — one giant cluster of empty texts says nothing about a cause."""
    store.write_runs(history_runs({"t": "PFPFPF", "u": "PFPFPF"}))
    store.execute("UPDATE test_results SET failure_message = NULL, failure_text = NULL WHERE test = 'u'")
    result = failure_clusters(store)
    assert (result["failures"], result["without_text"], result["clusters"]) == (6, 3, 1)
    assert result["items"][0]["size"] == 3 and result["items"][0]["tests"] == 1
