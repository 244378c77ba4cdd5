"""Disruption baselines, best match, allowed seconds, alert verdicts and the PR report: hand-computed."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ciscope.analysis.disruption import (
    BaselineIndex,
    Sample,
    allowed_seconds,
    best_match,
    check_run,
    compare_baselines,
    compute_baselines,
    disruption_test_name,
    format_go_duration,
    judge_alert,
    percentile_cont,
    previous_release_upgrade,
    report_markdown,
)
from ciscope.ingest.disruption import (
    AlertSample,
    BaselineRow,
    Baselines,
    DisruptionSample,
    read_query_results,
)

HA = ("4.19", "4.18", "aws", "amd64", "ovn", "ha")


def row(name="kube-api-new-connections", *, release="4.19", from_release="4.18", topology="ha",
        p95=10.0, p99=20.0, runs=150, namespace="", level="", platform="aws") -> BaselineRow:
    return BaselineRow(name=name, release=release, from_release=from_release, platform=platform,
                       architecture="amd64", network="ovn", topology=topology, p95=p95, p99=p99,
                       job_runs=runs, namespace=namespace, level=level)


def test_percentiles_hand_computed():
    values = [10, 0, 2, 1]  # sorted 0 1 2 10
    # position q·(n−1): P50 1.5 → 1.5; P75 2.25 → 2 + 8·0.25 = 4; P95 2.85 → 8.8; P99 2.97 → 9.76
    assert percentile_cont(values, 0.50) == pytest.approx(1.5)
    assert percentile_cont(values, 0.75) == pytest.approx(4.0)
    assert percentile_cont(values, 0.95) == pytest.approx(8.8)
    assert percentile_cont(values, 0.99) == pytest.approx(9.76)
    assert percentile_cont([7], 0.99) == 7 and percentile_cont([], 0.5) is None
    samples = [Sample("b", *HA[:6], seconds=v, master_nodes_updated="Y") for v in values]
    (got,) = compute_baselines(samples).rows
    assert (got.p50, got.p75, got.p95, got.p99) == pytest.approx((1.5, 4.0, 8.8, 9.76))
    assert got.mean == pytest.approx(3.25) and got.job_runs == 4 and got.master_nodes_updated == "Y"


def test_upstream_keeps_upgrades_only_with_control_plane_updated():
    base = {"name": "b", "release": "4.19", "platform": "aws", "architecture": "amd64", "network": "ovn", "topology": "ha"}
    samples = [
        Sample(**base, from_release="4.18", seconds=1, master_nodes_updated="Y"),
        Sample(**base, from_release="4.18", seconds=50, master_nodes_updated="N"),  # dropped
        Sample(**base, from_release="4.18", seconds=60, master_nodes_updated=None),  # dropped (NULL)
        Sample(**base, from_release="", seconds=3, master_nodes_updated="N"),  # not an upgrade: kept
        Sample(**base, from_release="", seconds=4, master_nodes_updated=None),  # kept, own MNU group
    ]
    rows = compute_baselines(samples).rows
    assert [(r.from_release, r.master_nodes_updated, r.job_runs, r.p99) for r in rows] == [
        ("", None, 1, 4.0), ("", "N", 1, 3.0), ("4.18", "Y", 1, 1.0)]


@pytest.mark.parametrize("p99, topology, allowed", [
    (9.76, "ha", 15),        # max(14.76, 11.712) = 14.76 → 15
    (9.76, "single", 20),    # max(19.76, 13.664) → 20
    (9.76, "dual", 70),      # max(69.76, 13.664) → 70
    (0.0, "ha", 6),          # a = max(0, 1) = 1 → max(6, 1.2)
    (100.0, "ha", 120),      # max(105, 120)
    (100.0, "single", 140),  # max(110, 140)
    (11.5, "ha", 17),        # 16.5 rounds half away from zero (Python's round would say 16)
    (12.5, "compact", 18),   # other topologies get the default grace: max(17.5, 15) → 18
])
def test_allowed_seconds(p99, topology, allowed):
    assert allowed_seconds(p99, topology) == allowed


def test_previous_release_upgrade():
    assert previous_release_upgrade(HA) == ("4.18", "4.17", "aws", "amd64", "ovn", "ha")
    assert previous_release_upgrade(("4.19", "", "aws", "amd64", "ovn", "ha"))[:2] == ("4.18", "")
    assert previous_release_upgrade(("5.0", "", "aws", "amd64", "ovn", "ha")) is None


def test_best_match_exact_then_previous_then_skipped():
    prev = row(release="4.18", from_release="4.17", runs=101)
    index = BaselineIndex(Baselines("disruption", "current", [row(runs=100), prev]))
    assert best_match(index, "kube-api-new-connections", HA).how == "exact"  # ≥ 100 is enough
    index = BaselineIndex(Baselines("disruption", "current", [row(runs=99), prev]))
    match = best_match(index, "kube-api-new-connections", HA)
    assert match.how == "previous_release" and match.row is prev
    # the previous release needs strictly more than 100 runs for disruption …
    index = BaselineIndex(Baselines("disruption", "current", [row(runs=99), dataclasses.replace(prev, job_runs=100)]))
    match = best_match(index, "kube-api-new-connections", HA)
    assert match.row is None and "only 99 historical runs" in match.reason and "4.18 has only 100" in match.reason
    # … and 100 is enough for alerts
    assert best_match(index, "kube-api-new-connections", HA, alerts=True).how == "previous_release"
    assert "no historical data" in best_match(index, "other", HA).reason


def test_check_run_verdicts():
    index = BaselineIndex(Baselines("disruption", "current", [
        row(p99=9.76), row("image-registry-reused-connections", p99=0.0, runs=500), row("few", runs=3)]))
    job_type = dict(zip(("release", "from_release", "platform", "architecture", "network", "topology"), HA))
    got = check_run("job", "1", job_type, [
        DisruptionSample("kube-api-new-connections", "New", 15),  # allowed 15: pass
        DisruptionSample("image-registry-reused-connections", "Reused", 7),  # allowed 6: fail
        DisruptionSample("few", "New", 0),
    ], [], disruption=index, alert_history=None)
    assert [(v.verdict, v.allowed_seconds) for v in got.backends] == [("pass", 15), ("fail", 6), ("skipped", None)]
    assert got.backends[0].test == "[sig-api-machinery] disruption/kube-api connection/new should be available throughout the test"
    assert got.verdict == "fail"
    no_platform = check_run("job", "1", {**job_type, "platform": ""}, [DisruptionSample("kube-api-new-connections", "New", 1)],
                            [], disruption=index, alert_history=None)
    assert no_platform.backends[0].verdict == "skipped" and "no platform" in no_platform.backends[0].reason


def test_disruption_test_names():
    assert disruption_test_name("ingress-to-oauth-server-reused-connections", "Reused") == (
        "[sig-network-edge] disruption/ingress-to-oauth-server connection/reused should be available throughout the test")


@pytest.mark.parametrize("seconds, verdict", [(10, "pass"), (11, "flake"), (20, "flake"), (21, "fail")])
def test_alerts_above_p99_fail_above_p95_flake(seconds, verdict):
    index = BaselineIndex(Baselines("alerts", "current", [
        row("KubePodNotReady", namespace="openshift-etcd", level="Warning", p95=10, p99=20)]))
    got = judge_alert(AlertSample("KubePodNotReady", "openshift-etcd", "warning", seconds), HA, index)
    assert got.verdict == verdict and (got.flake_after, got.fail_after) == (10, 20)
    assert got.test == "[bz-etcd][invariant] alert/KubePodNotReady should not be at or above warning in ns/openshift-etcd"


def test_alert_modifiers():
    index = BaselineIndex(Baselines("alerts", "current", [row("KubeMemoryOvercommit", level="Warning", p95=1, p99=2)]))
    never = judge_alert(AlertSample("KubeMemoryOvercommit", "", "Warning", 5000), HA, index)
    assert (never.verdict, never.modifier, never.fail_after) == ("flake", "never_fail", 86400)
    any_fails = judge_alert(AlertSample("TargetDown", "kube-system", "Warning", 2), HA, index)
    assert (any_fails.verdict, any_fails.modifier) == ("fail", "fail_on_any")  # no history needed
    assert judge_alert(AlertSample("Unseen", "", "Warning", 2), HA, index).verdict == "skipped"


def test_format_go_duration():
    assert [format_go_duration(s) for s in (0, 0.5, 1, 62.5, 3600, 3723.25, 0.0001)] == [
        "0s", "500ms", "1s", "1m2.5s", "1h0m0s", "1h2m3.25s", "100µs"]


def _report_fixture() -> tuple[Baselines, Baselines]:
    old = Baselines("disruption", "current", [
        row("a", p95=10, p99=20), row("b", p95=10, p99=20), row("c", p95=10, p99=20),
        row("d", p95=10, p99=0), row("e", p95=10, p99=20), row("gone", p95=1, p99=1),
        row("f", p95=10, p99=20, release="4.17", from_release="4.16"),
    ])
    new = Baselines("disruption", "current", [
        row("a", p95=20, p99=40, runs=100),   # P95 +100 %, P99 +100 %: row
        row("b", p95=12, p99=30, runs=500),   # P95 +20 % (not above 30 %), P99 +50 %: row, P95 cells 0
        row("c", p95=30, p99=60, runs=99),    # increase, but < 100 runs: counted, not a row
        row("d", p95=10, p99=50),             # old P99 = 0: never an increase (upstream's blind spot)
        row("e", p95=10, p99=10),             # decreased
        row("new", p95=1, p99=1),             # added
        row("f", p95=10, p99=90, release="4.17", from_release="4.16"),  # not a compared release
    ])
    return old, new


def test_report_hand_computed():
    old, new = _report_fixture()
    got = compare_baselines(old, new, leeway=30)
    assert got.releases == ["4.19", "4.18"]
    assert (got.added, got.missing, got.increased, got.decreased) == (1, 1, 3, 1)
    assert [(r.name, r.p95_increase, r.p95_increase_percent, r.p99_increase_percent) for r in got.rows] == [
        ("a", 10.0, 100.0, 100.0), ("b", 0.0, 0.0, 50.0)]
    text = report_markdown(got)
    assert "There were (1) added jobs and (1) were removed." in text
    assert "Note: For P99, disruptions had `3` jobs increased and `1` jobs decreased." in text
    assert "| a | 4.19 | 4.18 | amd64 | ovn | aws | ha | 100 | 20s | 100.00% | 40s | 100.00% |" in text
    assert "| b | 4.19 | 4.18 | amd64 | ovn | aws | ha | 500 | 12s | 0.00% | 30s | 50.00% |" in text
    assert text.index("| a |") < text.index("| b |")
    quiet = report_markdown(compare_baselines(old, new, leeway=200))
    assert "Comparisons were above" not in quiet and "Click To Show Table" not in quiet


def test_report_on_real_baselines_has_no_rows(shared_data):
    """origin's files here share no release (2022: 4.9–4.11, 2023: 4.14, 2025: 4.18/4.19), and
    the key includes the release: every new row is added, every old one removed, nothing compared."""
    folder = shared_data / "openshift" / "disruption"
    oldest = read_query_results(folder / "query_results_origin-2022-06-17_rel4.9-4.11_legacy-format.json")
    legacy = read_query_results(folder / "query_results_origin-2023-06-09_rel4.14_legacy-format.json")
    current = read_query_results(folder / "query_results_origin-2025-04-03_rel4.18-4.19.json")
    got = compare_baselines(legacy, current)
    assert (got.releases, got.added, got.missing, got.compared, len(got.rows)) == (["4.19", "4.18"], 4432, 1050, 0, 0)
    got = compare_baselines(oldest, legacy)
    assert (got.releases, got.added, got.missing, got.compared, len(got.rows)) == (["4.14", "4.13"], 1050, 966, 0, 0)
    same = compare_baselines(current, current)
    assert (same.compared, same.increased, same.decreased, len(same.rows)) == (4432, 0, 0, 0)


def test_report_on_real_baselines_with_a_worse_copy(shared_data):
    """The real 4.18/4.19 file against a copy whose 4.19 P99 and P95 doubled: every 4.19 key
    with P99 > 0 increases; the rows are those with ≥ 100 runs, largest P95 increase first."""
    current = read_query_results(shared_data / "openshift" / "disruption" / "query_results_origin-2025-04-03_rel4.18-4.19.json")
    worse = Baselines("disruption", "current", [
        dataclasses.replace(r, p95=r.p95 * 2, p99=r.p99 * 2) if r.release == "4.19" else r for r in current.rows])
    got = compare_baselines(current, worse)
    expected_increases = sum(1 for r in current.rows if r.release == "4.19" and r.p99 > 0)
    expected_rows = sum(1 for r in current.rows if r.release == "4.19" and r.p99 > 0 and r.job_runs >= 100)
    assert got.increased == expected_increases and len(got.rows) == expected_rows > 0
    increases = [r.p95_increase for r in got.rows]
    assert increases == sorted(increases, reverse=True)


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60),
       st.sampled_from([0.5, 0.75, 0.95, 0.99]))
def test_percentile_cont_is_numpys_linear_percentile(values, q):
    import numpy as np

    assert percentile_cont(values, q) == pytest.approx(float(np.percentile(values, q * 100)), abs=1e-9)


@given(st.floats(min_value=0, max_value=5000, allow_nan=False), st.sampled_from(["ha", "single", "dual", "compact"]))
def test_allowed_seconds_is_never_below_p99_plus_the_grace(p99, topology):
    allowed = allowed_seconds(p99, topology)
    grace = {"single": 10, "dual": 60}.get(topology, 5)
    assert allowed >= max(p99, 1) + grace - 0.5
