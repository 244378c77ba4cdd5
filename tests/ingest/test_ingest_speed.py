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


# --------------------------------------------------------------------------- columns (issue 13)

def _busy_report() -> bytes:
    """Nested suites, repeated test cases (retries), flaky and rerun children, skips, status
    attributes, output: every path of the reader, over more than one 64-case batch."""
    parts = ['<testsuites name="all">']
    for s in range(3):
        parts.append(f'<testsuite name="outer{s % 2}"><testsuite name="inner">')
        for i in range(90):
            kind = i % 9
            body = {
                0: "",
                1: '<failure message="boom" type="E">trace\n  at x</failure>',
                2: "<skipped/>",
                3: '<flakyFailure message="flaky"><stackTrace>st</stackTrace></flakyFailure>',
                4: '<failure message="f"/><rerunFailure message="again"/>',
                5: "<system-out>out</system-out>",
                6: '<error message="err">e</error>',
                7: "",
                8: "",
            }[kind]
            status = ' status="notrun"' if kind == 7 else ""
            name = f"t{i % 40}"  # repeats: retries in the same suite
            parts.append(f'<testcase classname="pkg.C{i % 3}" name="{name}" time="{i / 10}"{status}>{body}</testcase>')
        parts.append("</testsuite></testsuite>")
    parts.append("</testsuites>")
    return "".join(parts).encode()


def test_columns_in_chunks_are_the_records() -> None:
    """Whatever the chunk size, the columns hold exactly the records parse_junit yields (which
    the corpus conformance tests check), and records round-trip through columns."""
    from ciscope.ingest.junit import parse_junit, read_columns
    from ciscope.model import ResultColumns

    data = _busy_report()
    records = list(parse_junit(data))
    assert len(records) > 300 and {r.status.value for r in records} == {"passed", "failed", "error", "skipped"}
    assert any(r.attempt for r in records) and any(r.scope for r in records)
    for rows in (64, 128, 1000, None):
        chunks = list(read_columns(data, rows=rows))
        assert [r for chunk in chunks for r in chunk] == records
        if rows == 64:
            assert len(chunks) > 3
    [whole] = read_columns(data)
    assert list(whole) == records and [whole[i] for i in (0, 5, -1)] == [records[0], records[5], records[-1]]
    again = ResultColumns.from_records(records)
    assert list(again) == records and again.tests() == [r.test_id for r in records]


def test_columnar_run_gives_the_tables_records_gave(tmp_path: Path) -> None:
    """The store's tables from a run read as columns equal those from the same run as records."""
    from ciscope.model import Run, RunStatus
    from ciscope.store.write import arrow_batch

    folder = _run_folder(tmp_path)
    (folder / "artifacts" / "junit_busy.xml").write_bytes(_busy_report())
    run = read_run(folder, job="job-a", build="17")
    as_records = Run(job="job-a", build="17", status=RunStatus.FAILURE, started_at=run.started_at,
                     finished_at=run.finished_at, metadata=run.metadata, results=list(run.results), logs=run.logs,
                     source=run.source)
    when = run.started_at
    a, b = arrow_batch([run], now=when), arrow_batch([as_records], now=when)
    for table in ("runs", "test_results", "test_verdicts"):
        assert a.tables[table].equals(b.tables[table]), table
    assert a.tables["runs"]["reason"][0].as_py() is not None
