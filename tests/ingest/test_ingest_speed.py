"""The cheap speed-ups of issue 13 give exactly what the code they replaced gave."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from ciscope.ingest._xml import parse_seconds
from ciscope.ingest.prow import read_run


def _old_parse_seconds(value: str | None) -> float | None:
    """parse_seconds before the fast path (copied from git history, for the comparison)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = float(value.strip().replace(",", "").replace("_", "").removesuffix("s"))
        except ValueError:
            return None
    if math.isnan(seconds) or seconds in (float("inf"), float("-inf")) or seconds < 0:  # as: seconds != seconds
        return None
    return seconds


@pytest.mark.parametrize("value", [
    None, "", " ", "0", "0.000", "-0", "-0.0", "0.5", " 1.25 ", "1e3", "1E-3", "-1", "-0.001", "nan", "NaN", "-nan",
    "inf", "-inf", "Infinity", "1e400", "-1e400", "1,234.5", "1_000", "3s", " 3s ", "abc", "1.2.3", "<<computed>>",
    "12:00:01",
])
def test_parse_seconds_as_before(value: str | None) -> None:
    new, old = parse_seconds(value), _old_parse_seconds(value)
    assert (new is None) == (old is None)
    if new is not None:
        assert new == old and math.copysign(1, new) == math.copysign(1, old)  # -0.0 kept as it was


def _run_folder(root: Path) -> Path:
    folder = root / "logs" / "job-a" / "17"
    (folder / "artifacts" / "b" / "deep").mkdir(parents=True)
    (folder / "artifacts" / "a").mkdir(parents=True)
    (folder / "started.json").write_text(json.dumps({"timestamp": 1700000000}))
    (folder / "finished.json").write_text(json.dumps({"timestamp": 1700000100, "result": "FAILURE"}))
    (folder / "build-log.txt").write_text("log\n")
    case = '<testsuite name="s"><testcase classname="c" name="{}"{}/></testsuite>'
    (folder / "artifacts" / "junit_z.xml").write_text(case.format("t", ""))
    (folder / "artifacts" / "a" / "junit_1.xml").write_text(case.format("t", ' status="failed"'))
    (folder / "artifacts" / "b" / "deep" / "JUNIT-x.XML").write_text(case.format("u", ""))
    (folder / "artifacts" / "b" / "junit_bad.xml").write_text("<testsuite><testcase")
    (folder / "artifacts" / "b" / "deep" / "e2e.log").write_text("x\n")
    (folder / "artifacts" / "a" / "notes.txt").write_text("x\n")
    (folder / "artifacts" / "a" / "data.json").write_text("{}")
    return folder


@pytest.mark.parametrize("spelling", ["absolute", "relative", "dot", "trailing-slash"])
def test_run_folder_paths_as_with_pathlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str) -> None:
    """Report order, files, attempts, logs and the refused report's name do not depend on how
    the folder is spelled, and are what pathlib gave."""
    folder = _run_folder(tmp_path)
    if spelling == "absolute":
        given = str(folder)
    elif spelling == "relative":
        monkeypatch.chdir(tmp_path)
        given = os.path.join("logs", "job-a", "17")
    elif spelling == "dot":
        monkeypatch.chdir(folder)
        given = "."
    else:
        given = str(folder) + "/"
    run = read_run(given, job="job-a", build="17")
    assert [(r.file, r.classname, r.name, r.status.value, r.attempt) for r in run.results] == [
        ("artifacts/junit_z.xml", "c", "t", "passed", 0),  # os.walk: a folder's files before its subfolders
        ("artifacts/a/junit_1.xml", "c", "t", "failed", 1),
        ("artifacts/b/deep/JUNIT-x.XML", "c", "u", "passed", 0),
    ]
    assert run.logs == ["build-log.txt", "artifacts/a/notes.txt", "artifacts/b/deep/e2e.log"]
    refused = run.metadata["refused"]
    assert len(refused) == 1
    expected = Path(given) / "artifacts" / "b" / "junit_bad.xml"  # as pathlib spelled it
    assert refused[0]["file"] == str(expected)
    assert refused[0]["reason"].startswith(f"{expected}:")


def test_junit_durations_as_parse_seconds() -> None:
    """The reader's inline float path gives what parse_seconds gives, for every kind of value."""
    from ciscope.ingest.junit import parse_junit

    values = ["0.5", "0", "-0.0", "-1", "nan", "inf", "1e400", "1,234.5", "3s", " 2 ", "x", "", "0.5"]
    cases = "".join(f'<testcase classname="c" name="t{i}" time="{v}"/>' for i, v in enumerate(values))
    got = [r.duration for r in parse_junit(f'<testsuite name="s">{cases}<testcase name="none"/></testsuite>'.encode())]
    assert got == [parse_seconds(v) for v in values] + [None]
    assert [math.copysign(1, d) for d in got[:3]] == [1, 1, -1]
