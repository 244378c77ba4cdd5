"""Failure-reason extraction from CI logs: small inline logs, then real labelled logs.

Real data: ``buildlogs-logchunks`` (Travis CI logs with a labelled failure chunk each) and
``buildlogs-cidiff-breakages`` (failing/passing log pairs with labelled error lines). The
floors are the overlap rates measured when this was written (benchmarks/BENCHMARKS.md,
"Failure clustering"), rounded down.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ciscope.analysis.reasons import Reason, extract_reason, split_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

TRAVIS_TRAILER = '\n\x1b[31;1mThe command "make test" exited with 2.\x1b[0m\n\nDone. Your build exited with 1.\n'


def test_pytest_failure_before_the_runner_lines():
    log = ("$ pip install -e .\nSuccessfully installed ciscope\n$ make test\n"
           "============ test session starts ============\ncollected 3 items\n\ntests/test_x.py ..F\n\n"
           "================= FAILURES =================\n______________ test_y ______________\n\n"
           "    def test_y():\n>       assert add(1, 1) == 3\nE       assert 2 == 3\n\ntests/test_x.py:7: AssertionError\n"
           "========= 1 failed, 2 passed in 0.12s =========\nmake: *** [Makefile:3: test] Error 1" + TRAVIS_TRAILER)
    reason = extract_reason(log)
    lines = split_lines(log)
    assert lines[reason.start - 1:reason.end] == reason.text.split("\n")
    assert "E       assert 2 == 3" in reason.text and "AssertionError" in reason.text
    assert "exited with 2" not in reason.text  # the runner's lines say *that* it failed, not why
    assert {"assertion", "exception"} <= set(reason.signals)
    assert reason.score > 0


def test_java_stack_trace_is_one_block():
    log = ("[INFO] Running com.example.AppTest\n"
           "[ERROR] Tests run: 2, Failures: 1, Errors: 0, Skipped: 0\n"
           "[ERROR] shouldAdd(com.example.AppTest)  Time elapsed: 0.01 s  <<< FAILURE!\n"
           "java.lang.AssertionError: expected:<3> but was:<2>\n"
           "\tat org.junit.Assert.fail(Assert.java:88)\n"
           "\tat com.example.AppTest.shouldAdd(AppTest.java:14)\n"
           + "[INFO] noise\n" * 50
           + "[INFO] BUILD FAILURE\n[ERROR] Failed to execute goal surefire: There are test failures.\n"
           "Build step 'Invoke top-level Maven targets' marked build as failure\nFinished: FAILURE\n")
    reason = extract_reason(log)
    assert (reason.start, reason.end) == (3, 6)
    assert reason.text.endswith("AppTest.java:14)")


def test_lines_end_like_javas_readline():
    assert split_lines("a\r\nb\rc\n\nd\n") == ["a", "b", "c", "", "d"]
    reason = extract_reason("ok\r\x1b[31mfatal: repository not found\x1b[0m\r\nbye\n")
    assert (reason.start, reason.end, reason.text) == (2, 2, "fatal: repository not found")


def test_without_any_error_signal_the_last_lines_are_given_with_score_zero():
    log = "".join(f"step {k}\n" for k in range(20)) + TRAVIS_TRAILER
    reason = extract_reason(log)
    assert reason.score == 0.0 and reason.signals == ()
    assert reason.text.split("\n")[-1] == "step 19" and reason.end - reason.start == 4
    assert extract_reason("") == Reason(0, 0, "", 0.0)


def test_the_passing_log_removes_errors_that_always_happen():
    common = "WARNING: error loading optional plugin foo: not found\n" + "".join(f"step {k}\n" for k in range(10))
    failing = common + "Error: connect ECONNREFUSED 127.0.0.1:5432\n" + "".join(f"teardown {k}\n" for k in range(3))
    passing = common.replace("step 3", "step 3 (12 ms)") + "all good\n"
    reason = extract_reason(failing, passing_log=passing)
    assert reason.text == "Error: connect ECONNREFUSED 127.0.0.1:5432"
    assert reason.start == 12


def test_summaries_lose_to_the_details_above_them():
    log = ("FAIL src/sum.test.js\n  ● sum › adds\n\n    expect(received).toBe(expected)\n\n    Expected: 3\n    Received: 2\n"
           + "".join(f"      at Object.<anonymous> (src/sum.test.js:{k}:5)\n" for k in range(3))
           + "\nTest Suites: 1 failed, 1 total\nTests:       1 failed, 1 total\nnpm ERR! Test failed.  See above for more details."
           + TRAVIS_TRAILER)
    reason = extract_reason(log)
    assert reason.start == 1 and "Expected: 3" in reason.text


# --- real data -------------------------------------------------------------------------------

# Overlap with the labels measured with benchmarks/bench_clusters.py reasons, rounded down.
LOGCHUNKS_FIRST_PER_REPOSITORY = {"any_line": 0.60, "jaccard": 0.28}
CIDIFF_FAILING_ONLY = {"any_line": 0.97, "jaccard": 0.46}


def _rates(rows):
    return sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows) / len(rows)


def test_logchunks_overlap_floor(shared_data):
    from bench_clusters import logchunks_overlap

    if not (shared_data / "buildlogs-logchunks").is_dir():
        pytest.skip("buildlogs-logchunks not in the shared data")
    rows = logchunks_overlap(shared_data, first_per_repository=True)
    assert len(rows) == 60
    any_line, jaccard = _rates(rows)
    assert any_line >= LOGCHUNKS_FIRST_PER_REPOSITORY["any_line"]
    assert jaccard >= LOGCHUNKS_FIRST_PER_REPOSITORY["jaccard"]


def test_cidiff_overlap_floor(shared_data):
    from bench_clusters import cidiff_overlap

    if not (shared_data / "buildlogs-cidiff-breakages").is_dir():
        pytest.skip("buildlogs-cidiff-breakages not in the shared data")
    rows = cidiff_overlap(shared_data, with_passing=False)
    assert len(rows) == 36
    any_line, jaccard = _rates(rows)
    assert any_line >= CIDIFF_FAILING_ONLY["any_line"]
    assert jaccard >= CIDIFF_FAILING_ONLY["jaccard"]
