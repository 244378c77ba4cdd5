"""Bounded retriggers on DuckDB and PostgreSQL, with a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ciscope.analysis.retrigger import (
    RetriggerConfig,
    Webhook,
    plan_retriggers,
    retrigger_stats,
    run_retriggers,
)
from ciscope.errors import UsageError
from ciscope.model import Evidence, Run, RunStatus, Status, TestResult
from ciscope.queries.window import Window
from ciscope.store import connect

T0 = datetime(2026, 11, 1, 12, 0)
_HOUR = [0]


def failed_run(job: str, build: str, commit: str | None, *, tests: dict[str, str | None] | None = None,
               status: RunStatus = RunStatus.FAILURE) -> Run:
    """A run whose tests fail; ``tests`` maps each failed test to the bug that explains it (or None)."""
    _HOUR[0] += 1
    tests = {"t1": "B-retry"} if tests is None else tests
    return Run(job=job, build=build, status=status, started_at=T0 + timedelta(minutes=_HOUR[0]), commit=commit,
               results=[TestResult(name=t, status=Status.FAILED, failure_message="boom") for t in tests],
               evidence=[Evidence(bug=b, file="junit", line=None, text="boom", test=t) for t, b in tests.items() if b])


def passed_run(job: str, build: str, commit: str) -> Run:
    _HOUR[0] += 1
    return Run(job=job, build=build, status=RunStatus.SUCCESS, started_at=T0 + timedelta(minutes=_HOUR[0]), commit=commit,
               results=[TestResult(name="t1", status=Status.PASSED)])


def fingerprints(store, **retry: bool) -> None:
    store.begin()
    for bug, flag in retry.items():
        store.execute("INSERT INTO fingerprints (bug, title, url, retry, kind, pattern, source, digest, loaded_at, test_ids)"
                      " VALUES (?, ?, NULL, ?, 'regex', 'boom', 'f.yaml', 'd', ?, '[]')", (bug.replace("_", "-"), bug, flag, T0))
    store.commit()


class Hook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                self.send_response(201 if b"fail-me" not in body else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/retrigger"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


def config(hook: Hook, **kw: object) -> RetriggerConfig:
    return RetriggerConfig(enabled=True, webhook=Webhook(url=hook.url, payload='{"job": "{job}", "build": "{build}", '
                                                                                 '"commit": "{commit}", "rule": "{rule}"}'),
                           days=30, **kw)  # type: ignore[arg-type]


def test_plan_decides_with_reasons(store) -> None:
    fingerprints(store, B_retry=True, B_plain=False)
    store.write_runs([
        failed_run("e2e", "1", "c1"),
        failed_run("e2e", "2", "c2", tests={"t1": "B-retry", "t2": None}),
        failed_run("e2e", "3", None),
        failed_run("e2e", "4", "c4", tests={"t1": "B-plain"}),
        failed_run("e2e", "5", "c5"), passed_run("e2e", "6", "c5"),
        failed_run("infra", "7", "c7", tests={}, status=RunStatus.ERROR),
    ])
    plan = plan_retriggers(store, Window(), RetriggerConfig(reason_regex="failed before any test", command="echo {job} {build}"))
    by = {d.build: d for d in plan.decisions}
    assert (by["1"].decision, by["1"].rule, by["1"].action) == ("retrigger", "B-retry", "echo e2e 1")
    assert by["1"].reason == "every failure is explained by retry fingerprint(s) B-retry"
    assert by["2"].decision == "skip" and "not every failure is explained" in by["2"].reason
    assert by["3"].reason == "no commit: a retrigger chain could not be bounded"
    assert by["4"].decision == "skip"
    assert by["5"].reason == "a newer run of this job on this commit exists"
    assert (by["7"].decision, by["7"].rule) == ("retrigger", "reason:failed before any test")
    assert plan.dry_run and not plan.enabled and "6" not in by
    assert store.query("SELECT count(*) FROM retriggers")[0][0] == 0  # a plan logs nothing


def test_run_is_dry_unless_enabled_and_bounds_the_chain(store, hook: Hook) -> None:
    fingerprints(store, B_retry=True)
    store.write_runs([failed_run("e2e", "1", "c1")])
    dry = run_retriggers(store, Window(), RetriggerConfig(webhook=Webhook(url=hook.url), days=30), execute=True)
    assert dry.dry_run and hook.bodies == []
    assert store.query("SELECT decision FROM retriggers")[0][0] == "dry_run"
    # enabled: each retriggered run "comes back" failing again on the same commit, 5 times
    for i in range(5):
        plan = run_retriggers(store, Window(), config(hook), execute=True)
        store.write_runs([failed_run("e2e", f"r{i}", "c1")])
        if i < 3:
            assert [d.decision for d in plan.decisions if d.decision != "skip"] == ["retrigger"]
            assert plan.decisions[-1].response == "HTTP 201"
    assert [b["build"] for b in hook.bodies] == ["1", "r0", "r1"]  # max_per_commit 3: the chain stops
    assert hook.bodies[0] == {"job": "e2e", "build": "1", "commit": "c1", "rule": "B-retry"}
    last = plan_retriggers(store, Window(), config(hook)).decisions[-1]
    assert last.reason == "3 retrigger(s) of e2e on c1 already (max_per_commit 3)"
    # the per-run bound: a run retriggered once is not retriggered again
    assert store.query("SELECT count(*) FROM retriggers WHERE decision = 'retrigger'")[0][0] == 3


def test_failed_webhook_is_logged_and_counts(store, hook: Hook) -> None:
    fingerprints(store, B_retry=True)
    store.write_runs([failed_run("fail-me", "1", "c1")])
    plan = run_retriggers(store, Window(), config(hook), execute=True)
    assert [(d.decision, d.response) for d in plan.decisions] == [("failed", "HTTP 500")]
    assert plan_retriggers(store, Window(), config(hook)).decisions[0].reason.startswith("already retriggered 1 time")


def test_concurrent_planners_cannot_exceed_the_bounds(pg_schema_url: str, hook: Hook) -> None:
    first = connect(pg_schema_url)
    fingerprints(first, B_retry=True)
    first.write_runs([failed_run("e2e", str(i), f"c{i}") for i in range(5)])
    first.close()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def plan() -> None:
        store = connect(pg_schema_url)
        try:
            barrier.wait()
            run_retriggers(store, Window(), config(hook), execute=True)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(b["build"] for b in hook.bodies) == ["0", "1", "2", "3", "4"]  # once each, never twice


def test_stats_flag_rules_whose_retries_do_not_help(store) -> None:
    fingerprints(store, B_retry=True, B_other=True)
    runs = [failed_run("e2e", str(i), f"c{i}") for i in range(10)] + [failed_run("x", "1", "cx", tests={"t1": "B-other"})]
    store.write_runs(runs)
    run_retriggers(store, Window(), RetriggerConfig(enabled=True, command="true", days=30, max_per_commit=3), execute=True)
    store.write_runs([passed_run("e2e", f"n{i}", f"c{i}") for i in range(3)]
                     + [failed_run("e2e", f"n{i}", f"c{i}") for i in range(3, 10)] + [passed_run("x", "2", "cx")])
    stats = {r.rule: r for r in retrigger_stats(store).rules}
    assert (stats["B-retry"].retriggers, stats["B-retry"].passed, stats["B-retry"].failed) == (10, 3, 7)
    assert (stats["B-retry"].success_rate, stats["B-retry"].flagged) == (0.3, True)
    assert (stats["B-other"].success_rate, stats["B-other"].flagged) == (1.0, False)


def test_config_errors() -> None:
    with pytest.raises(UsageError, match="unknown key"):
        RetriggerConfig.from_mapping({"enable": True})
    with pytest.raises(UsageError, match="retrigger.enabled = 'yes': expected true or false"):
        RetriggerConfig.from_mapping({"enabled": "yes"})
    with pytest.raises(UsageError, match="retrigger.webhook"):
        RetriggerConfig.from_mapping({"webhook": "ftp://x"})
    with pytest.raises(UsageError, match="reason_regex: not a regular expression"):
        RetriggerConfig.from_mapping({"reason_regex": "("})
    c = RetriggerConfig.from_mapping({"enabled": True, "webhook": {"url": "http://127.0.0.1:1/x"}, "max_per_commit": 2})
    assert c.enabled and c.max_per_run == 1 and c.max_per_commit == 2 and c.webhook is not None
