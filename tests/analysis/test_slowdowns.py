"""Duration changepoints (issue 12: "when a test becomes markedly slower, say which build, by
how much, with what confidence") on exact histories — every engine — and through the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import timedelta
from random import Random

from histories import T0

from ciscope.analysis.slowdowns import SlowdownOptions, slowdowns
from ciscope.model import Run, RunStatus, Status, TestResult
from ciscope.queries.window import Window


def _history(runs: int = 60, change: int = 35, factor: float = 3.0) -> list[Run]:
    rng = Random(7)
    out = []
    for i in range(runs):
        slow = rng.lognormvariate(math.log(2.0 * (factor if i >= change else 1.0)), 0.1)
        steady = rng.lognormvariate(math.log(5.0), 0.15)
        results = [TestResult("slow", Status.PASSED, duration=slow), TestResult("steady", Status.PASSED, duration=steady),
                   TestResult("failing", Status.FAILED if i % 2 else Status.PASSED,
                              duration=9.0 if i % 2 and i >= change else 0.1)]
        out.append(Run("e2e", str(1000 + i), RunStatus.SUCCESS, started_at=T0 + timedelta(hours=6 * i),
                       commit=f"c{i:03d}", results=results))
    return out


def test_a_step_up_is_found_at_its_first_slow_run(store):
    store.write_runs(_history())
    [found] = slowdowns(store)
    assert (found.job, found.test, found.build, found.commit) == ("e2e", "slow", "1035", "c035")
    assert 2.6 < found.factor < 3.4 and found.runs_before == 35 and found.runs_after == 25
    assert found.p_value < 1e-8 and found.at is not None and found.at.isoformat().startswith("2026-10-09")
    # failed runs' durations measure the failure, not the test: "failing" only got slow when failing
    assert slowdowns(store, options=SlowdownOptions(min_factor=4.0)) == []
    assert slowdowns(store, window=Window(test="^steady$")) == []
    assert slowdowns(store, window=Window(until=T0 + timedelta(hours=6 * 30))) == []  # before the change


def test_no_slowdown_without_enough_runs(store):
    store.write_runs(_history(runs=12, change=8))
    assert slowdowns(store) == []


def test_slowdowns_through_the_cli(store_url):
    from ciscope.store import connect

    with connect(store_url) as store:
        store.write_runs(_history())

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ciscope.cli", "--db", store_url, "slowdowns", *args],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "250"})

    [row] = json.loads(cli("--json").stdout)
    assert (row["test"], row["build"]) == ("slow", "1035") and row["at"].endswith("Z")
    table = cli()
    assert table.returncode == 0 and "1035" in table.stdout and "×" in table.stdout
    assert json.loads(cli("--json", "--min-factor", "5").stdout) == []
    bad = cli("--alpha", "2")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
