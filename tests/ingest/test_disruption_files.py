"""Disruption and alert artifacts, query_results.json in every upstream format, job variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ciscope.errors import InputError
from ciscope.ingest.disruption import (
    AlertSample,
    DisruptionSample,
    go_duration_seconds,
    looks_like_query_results,
    parse_query_results,
    query_results_document,
    read_backend_disruption,
    read_query_results,
    read_run_artifacts,
)
from ciscope.ingest.job_variants import BUILTIN, job_type, load_rules


def disruption_file(path: Path, entries: dict[str, tuple[str, str]]) -> Path:
    doc = {"BackendDisruptions": {
        name: {"Name": name, "BackendName": name, "ConnectionType": conn, "DisruptedDuration": duration,
               "DisruptionMessages": [], "LoadBalancerType": "", "Protocol": "", "TargetAPI": ""}
        for name, (conn, duration) in entries.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def alerts_file(path: Path, alerts: list[tuple[str, str, str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Alerts": [{"Name": n, "Namespace": ns, "Level": lv, "Duration": d}
                                           for n, ns, lv, d in alerts]}))
    return path


@pytest.mark.parametrize("text, seconds", [
    ("0s", 0.0), ("0", 0.0), ("12s", 12.0), ("1m30s", 90.0), ("1h2m3.5s", 3723.5), ("250ms", 0.25),
    ("1.5s", 1.5), ("100µs", 0.0001), ("2us", 2e-6), ("-3s", -3.0),
])
def test_go_durations(text, seconds):
    assert go_duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "12", "1d", "s", "1m x", "twelve seconds"])
def test_bad_go_durations(text):
    with pytest.raises(ValueError):
        go_duration_seconds(text)


def test_phase_files_are_rounded_up_per_entry_and_summed(tmp_path):
    junit = tmp_path / "artifacts" / "e2e" / "junit"
    a = disruption_file(junit / "backend-disruption_20250101-000000.json", {
        "kube-api-new-connections": ("New", "1.2s"), "kube-api-reused-connections": ("Reused", "0s"),
    })
    b = disruption_file(junit / "backend-disruption_20250101-010000.json", {
        "kube-api-new-connections": ("New", "2.1s"), "ingress-to-console-new-connections": ("New", "1m0.5s"),
    })
    c = alerts_file(junit / "alerts_20250101-000000.json", [
        ("KubePodNotReady", "openshift-etcd", "Warning", "1.2s"),
        ("KubePodNotReady", "openshift-etcd", "warning", "1.2s"),  # level case normalized: same key
        ("etcdMembersDown", "", "Critical", "0s"),
    ])
    (junit / "cluster-data_20250101-000000.json").write_text('{"MasterNodesUpdated": "N"}')
    (junit / "cluster-data_20250101-010000.json").write_text('{"MasterNodesUpdated": "Y"}')
    got = read_run_artifacts(sorted(junit.iterdir()), root=tmp_path)
    # ceil(1.2) + ceil(2.1) = 2 + 3, not ceil(3.3) = 4
    assert got.backends == [
        DisruptionSample("ingress-to-console-new-connections", "New", 61),
        DisruptionSample("kube-api-new-connections", "New", 5),
        DisruptionSample("kube-api-reused-connections", "Reused", 0),
    ]
    # alerts: merged per (name, namespace, level) then rounded up once: ceil(2.4) = 3
    assert got.alerts == [AlertSample("KubePodNotReady", "openshift-etcd", "Warning", 3),
                          AlertSample("etcdMembersDown", "", "Critical", 0)]
    assert got.master_nodes_updated == "Y"
    assert len(got.files) == 5 and not got.warnings
    assert a.name in " ".join(got.files) and b.name in " ".join(got.files) and c.name in " ".join(got.files)


def test_a_bad_file_is_a_warning_naming_it_and_the_rest_is_kept(tmp_path):
    good = disruption_file(tmp_path / "backend-disruption_1.json", {"kube-api-new-connections": ("New", "4s")})
    bad = tmp_path / "backend-disruption_2.json"
    bad.write_text('{"BackendDisruptions": {"x": {"DisruptedDuration": "soon"}}}')
    broken = tmp_path / "alerts_3.json"
    broken.write_text('{"Alerts": [')
    got = read_run_artifacts([good, bad, broken])
    assert got.backends == [DisruptionSample("kube-api-new-connections", "New", 4)]
    assert len(got.warnings) == 2
    alerts, disruption = got.warnings  # files are read in sorted order
    assert "backend-disruption_2.json (BackendDisruptions['x'])" in disruption
    assert "'soon' is not a Go duration" in disruption and "run kept" in disruption
    assert "alerts_3.json:1: malformed JSON" in alerts


def test_read_backend_disruption_errors_name_the_place(tmp_path):
    path = tmp_path / "backend-disruption_x.json"
    path.write_text('{"Other": 1}')
    with pytest.raises(InputError, match=r"backend-disruption_x.json: expected an object \{\"BackendDisruptions\""):
        read_backend_disruption(path)


# -- query_results.json: the real files ---------------------------------------------------

FILES = {
    "disruption/query_results_origin-2025-04-03_rel4.18-4.19.json": ("disruption", "current", 4432),
    "disruption/query_results_origin-2023-06-09_rel4.14_legacy-format.json": ("disruption", "legacy", 1050),
    "disruption/query_results_origin-2022-06-17_rel4.9-4.11_legacy-format.json": ("disruption", "oldest", 966),
    "alerts/query_results_origin-2022-12-05_rel4.12.json": ("alerts", "legacy", 795),
    "alerts/query_results_origin-2022-06-17_rel4.10-4.11.json": ("alerts", "oldest", 1870),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_query_results_every_format(shared_data, name):
    path = shared_data / "openshift" / name
    kind, fmt, count = FILES[name]
    assert looks_like_query_results(path)
    got = read_query_results(path)
    assert (got.kind, got.format, len(got.rows)) == (kind, fmt, count)
    raw = json.loads(path.read_text())
    first, row = raw[0], got.rows[0]
    assert row.name == first.get("BackendName", first.get("AlertName"))
    assert row.p99 == float(first["P99"]) and row.p95 == float(first["P95"])
    assert row.job_runs == first.get("JobRuns")
    assert (row.p50 is None) == ("P50" not in first)


def test_current_file_round_trips_exactly(shared_data):
    path = shared_data / "openshift" / "disruption" / "query_results_origin-2025-04-03_rel4.18-4.19.json"
    original = json.loads(path.read_text())
    written = query_results_document(read_query_results(path))
    assert written == original
    assert [list(r) for r in written] == [list(r) for r in original]  # key order too
    assert sum(1 for r in read_query_results(path).rows if (r.job_runs or 0) >= 100) == 1368


def test_testgrid_json_is_not_query_results(tmp_path):
    path = tmp_path / "table.json"
    path.write_text('{"tests": [], "timestamps": []}')
    assert not looks_like_query_results(path)
    path.write_text('[{"name": "x"}]')
    assert not looks_like_query_results(path)


@pytest.mark.parametrize("doc, message", [
    ({"a": 1}, "expected a JSON array of baseline rows, found dict"),
    ([{"foo": 1}], "row 0.*BackendName \\(disruption\\) or AlertName"),
    ([{"BackendName": "x", "Release": "4.1"}], "row 0.*missing FromRelease, Platform"),
    ([{"BackendName": "x", "Release": "4.1", "FromRelease": "", "Platform": "aws", "Architecture": "amd64",
       "Network": "ovn", "Topology": "ha", "P95": "fast", "P99": "1.0"}], r"row 0.*P95 = 'fast': expected a number"),
    ([{"BackendName": "x", "Release": "4.1", "FromRelease": "", "Platform": "aws", "Architecture": "amd64",
       "Network": "ovn", "Topology": "ha", "P95": "1", "P99": "1.0", "JobRuns": "many"}], r"row 0.*JobRuns = 'many'"),
])
def test_bad_query_results_name_file_row_and_expectation(doc, message):
    with pytest.raises(InputError, match=f"^qr.json.*{message}"):
        parse_query_results(doc, source="qr.json")


# -- job variants ----------------------------------------------------------------------------


@pytest.mark.parametrize("job, expected", [
    ("periodic-ci-openshift-release-master-ci-4.14-upgrade-from-stable-4.13-e2e-aws-ovn-upgrade",
     ("4.14", "4.13", "aws", "amd64", "ovn", "ha")),
    ("periodic-ci-openshift-release-master-nightly-4.19-e2e-gcp-ovn-upgrade",
     ("4.19", "4.19", "gcp", "amd64", "ovn", "ha")),
    ("periodic-ci-openshift-release-master-nightly-4.18-e2e-metal-ipi-ovn-arm64-single-node",
     ("4.18", "", "metal", "arm64", "ovn", "single")),
    ("periodic-ci-openshift-release-master-nightly-4.20-e2e-vsphere-ovn-two-node-tnf",
     ("4.20", "", "vsphere", "amd64", "ovn", "dual")),
    ("unit-tests", ("", "", "", "amd64", "ovn", "ha")),
])
def test_builtin_job_name_rules(job, expected):
    got = job_type(job, {}, rules=BUILTIN)
    assert tuple(got.values()) == expected


def test_run_variants_win_and_a_rules_file_extends(tmp_path):
    got = job_type("e2e-aws-4.18", {"platform": "gcp", "arch": "s390x"}, rules=BUILTIN)
    assert (got["platform"], got["architecture"], got["release"]) == ("gcp", "s390x", "4.18")
    rules = tmp_path / "variants.yaml"
    rules.write_text("rules:\n  - variant: platform\n    match: '-myclouds?-'\n    value: openstack\n"
                     "defaults:\n  network: sdn\n")
    got = job_type("e2e-mycloud-4.18", {}, rules=load_rules(str(rules)))
    assert (got["platform"], got["network"], got["release"]) == ("openstack", "sdn", "4.18")


def test_bad_rules_file_names_the_rule(tmp_path):
    rules = tmp_path / "variants.yaml"
    rules.write_text("rules:\n  - variant: colour\n    match: x\n")
    with pytest.raises(InputError, match=r"variants.yaml \(rules\[0\]\): expected \{variant: one of release"):
        load_rules(str(rules))
    rules.write_text("rules:\n  - variant: platform\n    match: '('\n")
    with pytest.raises(InputError, match=r"invalid regular expression"):
        load_rules(str(rules))


def test_only_origin_artifact_names_are_taken():
    from ciscope.ingest.disruption import is_artifact

    assert is_artifact("backend-disruption_20250101-000000.json") and is_artifact("alerts_20250101-000000.json")
    assert is_artifact("cluster-data_20250101-000000.json")
    assert not is_artifact("alertmanager.json") and not is_artifact("alerts.yaml")
    assert not is_artifact("backend-disruption.txt") and not is_artifact("junit_e2e.xml")
