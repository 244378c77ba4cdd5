"""Builders of OpenShift run folders with disruption, alert and cluster-data artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from runfolders import write_run

JOB = "periodic-ci-openshift-release-master-nightly-4.19-e2e-aws-ovn"
RUNS = 110


def kube_api_seconds(build: int) -> int:
    return (build * 7) % 11  # 0..10, deterministic


def add_artifacts(folder: Path, build: int, *, bad: bool = False) -> None:
    junit = folder / "artifacts" / "e2e-aws-ovn" / "openshift-e2e-test" / "artifacts" / "junit"
    junit.mkdir(parents=True, exist_ok=True)
    seconds = kube_api_seconds(build)
    # two phase files (an upgrade writes one set per phase): the seconds in one, 0 s in the other
    first, second = (f"{seconds}s", "0s") if build % 2 else ("0s", f"{seconds}s")
    for stamp, duration in (("000000", first), ("010000", second)):
        (junit / f"backend-disruption_20261101-{stamp}.json").write_text(json.dumps({"BackendDisruptions": {
            "kube-api-new-connections": {"BackendName": "kube-api-new-connections", "ConnectionType": "New",
                                         "DisruptedDuration": duration},
            "image-registry-reused-connections": {"BackendName": "image-registry-reused-connections",
                                                  "ConnectionType": "Reused", "DisruptedDuration": "0.1s"},
        }}))
    alerts = [{"Name": "Watchdog2", "Namespace": "", "Level": "Warning", "Duration": "0s"}]
    if build % 10 == 0:
        alerts.append({"Name": "KubePodNotReady", "Namespace": "openshift-etcd", "Level": "Warning", "Duration": "29.5s"})
    (junit / "alerts_20261101-000000.json").write_text(json.dumps({"Alerts": alerts}))
    (junit / "cluster-data_20261101-000000.json").write_text('{"MasterNodesUpdated": "N"}')
    if bad:
        (junit / "backend-disruption_20261101-020000.json").write_text("{not json")


def write_history(root: Path) -> Path:
    """RUNS hourly runs of JOB; the last one has a malformed extra disruption file."""
    for build in range(1, RUNS + 1):
        folder = write_run(root, JOB, str(build), result="SUCCESS")
        add_artifacts(folder, build, bad=build == RUNS)
    return root
