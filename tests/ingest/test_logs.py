"""Console logs: how a run ended according to its runner's closing lines, the tail of a log
with its line numbers, start times of logs and reports."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from ciscope.ingest.batch import _reports_started
from ciscope.ingest.logs import log_status, main_log, read_tail, status_of_lines
from ciscope.model import RunStatus

F, S, E, A = RunStatus.FAILURE, RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.ABORTED

CASES = {
    "jenkins failure": (["[INFO] BUILD FAILURE", "Finished: FAILURE"], F, "jenkins"),
    "jenkins unstable": (["Finished: UNSTABLE"], F, "jenkins"),
    "jenkins aborted": (["Finished: ABORTED"], A, "jenkins"),
    "jenkins success": (["Finished: SUCCESS", ""], S, "jenkins"),
    "zuul result": (["2024-01-01 10:00:00.1 | RESULT: POST_FAILURE"], F, "zuul"),
    "zuul node failure": (["RESULT: NODE_FAILURE"], E, "zuul"),
    "old zuul console": (["[Zuul] Job complete, result: SUCCESS"], S, "zuul"),
    "zuul timeout": (["2024-01-01 10:00:00 | RUN END RESULT_TIMED_OUT: [untrusted : x.yaml@master]"], F, "zuul"),
    "github": (["2022-05-30T09:11:03.27Z ##[error]Process completed with exit code 1.",
                "2022-05-30T09:11:04Z Post job cleanup.", "Cleaning up orphan processes"], F, "github"),
    "gitlab ok": (["$ make test", "Job succeeded"], S, "gitlab"),
    "gitlab failed": (["ERROR: Job failed: exit code 2"], F, "gitlab"),
    "travis": (["", "Done. Your build exited with 1."], F, "travis"),
    "travis ok": (["Done. Your build exited with 0."], S, "travis"),
    "taskcluster": (["[taskcluster 2025-02-13 21:48:08.824Z] Unsuccessful task run with exit code: 255 completed"],
                    F, "taskcluster"),
    "generic worker": (["[taskcluster:error] exit status 2"], F, "taskcluster"),
    "generic worker timeout": (["[taskcluster:error] Task aborted - max run time exceeded"], F, "taskcluster"),
    "openqa failed": (["[2024-01-01T10:00:00.000 UTC] [debug] Result: failed"], F, "openqa"),
    "openqa died": (["Result: died"], E, "openqa"),
    "openqa softfailed": (["Result: softfailed"], S, "openqa"),
    "ansible recap": (["PLAY RECAP *****", "localhost : ok=3 changed=1 unreachable=0 failed=1 skipped=0"], F,
                      "ansible"),
    "ansible later recap ok, earlier failed": (
        ["host | ok: 30 changed: 2 unreachable: 0 failed: 1", "PLAY RECAP",
         "host | ok: 3 changed: 0 unreachable: 0 failed: 0"], F, "ansible"),
    "ansible ok": (["localhost : ok=3 changed=1 unreachable=0 failed=0 skipped=0"], S, "ansible"),
    "runner line beats recap": (["localhost : ok=3 changed=1 unreachable=0 failed=1", "Finished: SUCCESS"], S,
                                "jenkins"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_status_of_the_closing_lines(case):
    lines, status, runner = CASES[case]
    found = status_of_lines(lines)
    assert found is not None and (found.status, found.runner) == (status, runner)
    assert lines[found.line - 1].strip() == found.text


@pytest.mark.parametrize("lines", [[], ["all good", "bye"], ["the tests Finished: FAILURE then went on", "x"],
                                   ["echo 'Process completed'"]])
def test_no_status_when_no_runner_says_it(lines):
    assert status_of_lines(lines) is None


def test_last_runner_line_wins_and_line_numbers_are_of_the_whole_log(tmp_path):
    log = tmp_path / "console.log.gz"
    body = "".join(f"line {k}\n" for k in range(1, 50001)) + "Finished: FAILURE\n"
    log.write_bytes(gzip.compress(("Finished: SUCCESS\n" + body).encode()))
    found = log_status(log)
    assert (found.status, found.line) == (F, 50002)
    text, first = read_tail(log, max_bytes=1000)
    assert len(text.encode()) <= 1000 and text.endswith("Finished: FAILURE\n")
    assert text.startswith(f"line {first - 1}\n")  # the first kept line is a whole line, numbered right


def test_main_log_prefers_the_runners_console():
    assert main_log(["logs/screen-n-cpu.txt.gz", "job-output.txt.gz"]) == "job-output.txt.gz"
    assert main_log(["a.log", "b.log"]) == "a.log"
    assert main_log([]) is None


def test_reports_state_their_start(tmp_path):
    junit = tmp_path / "a.xml"
    junit.write_text('<testsuites><testsuite name="s" timestamp="2024-03-02T10:00:00"/>'
                     '<testsuite name="t" timestamp="2024-03-01T09:00:00+02:00"/></testsuites>')
    trx = tmp_path / "b.trx"
    trx.write_text('<TestRun><Times creation="2024-01-01T00:00:00" start="2023-12-31T23:00:00.123+00:00"/></TestRun>')
    nunit = tmp_path / "c.xml.gz"
    nunit.write_bytes(gzip.compress(b'<test-run id="2" start-time="2024-05-05 08:00:00Z"></test-run>'))
    xunit = tmp_path / "d.xml"
    xunit.write_text('<assemblies><assembly name="x" run-date="2024-06-06" run-time="07:08:09"/></assemblies>')
    bare = tmp_path / "e.xml"
    bare.write_text('<testsuite name="s"><testcase name="t"/></testsuite>')
    assert _reports_started([junit]) == datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
    assert _reports_started([trx]) == datetime(2023, 12, 31, 23, 0, 0, 123000, tzinfo=UTC)
    assert _reports_started([nunit]) == datetime(2024, 5, 5, 8, 0, tzinfo=UTC)
    assert _reports_started([xunit]) == datetime(2024, 6, 6, 7, 8, 9, tzinfo=UTC)
    assert _reports_started([bare]) is None
    assert _reports_started([junit, trx, bare]) == datetime(2023, 12, 31, 23, 0, 0, 123000, tzinfo=UTC)


def test_a_log_next_to_reports_joins_their_run_without_changing_its_id(store, tmp_path):
    from ciscope.ingest.batch import BareRunOptions, ingest

    (tmp_path / "junit.xml").write_text('<testsuite name="s"><testcase name="t"/></testsuite>')
    first = ingest(store, [tmp_path], bare=BareRunOptions(job="j"))
    assert first.runs == 1
    (tmp_path / "console.log").write_text("building\nFinished: FAILURE\n")
    again = ingest(store, [tmp_path], bare=BareRunOptions(job="j"))
    assert (again.runs, again.skipped) == (0, 1)
    replaced = ingest(store, [tmp_path], bare=BareRunOptions(job="j"), replace=True)
    assert replaced.replaced == 1
    [(status, logs)] = store.query("SELECT status, logs FROM runs")
    assert (status, logs) == ("failure", '["console.log"]')


def test_line_numbers_count_lone_carriage_returns_as_extract_reason_does(tmp_path):
    from ciscope.analysis.reasons import split_lines

    text = "progress 1%\rprogress 50%\rdone\r\n" * 2000 + "Finished: FAILURE\n"
    log = tmp_path / "console.log"
    log.write_text(text, newline="")
    whole = split_lines(text)
    assert log_status(log).line == len(whole)
    tail, first = read_tail(log, max_bytes=500)
    assert split_lines(tail)[-1] == whole[first - 1 + len(split_lines(tail)) - 1]
