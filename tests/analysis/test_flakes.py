"""Flake detection on small, exact histories — on every engine."""

from __future__ import annotations

from histories import history_runs

from ciscope.analysis.flakes import FlakeOptions, flaky_tests


def by_test(rows):
    return {r["test"]: r for r in rows}


def test_retry_flakes_and_isolated_failures_are_flaky(store):
    store.write_runs(history_runs({
        "retry": "PPRPPPRPPPPR",
        "isolated": "PPFPPPPFPPPP",
        "steady": "PPPPPPPPPPPP",
        "young": "PFP",
        "one-retry": "PPPPPPPPPPPR",
        "reproduced": "PPPPXPPPPPPX",
    }))
    rows = by_test(flaky_tests(store))
    assert rows["retry"]["verdict"] == "flaky"
    assert (rows["retry"]["flaked"], rows["retry"]["impact"], rows["retry"]["flake_rate"]) == (3, 0, 0.25)
    assert rows["isolated"]["verdict"] == "flaky" and rows["isolated"]["impact"] == 2
    assert rows["steady"]["verdict"] == "not_flaky"
    assert rows["young"]["verdict"] == "insufficient_data"
    # failing and passing in one run is direct evidence, once is enough
    assert rows["one-retry"]["verdict"] == "flaky"
    # failing again on retry reproduces the failure: not flake evidence
    assert rows["reproduced"]["verdict"] == "not_flaky" and rows["reproduced"]["isolated_failures"] == 0
    assert rows["retry"]["first_flake"] < rows["retry"]["last_flake"]
    # sorted by impact: isolated failures fail runs, retried flakes do not
    order = [r["test"] for r in flaky_tests(store, only_flaky=True)]
    assert order == ["isolated", "retry", "one-retry"]


def test_a_streak_is_a_breakage_not_a_flake(store):
    store.write_runs(history_runs({
        "broke": "PPPPPPPFFFFFFFF",
        "broke-and-fixed": "PPPPFFFFPPPPPPP",
        "regressed-noisy": "PPPPPPPPFFFFPFFFFFFPFFFF",
    }))
    rows = by_test(flaky_tests(store))
    assert rows["broke"]["verdict"] == "not_flaky" and rows["broke"]["isolated_failures"] == 0
    assert rows["broke-and-fixed"]["verdict"] == "not_flaky"
    # the lone passes inside a regression do not turn it into a flake
    assert rows["regressed-noisy"]["verdict"] == "not_flaky"
    assert rows["regressed-noisy"]["regressed"] is True


def test_testgrid_flip_score(store):
    store.write_runs(history_runs({"t": "PFFFPFP"}))
    [row] = [r for r in flaky_tests(store) if r["test"] == "t"]
    # newest first: P F P [F F F] P — the streak is skipped: 4 considered, 1 flip
    assert row["flip_score"] == 25.0


def test_same_commit_flips(store):
    commits = ["a", "a", "a", "b", "b", "c", "c", "c", "d", "d", "d", "e"]
    store.write_runs(history_runs({"t": "PFPPPFFPPPPP", "u": "PPPPPPPPPFFF"}, commits=commits))
    rows = by_test(flaky_tests(store))
    assert rows["t"]["same_commit_flips"] == 3
    assert rows["u"]["same_commit_flips"] == 2  # commit d: P F F


def test_infrastructure_runs_are_left_out(store):
    runs = history_runs({"t": "PPPPPPPPPPPP"}, filler=20)
    broken = runs[5]
    for result in broken.results:  # every test failed: the job broke, not the tests
        result.status = result.status.FAILED
    store.write_runs(runs)
    [row] = [r for r in flaky_tests(store, options=FlakeOptions()) if r["test"] == "t"]
    assert row["runs"] == 11 and row["failed"] == 0


def test_failures_without_a_message_are_no_shared_cause(store):
    """Tests that fail together often but print nothing: no text, no evidence of a common
    cause — they stay flaky (a history of message-less failures once hid every flake)."""
    runs = history_runs({
        "a": "PFPFPPFPFPPFPPFP",
        "b": "PFPFPPFPPPFPPPFP",
    })
    for run in runs:
        for r in run.results:
            r.failure_message = None
    store.write_runs(runs)
    rows = by_test(flaky_tests(store))
    assert rows["a"]["verdict"] == "flaky" and rows["b"]["verdict"] == "flaky"


def test_tests_failing_together_with_one_message_are_a_shared_cause(store):
    """The same pair failing together with the same message in most of its runs: a shared
    cause, not two flaky tests."""
    store.write_runs(history_runs({
        "a": "PFPFPPFPFPPFPPFP",
        "b": "PFPFPPFPFPPFPPFP",
    }))
    rows = by_test(flaky_tests(store))
    assert rows["a"]["verdict"] == "not_flaky" and rows["b"]["verdict"] == "not_flaky"
