"""TestGrid as a source: saved or live ``/table`` and ``/summary`` responses → grid model.

Two wire formats are read:

- **legacy testgrid.k8s.io** — ``/{dashboard}/table?tab=…`` (one tab's grid, run-length
  encoded, see :meth:`~ciscope.analysis.grid.Grid.from_testgrid_table`) and
  ``/{dashboard}/summary`` (an object keyed by tab name);
- **API v1** (open-source TestGrid, ``/api/v1/dashboards/{d}/tabs/{t}/headers`` and
  ``…/rows``, ``…/tab-summaries``) — one ``{result, cell_id, message, icon}`` per column,
  ``{}`` for a blank cell, RFC 3339 timestamps.

:func:`fetch_json` gets a URL with a timeout, retries with exponential backoff on network
errors, 5xx and 429, and an optional on-disk cache (one file per URL), so an analysis can be
rerun offline. Tests never touch the network: they serve files from ``127.0.0.1``.

Example (a saved table)::

    grid = read_table("dump.table.json", name="e2e-aws")
    summary = tab_summary(grid, config=SummaryConfig(exclude=(r"Monitor\\scluster",)))
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import orjson

from ..analysis.grid import (
    Alert,
    Column,
    Grid,
    TabStatus,
    TabSummary,
    TestStatus,
    parse_status,
    to_ms,
)
from ..errors import HostileInputError, InputError, ReportError
from ..model import Run, RunStatus, Status, TestResult
from ..status import FAILED_STATUSES

__all__ = [
    "TestGridSource", "fetch_json", "fetch_summary", "fetch_tab_summaries_v1", "fetch_tab_v1",
    "fetch_table", "grid_from_api_v1", "grid_to_runs", "is_summary", "is_table", "parse_summary",
    "read_json", "read_source", "read_summary", "read_table", "tab_of",
]

MAX_JSON_BYTES = 256 << 20  # the largest real table seen is ~2.4 MB; state protos cap at 10 MB
USER_AGENT = "ciscope (+https://github.com/ciscope)"
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


# ---------------------------------------------------------------- saved files


def read_json(path: str | os.PathLike[str], *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Load a saved response, refusing files above ``max_bytes``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise HostileInputError(str(path), f"{size} bytes is more than the {max_bytes} "
                                    "bytes allowed for a TestGrid response")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return _loads(data, str(path))


def _loads(data: bytes, source: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ReportError(source, f"not JSON: {exc}; expected a TestGrid /table, /summary "
                          "or /api/v1 response") from None


def read_table(path: str | os.PathLike[str], *, name: str | None = None,
               dashboard: str | None = None) -> Grid:
    """A saved legacy ``/table`` response as a :class:`Grid`. ``name`` (the tab) and
    ``dashboard`` default to what :func:`tab_of` finds in the file name and the table."""
    table = read_json(path)
    tab, board = tab_of(str(path), table)
    return Grid.from_testgrid_table(table, name=tab if name is None else name,
                                    dashboard=board if dashboard is None else dashboard,
                                    source=str(path))


# A saved tab: ``<dashboard>__<tab>.table[.<capture>].json`` (the shared dumps' names).
_SAVED_TAB = re.compile(r"^(?P<dashboard>.+?)__(?P<tab>.+?)(?:\.table(?:\.[^.]*)?)?\.json$")
# ``tab=NAME`` in a URL query or in a file name made from one (``…-table-show-stale-tests=&tab=NAME``).
_TAB_PARAM = re.compile(r"(?:^|[?&])tab=(?P<tab>[^&]+)")


def tab_of(source: str, table: Mapping[str, Any]) -> tuple[str, str]:
    """``(tab, dashboard)`` a saved or fetched ``/table`` response belongs to: the job its runs
    are stored under. The table itself names only its test group, in a mangled spelling
    (``releaseopenshiftocpinstallere2egcpfips44``), so the name comes, first found, from:

    1. the URL's ``tab=`` query parameter (``…/{dashboard}/table?tab=NAME``; the dashboard is
       the segment before ``table``), or ``tab=NAME`` in a file name saved from such a URL;
    2. a file or URL path named ``<dashboard>__<tab>.table[.<suffix>].json`` (or
       ``<dashboard>__<tab>.json``);
    3. the last segment of the table's ``query`` (the GCS prefix of a Prow test group, i.e.
       the Prow job name: ``origin-ci-test/logs/<job>``);
    4. the table's ``test-group-name``.
    """
    parts = urlsplit(source) if source.startswith(("http://", "https://")) else None
    if parts is not None:
        segments = unquote(parts.path).strip("/").split("/")
        tab = parse_qs(parts.query).get("tab", [""])[0]
        if tab:  # …/{dashboard}/table?tab=NAME
            return tab, segments[-2] if len(segments) >= 2 and segments[-1] == "table" else ""
        base = segments[-1]
    else:
        base = Path(source).name
    found = _TAB_PARAM.search(base)
    if found:
        return unquote(found["tab"]).removesuffix(".json"), ""
    saved = _SAVED_TAB.match(base)
    if saved:
        return saved["tab"], saved["dashboard"]
    query = str(table.get("query") or "").rstrip("/")
    if query:
        return query.rsplit("/", 1)[-1], ""
    return str(table.get("test-group-name", "")), ""


@dataclass(slots=True)
class TestGridSource:
    """What one saved or live TestGrid response gives ingest."""

    __test__ = False  # not a pytest test class

    source: str
    job: str | None = None  # a /table: the job its runs are stored under (its tab by default)
    runs: list[Run] = field(default_factory=list)  # a /table: one run per column
    summaries: dict[str, TabSummary] = field(default_factory=dict)  # a /summary, by tab


def read_source(source: str, *, job: str | None = None,
                cache_dir: str | os.PathLike[str] | None = None) -> TestGridSource:
    """A saved file or ``http(s)`` URL holding a legacy ``/table`` (→ runs of the job ``job``,
    default :func:`tab_of`) or a ``/summary`` / API v1 ``tab-summaries`` (→ tab summaries).
    A table without columns (an empty, STALE tab) gives its tab and no runs."""
    if source.startswith(("http://", "https://")):
        obj = fetch_json(source, cache_dir=cache_dir)
    else:
        if not Path(source).exists():
            raise InputError(source, "no such file")
        obj = read_json(source)
    if is_table(obj):
        tab, dashboard = tab_of(source, obj)
        name = job or tab
        if not name:
            raise ReportError(source, "cannot tell which tab this table is: no tab= in the URL, "
                              "no <dashboard>__<tab>.table.json file name, no query and no "
                              "test-group-name; give --job NAME")
        grid = Grid.from_testgrid_table(obj, name=tab or name, dashboard=dashboard, source=source)
        return TestGridSource(source, job=name, runs=grid_to_runs(grid, job=name, source=source))
    if is_summary(obj):
        return TestGridSource(source, summaries=parse_summary(obj, source=source))
    raise InputError(source, "not a TestGrid /table response (tests + timestamps) nor a /summary "
                     "(tabs with overall_status): the JSON inputs ciscope ingests")


def read_summary(path: str | os.PathLike[str]) -> dict[str, TabSummary]:
    """A saved ``/summary`` (legacy) or ``tab-summaries`` (API v1) response, by tab name."""
    return parse_summary(read_json(path), source=str(path))


# ---------------------------------------------------------------- summaries


def parse_summary(obj: Any, *, source: str = "<summary>") -> dict[str, TabSummary]:
    """Tab summaries by tab name, from either wire format.

    Legacy: ``last_run_timestamp`` is in ms until 2020 and in s from 2021, the alert times in
    s; all become ms (:func:`~ciscope.analysis.grid.to_ms`). ``tests`` become
    :class:`~ciscope.analysis.grid.Alert` objects (no build ids: the summary has none).
    API v1 lists only the top 5 failing tests, so its alerts may be incomplete.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get("tab_summaries"), list):
        return {s.get("tab_name", ""): _v1_tab_summary(s, source) for s in obj["tab_summaries"]}
    if not isinstance(obj, Mapping):
        raise ReportError(source, "not a TestGrid summary: expected an object keyed by tab "
                          'name, or {"tab_summaries": [...]}')
    out = {}
    for tab, entry in obj.items():
        if not isinstance(entry, Mapping) or "overall_status" not in entry:
            raise ReportError(source, f'tab "{tab}": expected an object with "overall_status" '
                              'and "status"', place=str(tab))
        status = str(entry.get("status", ""))
        out[str(tab)] = TabSummary(
            name=str(tab), overall_status=_tab_status(entry.get("overall_status"), source, tab),
            status=status, latest_green=str(entry.get("latest_green", "")),
            alerts=tuple(_legacy_alert(t) for t in entry.get("tests") or ()),
            stale_alert=str(entry.get("alert", "")),
            last_run_ms=to_ms(entry.get("last_run_timestamp")),
            updated_ms=to_ms(entry.get("last_update_timestamp")), counts=parse_status(status))
    return out


