"""The column spec of every read command's report (see :mod:`ciscope.report.table`).

Each function takes the result the command emits as JSON and returns the :class:`View` the
terminal table, CSV and Markdown are rendered from; a column reads its value with the JSON
key it comes from, so CSV headers are the JSON field names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .table import Column, Section, View, pct, short, text, when

if TYPE_CHECKING:
    from rich.text import Text

    from ..store.parquet import ExportReport

STATUS_COLORS = {"PASSING": "green", "FLAKY": "magenta", "FAILING": "red", "BROKEN": "red", "STALE": "yellow"}


def key(name: str) -> Callable[[Any], Any]:
    return lambda row: row[name]


def number(name: str, header: str | None = None, fmt: Callable[[Any], str] = text) -> Column:
    return Column(name, header or name, key(name), fmt, right=True)


def field(name: str, header: str | None = None, fmt: Callable[[Any], str | Text] = text, **kw: Any) -> Column:
    return Column(name, header or name, key(name), fmt, **kw)


def rate(name: str, header: str) -> Column:
    return number(name, header, pct)


def sparkline(counts: list[int], width: int = 24) -> str:
    """Counts folded into ``width`` buckets, drawn with block characters."""
    if not counts:
        return ""
    step = max(1, -(-len(counts) // width))
    sums = [sum(counts[i:i + step]) for i in range(0, len(counts), step)]
    top = max(sums) or 1
    blocks = " ▁▂▃▄▅▆▇█"
    return "".join(blocks[min(8, -(-v * 8 // top))] for v in sums)


def _reason_cell(run: dict[str, Any]) -> str | None:
    """A failure reason in one cell: category, phase, message."""
    reason = run.get("reason")
    if not reason:
        return None
    return reason["category"] + (f" [{reason['phase']}]" if reason["phase"] else "") + f": {reason['message']}"


RUNS = [field("job"), field("build"), field("status"), field("started_at", fmt=when),
        field("commit", fmt=short(12)), number("tests"), number("failed_tests"), number("flaked_tests"),
        Column("reason", "reason", _reason_cell, short(80))]


def runs(rows: list[dict[str, Any]]) -> View:
    return View([Section(RUNS, rows)])


TESTS = [field("job"), field("test"), number("runs"), number("passed"), number("failed"), number("flaked"),
         number("skipped"), rate("pass_rate", "pass"), rate("working_rate", "working"), rate("flake_rate", "flake")]


def tests(rows: list[dict[str, Any]]) -> View:
    return View([Section(TESTS, rows)])


FLAKY = [field("job"), field("test"), number("runs"), number("flaked"), number("same_commit_flips", "same commit"),
         number("isolated_failures", "isolated fails"), number("flip_score", "flip score", lambda v: f"{v:.1f}"),
         rate("flake_rate", "flake rate"), field("last_flake", "last flake", when),
         Column("known_bugs", "known bugs", lambda r: r.get("known_bugs") or [],
                lambda v: ", ".join(v) or "-"),
         rate("known_share", "known share"), field("verdict")]


def flaky(rows: list[dict[str, Any]]) -> View:
    return View([Section(FLAKY, rows)])


def _window(side: str, what: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[side][what]


REGRESSIONS = [
    field("job"), field("test"), field("status"),
    Column("basis_pass_rate", "basis pass", _window("basis", "pass_rate"), pct, right=True),
    Column("basis_runs", "basis runs", _window("basis", "runs"), right=True),
    Column("sample_pass_rate", "sample pass", _window("sample", "pass_rate"), pct, right=True),
    Column("sample_runs", "sample runs", _window("sample", "runs"), right=True),
    number("p_value", "p", lambda v: f"{v:.2g}"),
    field("first_bad_build", "first bad build"), field("first_bad_commit", "first bad commit", short(12)),
    field("last_good_build", "last good build"), field("last_good_commit", "last good commit", short(12)),
]


def regressions(rows: list[dict[str, Any]]) -> View:
    return View([Section(REGRESSIONS, rows)])


SLOWDOWNS = [field("job"), field("test"), field("build", "from build"), field("commit", fmt=short(12)),
             field("at", "since", when), number("factor", "factor", lambda v: f"{v:.2f}×"),
             number("median_before", "median before (s)", lambda v: f"{v:.2f}"),
             number("median_after", "median after (s)", lambda v: f"{v:.2f}"),
             number("runs_before", "runs before"), number("runs_after", "runs after"),
             number("p_value", "p", lambda v: f"{v:.2g}")]


def slowdowns(rows: list[dict[str, Any]]) -> View:
    return View([Section(SLOWDOWNS, rows)])


def _alerts(alerts: list[dict[str, Any]]) -> str:
    shown = ", ".join(f"{a['test']} ({a['fail_count']})" for a in alerts[:3])
    return shown + (f" +{len(alerts) - 3}" if len(alerts) > 3 else "") or "-"


SUMMARY = [field("job"), field("overall_status", "status", style=lambda v: STATUS_COLORS.get(v, "")),
           field("status", "recent columns"), field("latest_green", "latest green"),
           field("alerts", fmt=_alerts)]


def _upstream(row: dict[str, Any]) -> str | None:
    """The published status of the tab, and its status string where it differs from ours."""
    u = row.get("upstream")
    if not u:
        return None
    return u["overall_status"] + (f": {u['status']}" if u["status"] != row["status"] else "")


def _agrees(row: dict[str, Any]) -> str | None:
    a = row.get("agreement")
    if a is None:
        return None
    if a["agrees"] is None:
        return "not comparable"
    return "yes" if a["agrees"] else "no: " + ", ".join(a["differs"])


SUMMARY_UPSTREAM = [*SUMMARY, Column("upstream", "upstream", _upstream), Column("agrees", "agrees", _agrees)]


def summary(rows: list[dict[str, Any]]) -> View:
    return View([Section(SUMMARY_UPSTREAM, rows)])


def _ms(value: int | None) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


IMPORTED = [field("tab"), field("last_run", "last run", _ms),
            field("overall_status", "status", style=lambda v: STATUS_COLORS.get(v, "")),
            field("status", "recent columns"), field("latest_green", "latest green"),
            Column("alerts", "alerts", key("alerts"), lambda v: str(len(v)), right=True), field("source")]


def imported(rows: list[dict[str, Any]]) -> View:
    """TestGrid tab summaries as published (``summary --imported``)."""
    return View([Section(IMPORTED, rows)])


def _evidence(failure: dict[str, Any]) -> str | None:
    ev = failure["evidence"][0] if failure["evidence"] else None
    return f"{ev['file']}:{ev['line']}: {ev['text']}" if ev else None


TRIAGE = [field("test"), Column("bugs", "bugs", key("bugs"), lambda v: ", ".join(v) or "unexplained"),
          Column("evidence", "evidence / message", _evidence, text),
          field("message")]


def triage(result: dict[str, Any]) -> View:
    columns = TRIAGE[:2] + [Column("evidence", "evidence / message", lambda f: _evidence(f) or f["message"])]
    heading = f"{result['job']} {result['build']}: {result['status']}" + (
        f", commit {result['commit'][:12]}" if result["commit"] else "")
    notes = [f"  {e['bug']}: {e['file']}:{e['line']}: {e['text']}" for e in result["run_evidence"]]
    reason = result.get("reason")
    if reason:
        notes.append(f"reason: {reason['category']}" + (f" in {reason['phase']}" if reason["phase"] else "")
                     + f" ({reason['component']}): {reason['message']}")
        notes += [f"  {e['file'] or '-'}{':' + str(e['line']) if e['line'] is not None else ''}: {e['text']}"
                  for e in reason["evidence"]]
    notes.append(f"advice: {result['advice']}")
    return View([Section(columns, result["failures"], f"{len(result['failures'])} failed test(s)")], heading, notes,
                csv=Section(TRIAGE, result["failures"]))  # CSV: evidence and message apart


def bugs(rows: list[dict[str, Any]], days: int) -> View:
    def hits(window: str) -> Column:
        return Column(f"hits_{window}", window.replace("h", " h").replace("d", " d"),
                      lambda b: b["hits"][window], right=True)
    columns = [field("bug"), field("title"), hits("24h"), hits("7d"), hits("10d"), hits("all"),
               rate("share", "share"), Column("jobs", "jobs", key("jobs"), lambda v: str(len(v)), right=True),
               field("last_seen", "last seen", when),
               Column("hourly", f"last {days} d", lambda b: b["hourly"]["counts"], sparkline)]
    return View([Section(columns, rows, f"known bugs ({len(rows)})")])


UNCLASSIFIED_JOBS = [field("job"), number("failed_runs", "failed runs"), number("classified"),
                     rate("classification_rate", "rate")]
UNCLASSIFIED_RUNS = [field("job"), field("build"), field("started_at", "started", when),
                     number("failed_tests", "failed tests"), field("message", "reason", short(120)),
                     field("cluster")]


def unclassified(result: dict[str, Any]) -> View:
    return View([
        Section(UNCLASSIFIED_JOBS, result["jobs"], f"classification rate: {pct(result['classification_rate'])} "
                f"({result['classified']} of {result['failed_runs']} failed runs)"),
        Section(UNCLASSIFIED_RUNS, result["runs"], f"unclassified failed runs ({result['unclassified']}, newest first)"),
    ], csv=Section(UNCLASSIFIED_RUNS, result["runs"]))


CLUSTERS = [field("id", "cluster"), number("size"), number("runs"), number("tests"), number("jobs"),
            field("last_seen", "last seen", when), field("template", fmt=short(160)),
            field("example", fmt=short(160)), field("suggested_fingerprint", "suggested fingerprint")]


def clusters(result: dict[str, Any]) -> View:
    without = result.get("without_text") or 0
    return View([Section(CLUSTERS, result["items"], f"{result['failures']} unexplained failures in "
                         f"{result['clusters']} clusters (largest {result['shown']})"
                         + (f"; {without} without any failure text, not clustered" if without else ""))])


def db_info(info: dict[str, Any]) -> View:
    rows = [{"table": name, "rows": count} for name, count in info["rows"].items()]
    settings = [{"setting": name, "value": info[name]} for name in ("url", "engine", "schema_version")]
    return View([Section([field("setting"), field("value")], settings),
                 Section([field("table"), number("rows")], rows)], csv=Section([field("table"), number("rows")], rows))


# -- the grid: one row per test, one cell per run (newest left) --------------------------------

CELL = {0: ("·", "dim"), 1: ("■", "green"), 2: ("■", "green"), 3: ("s", "dim"), 4: ("R", "blue"),
        12: ("✖", "red"), 13: ("F", "magenta"), 9: ("T", "red"), 10: ("✖", "red"), 11: ("✖", "red"),
        14: ("✖", "red"), 15: ("■", "green")}
FAILING = frozenset((12, 13, 9, 10, 11, 14))
LEGEND = "■ pass ✖ fail F flaky T timed out s skip R running · no result ? other"


def _cells(statuses: list[int]) -> Text:
    from rich.text import Text
    out = Text()
    for value in statuses:
        symbol, style = CELL.get(value, ("?", ""))
        out.append(symbol, style=style)
    return out


def _status_at(index: int) -> Callable[[dict[str, Any]], int]:
    return lambda row: row["statuses"][index]


def grid(g: Any, *, all_rows: bool = False, width: int | None = None) -> View:
    """Rows of the grid ``g`` (:class:`ciscope.analysis.grid.Grid`): ``Overall`` and the tests
    that failed or flaked in a shown run, or every test with ``all_rows``. ``width`` limits the
    runs shown to what fits (the terminal). Test names are never cut (long ones fold). CSV has
    one column per run, named by its build, holding TestGrid's status code."""
    shown_runs = len(g.columns) if width is None else max(10, min(len(g.columns), width))
    rows = [{"test": test, "statuses": row[:shown_runs]} for test, row in zip(g.tests, g.statuses)]
    kept = [r for r in rows if all_rows or r["test"] == "Overall" or FAILING.intersection(r["statuses"])]
    hidden = len(rows) - len(kept)
    per_run = [field("test")] + [Column(column.build, column.build, _status_at(i), right=True)
                                 for i, column in enumerate(g.columns[:shown_runs])]
    columns = [field("test"), Column("statuses", "runs, newest left", key("statuses"), _cells, nowrap=True)]
    heading = (f"{g.name}: {len(g.tests)} rows × {len(g.columns)} runs"
               + (f" ({shown_runs} newest shown)" if shown_runs < len(g.columns) else "") + f"; {LEGEND}")
    notes = []
    if hidden:
        notes.append(f"{hidden} row(s) with no failure in these runs hidden; --all-rows shows them")
    return View([Section(columns, kept)], heading, notes, csv=Section(per_run, kept))


def lake_export(report: ExportReport) -> View:
    """``ciscope lake export``: the tables written to the lake."""
    rows: list[dict[str, Any]] = [dataclasses.asdict(t) for t in report.tables]
    section = Section([field("table"), field("partitioned", fmt=lambda v: "day, job" if v else "-"),
                       number("partitions"), number("files"), number("rows"), number("bytes")], rows)
    return View([section], heading=f"Parquet lake {report.path} (schema version {report.schema_version})")
