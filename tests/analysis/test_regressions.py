"""Regression detection (Sippy's Fisher rule + changepoint) on exact histories — every engine."""

from __future__ import annotations

from datetime import timedelta

from histories import T0, history_runs

from ciscope.analysis.regressions import RegressionOptions, regressions
from ciscope.queries.window import Window

# 4 runs a day for 37 days: 30 days basis, 7 days sample
DAYS = 37
PER_DAY = 4


def pattern(before: str, after: str, *, change_day: int = 30) -> str:
    n = DAYS * PER_DAY
    cut = change_day * PER_DAY
    return "".join(before[i % len(before)] if i < cut else after[i % len(after)] for i in range(n))


def test_a_drop_is_found_with_its_first_bad_build(store):
    store.write_runs(history_runs({
        "regressed": pattern("P", "FFFFFFP"),
        "steady-flaky": pattern("PPPPF", "PPPPF"),
        "always-pass": pattern("P", "P"),
        "mild": pattern("P", "PPPPPPPPPPPPPPPPPPPPPPPPPPF"),
    }, hours=24 / PER_DAY))
    rows = {r["test"]: r for r in regressions(store)}
    assert set(rows) == {"regressed"}
    row = rows["regressed"]
    assert row["status"] == "extreme"
    assert row["first_bad_build"] == str(1000 + 30 * PER_DAY)
    assert row["first_bad_commit"] == f"sha{30 * PER_DAY:04d}"
    assert row["basis"]["pass_rate"] == 1.0 and row["sample"]["runs"] == 7 * PER_DAY
    assert row["p_value"] < 0.05


def test_pity_and_minimum_failures_are_configurable(store):
    store.write_runs(history_runs({"t": pattern("P", "PPPPPPPPPF")}, hours=24 / PER_DAY))
    assert regressions(store) == []  # a 7-point drop, but only 2 sample failures (< 3)
    loose = RegressionOptions(min_failures=1, pity=1.0, confidence=0.5)
    assert [r["test"] for r in regressions(store, options=loose)] == ["t"]


def test_new_failing_test(store):
    runs = history_runs({"old": pattern("P", "P"), "new": "." * (32 * PER_DAY) + "FFPFF" * 4}, hours=24 / PER_DAY)
    store.write_runs(runs)
    rows = {r["test"]: r for r in regressions(store)}
    assert rows["new"]["status"] == "new_test_failing" and rows["new"]["basis"]["runs"] == 0


def test_window_is_anchored_at_the_given_time(store):
    store.write_runs(history_runs({"t": pattern("P", "FFFFFFP")}, hours=24 / PER_DAY))
    early = T0 + timedelta(days=25)
    assert regressions(store, window=Window(until=early)) == []


def test_a_flaky_test_drifting_by_chance_is_not_a_regression(store):
    """Among many tests that already fail now and then, one has a bad week: Sippy's plain 5 %
    level calls it a regression; with the basis-flaky correction (the default) it is not."""
    steady = "PPPPPPPPPPPPPPPPPPPF"
    tests = {f"flaky-{k}": pattern(steady[k:] + steady[:k], steady[k:] + steady[:k]) for k in range(1, 10)}
    tests["bad-week"] = pattern(steady, "PPPPF")  # 5 failures in 28 runs, after 6 in 120
    store.write_runs(history_runs(tests, hours=24 / PER_DAY))
    plain = {r["test"]: r for r in regressions(store, options=RegressionOptions(correct_for_flaky_basis=False))}
    assert set(plain) == {"bad-week"}
    assert 0.05 / 10 < plain["bad-week"]["p_value"] < 0.05
    assert regressions(store) == []