def _tab_status(label: Any, source: str, tab: str) -> TabStatus:
    try:
        return TabStatus.from_label(str(label or ""))
    except ValueError as exc:
        raise ReportError(source, f'tab "{tab}": {exc}', place="overall_status") from None


def _legacy_alert(test: Mapping[str, Any]) -> Alert:
    return Alert(test=str(test.get("test_name") or test.get("display_name") or ""),
                 fail_count=int(test.get("fail_count") or 0),
                 fail_time_ms=to_ms(test.get("fail_timestamp")),
                 pass_time_ms=to_ms(test.get("pass_timestamp")),
                 fail_label=test.get("fail_build_id") or None,
                 pass_label=test.get("pass_build_id") or None,
                 failure_message=str(test.get("failure_message") or ""))


def _rfc3339_ms(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return to_ms(value)
    if isinstance(value, Mapping):  # protojson Timestamp object
        return to_ms(float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9)
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return int(round(when.timestamp() * 1000)) or None


def _v1_tab_summary(entry: Mapping[str, Any], source: str) -> TabSummary:
    tab = str(entry.get("tab_name", ""))
    failing = (entry.get("failures_summary") or {}).get("top_failing_tests") or ()
    status = str(entry.get("detailed_status_message", ""))
    try:
        return TabSummary(
            name=tab, overall_status=_tab_status(entry.get("overall_status"), source, tab),
            status=status, latest_green=str(entry.get("latest_passing_build", "")),
            alerts=tuple(Alert(test=str(t.get("test_name") or t.get("display_name") or ""),
                               fail_count=int(t.get("fail_count") or 0),
                               fail_time_ms=_rfc3339_ms(t.get("fail_timestamp")),
                               pass_time_ms=_rfc3339_ms(t.get("pass_timestamp")),
                               fail_label=t.get("fail_build_id") or None,
                               latest_fail_build=t.get("latest_fail_build_id") or None,
                               pass_label=t.get("pass_build_id") or None,
                               failure_message=str(t.get("failure_message") or ""))
                         for t in failing),
            last_run_ms=_rfc3339_ms(entry.get("last_run_timestamp")),
            updated_ms=_rfc3339_ms(entry.get("last_update_timestamp")),
            counts=parse_status(status))
    except ValueError as exc:
        raise ReportError(source, f'tab "{tab}": {exc}', place="tab_summaries") from None


# ---------------------------------------------------------------- API v1 grids


def grid_from_api_v1(rows: Any, headers: Any, *, name: str, dashboard: str = "",
                     source: str = "<api v1>") -> Grid:
    """A grid from API v1 ``…/tabs/{t}/rows`` and ``…/tabs/{t}/headers`` responses (either
    the wrapping objects or their lists). Every row must have one cell per header."""
    header_list = headers.get("headers", []) if isinstance(headers, Mapping) else headers
    row_list = rows.get("rows", []) if isinstance(rows, Mapping) else rows
    if not isinstance(header_list, list) or not isinstance(row_list, list):
        raise ReportError(source, 'expected {"headers": [...]} and {"rows": [...]}')
    try:
        columns = [Column(build=str(h.get("build", "")), started_ms=_rfc3339_ms(h.get("started")),
                          extra=tuple(str(x) for x in h.get("extra") or ()))
                   for h in header_list]
    except ValueError as exc:
        raise ReportError(source, f"bad header timestamp: {exc}", place="headers") from None
    tests, statuses, messages, icons = [], [], [], []
    for row in row_list:
        test = str(row.get("name", ""))
        cells = row.get("cells") or []
        if len(cells) != len(columns):
            raise ReportError(source, f'test "{test}": {len(cells)} cells but {len(columns)} '
                              "headers; expected one cell per column", place="rows")
        tests.append(test)
        statuses.append([_v1_result(c.get("result", 0), test, source) for c in cells])
        messages.append([str(c.get("message") or "") for c in cells])
        icons.append([str(c.get("icon") or "") for c in cells])
    return Grid(name=name, columns=columns, tests=tests, statuses=statuses, messages=messages,
                icons=icons, dashboard=dashboard)


def _v1_result(value: Any, test: str, source: str) -> int:
    try:
        return int(TestStatus[value] if isinstance(value, str) else TestStatus(int(value)))
    except (KeyError, ValueError, TypeError):
        raise ReportError(source, f'test "{test}": unknown result {value!r}; expected 0..15 or '
                          "a TestStatus name", place="rows") from None


# ---------------------------------------------------------------- live servers


def fetch_json(url: str, *, cache_dir: str | os.PathLike[str] | None = None,
               refresh: bool = False, timeout: float = 30.0, retries: int = 3,
               backoff: float = 1.0, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """GET ``url`` and decode its JSON body.

    Network errors, timeouts, HTTP 408/429/5xx are retried ``retries`` times, sleeping
    ``backoff · 2^attempt`` seconds (or the server's ``Retry-After``, up to 60 s) between
    attempts; other HTTP errors fail at once. With ``cache_dir`` a successful body is kept
    as ``<sha256 of url>.json`` and reused until ``refresh`` is set. Failures raise
    :class:`~ciscope.errors.InputError` naming the URL; a malformed body raises
    :class:`~ciscope.errors.ReportError`.
    """
    cached = Path(cache_dir) / f"{hashlib.sha256(url.encode()).hexdigest()}.json" \
        if cache_dir is not None else None
    if cached is not None and not refresh and cached.is_file():
        return _loads(cached.read_bytes(), f"{url} (cached in {cached})")
    body = _get(url, timeout=timeout, retries=retries, backoff=backoff, max_bytes=max_bytes)
    obj = _loads(body, url)  # never cache a body that does not decode
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(tmp, cached)  # atomic: a concurrent reader sees all or nothing
    return obj


def _get(url: str, *, timeout: float, retries: int, backoff: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                                   "Accept": "application/json"})
    attempts = max(0, retries) + 1
    last = ""
    for attempt in range(attempts):
        delay = backoff * 2 ** attempt
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise HostileInputError(url, f"response larger than the {max_bytes} bytes "
                                        "allowed for a TestGrid response")
            return bytes(body)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
            if exc.code not in _RETRY_STATUS:
                hint = "; check the dashboard and tab names" if exc.code == 404 else ""
                raise InputError(url, f"GET failed: {last}{hint}") from None
            retry_after = str(exc.headers.get("Retry-After", "") if exc.headers else "")
            if retry_after.isdigit():
                delay = max(delay, min(float(retry_after), 60.0))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            last = f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
        if attempt + 1 < attempts:
            time.sleep(delay)
    raise InputError(url, f"GET failed after {attempts} attempts: {last}")


def _table_url(base_url: str, dashboard: str, tab: str, base_options: str) -> str:
    query = urlencode({"tab": tab, "show-stale-tests": ""})
    options = base_options.lstrip("?&")
    return f"{base_url.rstrip('/')}/{quote(dashboard)}/table?{query}" + (f"&{options}" if options
                                                                          else "")


def fetch_table(base_url: str, dashboard: str, tab: str, *, base_options: str = "",
                **fetch_options: Any) -> Grid:
    """A tab's grid from a legacy TestGrid server (``/{dashboard}/table``). The table is
    unfiltered unless ``base_options`` (the tab's filters, e.g.
    ``exclude-filter-by-regex=Monitor%5Cscluster``) are given. ``fetch_options`` go to
    :func:`fetch_json`."""
    url = _table_url(base_url, dashboard, tab, base_options)
    return Grid.from_testgrid_table(fetch_json(url, **fetch_options), name=tab,
                                    dashboard=dashboard, source=url)


def fetch_summary(base_url: str, dashboard: str, **fetch_options: Any) -> dict[str, TabSummary]:
    """A dashboard's tab summaries from a legacy server (``/{dashboard}/summary``)."""
    url = f"{base_url.rstrip('/')}/{quote(dashboard)}/summary"
    return parse_summary(fetch_json(url, **fetch_options), source=url)


def fetch_tab_v1(base_url: str, dashboard: str, tab: str, **fetch_options: Any) -> Grid:
    """A tab's grid from an API v1 server (``…/tabs/{t}/headers`` and ``…/rows``)."""
    root = f"{base_url.rstrip('/')}/api/v1/dashboards/{quote(dashboard)}/tabs/{quote(tab)}"
    headers = fetch_json(f"{root}/headers", **fetch_options)
    rows = fetch_json(f"{root}/rows", **fetch_options)
    return grid_from_api_v1(rows, headers, name=tab, dashboard=dashboard, source=f"{root}/rows")


def fetch_tab_summaries_v1(base_url: str, dashboard: str,
                           **fetch_options: Any) -> dict[str, TabSummary]:
    """A dashboard's tab summaries from an API v1 server (``…/tab-summaries``)."""
    url = f"{base_url.rstrip('/')}/api/v1/dashboards/{quote(dashboard)}/tab-summaries"
    return parse_summary(fetch_json(url, **fetch_options), source=url)


# ---------------------------------------------------------------- grid → runs


_CELL_ATTEMPTS: dict[int, tuple[Status, ...]] = {
    int(TestStatus.PASS): (Status.PASSED,),
    int(TestStatus.PASS_WITH_ERRORS): (Status.PASSED,),
    int(TestStatus.BUILD_PASSED): (Status.PASSED,),
    int(TestStatus.PASS_WITH_SKIPS): (Status.SKIPPED,),
    int(TestStatus.FAIL): (Status.FAILED,),
    int(TestStatus.BUILD_FAIL): (Status.FAILED,),
    int(TestStatus.CATEGORIZED_FAIL): (Status.FAILED,),
    int(TestStatus.TIMED_OUT): (Status.FAILED,),
    int(TestStatus.TOOL_FAIL): (Status.ERROR,),
    int(TestStatus.FLAKY): (Status.FAILED, Status.PASSED),
}
_OVERALL_RUN = {
    int(TestStatus.PASS): RunStatus.SUCCESS,
    int(TestStatus.FAIL): RunStatus.FAILURE,
    int(TestStatus.FLAKY): RunStatus.SUCCESS,
    int(TestStatus.RUNNING): RunStatus.PENDING,
    int(TestStatus.TIMED_OUT): RunStatus.FAILURE,
    int(TestStatus.CANCEL): RunStatus.ABORTED,
}
OVERALL_ROWS = ("Overall", "Pod")


def grid_to_runs(grid: Grid, *, job: str | None = None, source: str = "") -> list[Run]:
    """One run per column of a TestGrid grid: each non-blank cell becomes the test's attempts
    (FLAKY → a failed then a passed attempt; RUNNING/UNKNOWN cells carry no result). The run
    status comes from the ``Overall`` row when the grid has one, else from its cells.

    What the grid needs to be rebuilt as it was (:func:`ciscope.analysis.summary.job_grid`)
    goes to the run's ``metadata``: ``format`` = ``"testgrid table"``, ``dashboard``,
    ``tab``, ``overall`` (the column's ``Overall`` cell, a TestGrid code; ``null`` when the
    table has no ``Overall`` row — then the rebuilt grid has none either),
    ``overall_message`` and ``extra`` (the column's custom header values, which TestGrid
    names builds by)."""
    name = job or grid.name
    row = grid.tests.index("Overall") if "Overall" in grid.tests else None
    overall = grid.statuses[row] if row is not None else None
    runs = []
    for c, column in enumerate(grid.columns):
        results: list[TestResult] = []
        for r, test in enumerate(grid.tests):
            if test in OVERALL_ROWS:
                continue
            for attempt, status in enumerate(_CELL_ATTEMPTS.get(grid.statuses[r][c], ())):
                message = grid.messages[r][c] if status is not Status.PASSED else None  # a failure or skip reason
                duration = grid.durations[r][c] if grid.durations else None
                results.append(TestResult(name=test, status=status, attempt=attempt, duration=duration,
                                          failure_message=message or None, file="testgrid"))
        if overall is not None and overall[c] in _OVERALL_RUN:
            run_status = _OVERALL_RUN[overall[c]]
        elif overall is not None and overall[c] == int(TestStatus.NO_RESULT) and not results:
            continue  # an empty column
        else:
            failed = {r.test_id for r in results if r.status in FAILED_STATUSES}
            passed = {r.test_id for r in results if r.status is Status.PASSED}
            run_status = RunStatus.FAILURE if failed - passed else RunStatus.SUCCESS
        started = datetime.fromtimestamp(column.started_ms / 1000, timezone.utc) if column.started_ms else None
        metadata: dict[str, object] = {
            "format": "testgrid table", "dashboard": grid.dashboard, "tab": grid.name,
            "overall": overall[c] if overall is not None else None,
            "overall_message": grid.messages[row][c] if row is not None else "",
            "extra": list(column.extra)}
        runs.append(Run(job=name, build=column.build, status=run_status, started_at=started,
                        commit=column.commit, results=results, source=source,
                        metadata=metadata))
    return runs


def is_table(obj: Any) -> bool:
    """A legacy TestGrid /table response (has tests and per-column timestamps)."""
    return isinstance(obj, Mapping) and isinstance(obj.get("tests"), list) and "timestamps" in obj


def is_summary(obj: Any) -> bool:
    """A TestGrid /summary (object of tabs with overall_status) or API v1 tab-summaries."""
    if isinstance(obj, Mapping) and isinstance(obj.get("tab_summaries"), list):
        return True
    return (isinstance(obj, Mapping) and bool(obj)
            and all(isinstance(v, Mapping) and "overall_status" in v for v in obj.values()))
