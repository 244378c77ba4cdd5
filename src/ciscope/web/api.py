"""Endpoints under ``/api/``. Reads return what the matching ``ciscope COMMAND --json``
prints, from the same library function (see :mod:`ciscope.web.reports`); ``POST /api/upload``
stores uploaded runs (:mod:`ciscope.web.upload`), with a token.

Lists are paginated with ``limit`` and ``offset``; the full length is in the ``X-Total-Count``
header, so the body stays exactly the CLI's JSON.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..analysis.flakes import FlakeOptions
from ..analysis.grid import SummaryConfig
from ..analysis.known import prepare
from ..analysis.regressions import RegressionOptions
from ..errors import UsageError
from ..ingest.batch import BareRunOptions
from ..queries.window import Window
from ..store.base import Store
from . import reports
from .app import JSONResponse, StoreAccess
from .auth import bearer
from .tokens import verify_token
from .upload import Limits, UploadRefused, UploadReport, ingest_archive


class ErrorBody(BaseModel):
    """Every error of the API."""

    ok: bool = False
    error: str
    errors: list[str]
    status: int


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Arguments that do not fit together, or a time outside the years 1900-9000"},
    404: {"model": ErrorBody, "description": "Unknown job, run or test"},
    422: {"model": ErrorBody, "description": "A parameter has the wrong type or range"},
    503: {"model": ErrorBody, "description": "The store cannot be reached"},
}
router = APIRouter(prefix="/api", tags=["reports"], responses=_ERRORS)

_TOTAL = {"X-Total-Count": {"description": "Length of the whole list (before limit and offset).",
                            "schema": {"type": "integer", "minimum": 0}}}
LIST: dict[int | str, dict[str, Any]] = {200: {
    "description": "A page of the list the CLI's `--json` prints", "headers": _TOTAL,
    "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}}
OBJECT: dict[int | str, dict[str, Any]] = {200: {
    "description": "What the CLI's `--json` prints",
    "content": {"application/json": {"schema": {"type": "object"}}}}}
PAGED_OBJECT: dict[int | str, dict[str, Any]] = {200: {**OBJECT[200], "headers": _TOTAL}}

BIG = 1_000_000_000  # bound of counts and offsets: keeps them inside SQL's 64-bit integers
MAX_DAYS = 36_600  # bound of day counts: a window of 100 years, inside the calendar from 1900 to 9000
Job = Annotated[str | None, Query(description="Only this job.")]
Limit = Annotated[int | None, Query(ge=0, le=BIG, description="At most N items (after offset).")]
Offset = Annotated[int, Query(ge=0, le=BIG, description="Skip the first N items.")]
Days = Annotated[int | None, Query(ge=1, description="Only the last N days.")]
Since = Annotated[datetime | None, Query(description="Only runs started at or after this ISO 8601 time.")]
Until = Annotated[datetime | None, Query(
    description="End of the window (ISO 8601); default: the start of the newest run stored.")]
IncludeKnown = Annotated[bool, Query(description="Count failures explained by known-bug fingerprints too.")]
Branch = Annotated[str | None, Query(description="Only runs of this branch or release.")]
Variant = Annotated[list[str] | None, Query(description="Only runs with this variant, KEY=VALUE (repeatable; all must hold).")]
TestRegex = Annotated[str | None, Query(alias="test", description="Only tests whose id matches this regular expression.")]


def _scope(job: str | None = None, days: float | None = None, since: datetime | None = None,
           until: datetime | None = None, branch: str | None = None, variant: list[str] | None = None,
           test: str | None = None) -> Window:
    """The one window of every read command (``ciscope.queries.window``) from query parameters."""
    for name, when in (("since", since), ("until", until)):
        if when is not None and not 1900 <= when.year <= 9000:
            raise UsageError(f"{name}={when.isoformat()}: expected a time between the years 1900 and 9000")
    pairs = []
    for value in variant or []:
        key, sep, val = value.partition("=")
        if not sep:
            raise UsageError(f"variant={value!r}: expected KEY=VALUE, e.g. platform=aws")
        pairs.append((key.strip(), val.strip()))
    return Window(job=job, days=days, since=since, until=until, branch=branch, variants=tuple(sorted(pairs)), test=test)


def scope(job: Job = None, days: Annotated[float | None, Query(gt=0, le=MAX_DAYS, description="Only the N days before now.")] = None,
          since: Since = None, until: Until = None, branch: Branch = None, variant: Variant = None,
          test: TestRegex = None) -> Window:
    return _scope(job, days, since, until, branch, variant, test)


def scope_no_days(job: Job = None, until: Until = None, branch: Branch = None, variant: Variant = None,
                  test: TestRegex = None) -> Window:
    return _scope(job, None, None, until, branch, variant, test)


Scope = Annotated[Window, Depends(scope)]
ScopeNoDays = Annotated[Window, Depends(scope_no_days)]


def _store(request: Request) -> StoreAccess:
    access: StoreAccess = request.app.state.store
    return access


def _json(value: Any, total: int | None = None) -> JSONResponse:
    """``value`` encoded as the CLI encodes it (returned as a response, so FastAPI does not
    re-encode it first); ``total`` goes to ``X-Total-Count``."""
    return JSONResponse(value, headers=None if total is None else {"X-Total-Count": str(total)})


def _page(items: list[Any], limit: int | None, offset: int) -> JSONResponse:
    end = None if limit is None else offset + limit
    return _json(items[offset:end], len(items))


@router.get("/runs", responses=LIST, summary="Runs, newest first (`ciscope runs --json`)")
def runs(request: Request, window: Scope, limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows, total = _store(request).cached(reports.runs, window, limit=limit, offset=offset)
    return _json(rows, total)


@router.get("/tests", responses=LIST, summary="Per (job, test) counts and rates (`ciscope tests --json`)")
def tests(request: Request, window: Scope, limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows = _store(request).cached(reports.tests, window)
    return _page(rows, limit, offset)


@router.get("/tests/{test:path}", responses=OBJECT, summary="One test's history across jobs: runs, rates per job and per day")
def test_history(request: Request, test: Annotated[str, Path(description="The test id (as in /api/tests).")],
                 job: Job = None, limit: Annotated[int | None, Query(ge=0, le=BIG, description="At most N runs listed.")] = 200
                 ) -> JSONResponse:
    return _json(_store(request).cached(reports.history, test, Window(job=job), limit=limit))


@router.get("/grid/{job}", responses=OBJECT, summary="TestGrid-style grid of a job (`ciscope grid JOB --json`)")
def grid(request: Request, job: str,
         columns: Annotated[int, Query(ge=0, le=100_000, description="Newest N runs (0: all).")] = 100,
         format: Annotated[Literal["testgrid", "page"], Query(
             description="testgrid: the CLI's JSON (TestGrid's /table shape); page: the job page's compact grid "
                         "(run-length encoded cells, messages only where there is one; cached until the store "
                         "changes; docs/web.md)")] = "testgrid") -> JSONResponse:
    if format == "page":
        return _json(_store(request).cached(reports.grid_page, job, columns=columns))
    return _json(_store(request).cached(reports.grid, job, columns=columns))


@router.get("/summary", responses=LIST, summary="TestGrid's tab summary per job (`ciscope summary --json`)")
def summary(request: Request, job: Job = None,
            columns: Annotated[int, Query(ge=0, le=100_000, description="Newest N runs of each job considered.")] = 100,
            recent: Annotated[int, Query(ge=1, le=100_000, description="TestGrid's num_columns_recent.")] = 10,
            alert_after: Annotated[int, Query(ge=1, le=BIG, description="Consecutive failures that open an alert.")] = 3,
            close_after: Annotated[int, Query(ge=1, le=BIG, description="Passes that close an alert.")] = 1,
            limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    config = SummaryConfig(num_columns_recent=recent, num_failures_to_alert=alert_after,
                           num_passes_to_disable_alert=close_after)
    rows = _store(request).cached(reports.summary, Window(job=job), columns=columns, config=config)
    return _page(rows, limit, offset)


@router.get("/flaky", responses=LIST, summary="Flaky tests, most failed runs caused first (`ciscope flaky --json`)")
def flaky(request: Request, window: Scope,
          all: Annotated[bool, Query(description="Every test, not only the flaky ones.")] = False,
          min_runs: Annotated[int, Query(ge=1, le=BIG)] = 10, min_flakes: Annotated[int, Query(ge=1, le=BIG)] = 2,
          exclude_known: Annotated[bool, Query(description="Leave out failures known bugs explain "
                                                       "(`--exclude-known`).")] = False,
          limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows = _store(request).cached(reports.flaky, window,
                                  options=FlakeOptions(min_runs=min_runs, min_flakes=min_flakes), show_all=all,
                                  exclude_known=exclude_known)
    return _page(rows, limit, offset)


@router.get("/regressions", responses=LIST, summary="Significant pass-rate drops with the first bad run (`ciscope regressions --json`)")
def regressions(request: Request, window: ScopeNoDays,
                basis_days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30, sample_days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7,
                confidence: Annotated[float, Query(gt=0, lt=1)] = 0.95, pity: Annotated[float, Query(ge=0, le=100)] = 5.0,
                min_failures: Annotated[int, Query(ge=1, le=BIG)] = 3, plain_fisher: bool = False,
                include_known: IncludeKnown = False, limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    options = RegressionOptions(basis_days=basis_days, sample_days=sample_days, confidence=confidence,
                                pity=pity, min_failures=min_failures, correct_for_flaky_basis=not plain_fisher)
    rows = _store(request).cached(reports.regressions, window, options=options,
                                  include_known=include_known)
    return _page(rows, limit, offset)


@router.get("/triage/{ref:path}", responses=OBJECT, summary="What made a run fail (`ciscope triage REF --json`)")
def triage(request: Request, ref: Annotated[str, Path(description="A build id, JOB/BUILD, or a run_id.")],
           job: Job = None) -> JSONResponse:
    return _json(_store(request).cached(reports.run_triage, ref, Window(job=job)))


@router.get("/bugs", responses=LIST, summary="Known bugs by hits (`ciscope bugs --json`)")
def bugs(request: Request,
         window: ScopeNoDays,
         days: Annotated[int, Query(ge=1, le=3660, description="Length of the hourly series.")] = 10,
         limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows = _store(request).cached(reports.bugs, window.replace(days=days))
    return _page(rows, limit, offset)


@router.get("/unclassified", responses=PAGED_OBJECT, summary="Failed runs no fingerprint explains (`ciscope unclassified --json`)")
def unclassified(request: Request, window: Scope,
                 limit: Annotated[int | None, Query(ge=0, le=BIG, description="At most N runs listed (rates count all).")] = 50,
                 offset: Offset = 0) -> JSONResponse:
    end = None if limit is None else offset + limit
    result = _store(request).cached(reports.uncategorized, window, limit=None)
    total = len(result["runs"])
    return _json({**result, "runs": result["runs"][offset:end]}, total)  # the cached answer stays whole


@router.get("/clusters", responses=LIST, summary="Clusters of unexplained failures (`ciscope clusters --json`)")
def clusters(request: Request, window: Scope,
             limit: Annotated[int | None, Query(ge=0, le=BIG, description="At most N clusters, largest first (--top).")] = 50,
             offset: Offset = 0, min_size: Annotated[int, Query(ge=1, le=BIG)] = 1,
             suggest: Annotated[bool, Query(description="Suggest a fingerprint per cluster.")] = True,
             include_known: IncludeKnown = False) -> JSONResponse:
    top = None if limit is None else offset + limit
    result = _store(request).cached(reports.clusters, window, top=top,
                                    min_size=min_size, suggest=suggest, include_known=include_known)
    return _json(result["items"][offset:], result["clusters"])


def scope_runs(job: Job = None,
               days: Annotated[float | None, Query(gt=0, le=MAX_DAYS, description="Only the N days before now.")] = None,
               since: Since = None, until: Until = None, branch: Branch = None, variant: Variant = None) -> Window:
    """The window without a test filter (reports about runs, not tests)."""
    return _scope(job, days, since, until, branch, variant, None)


RunScope = Annotated[Window, Depends(scope_runs)]
Kind = Annotated[Literal["disruption", "alerts"], Query(description="Backend disruption or alert baselines.")]
Release = Annotated[str | None, Query(description="Only this release and the previous one (e.g. 4.19).")]
PreviousRelease = Annotated[str | None, Query(description="The previous release (default: the minor version before `release`).")]
HistoryDays = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Disruption history window in days (store).")]
AlertDays = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Alert history window in days (store).")]
By = Annotated[Literal["job", "worker", "device_group"], Query(description="Group runs by job, worker or device group.")]


# ------------------------------------------------------------------ disruption (docs/disruption.md)

@router.get("/disruption/baselines", responses=LIST,
            summary="Disruption or alert baselines per job type (`ciscope disruption baseline --json`)")
def disruption_baselines(request: Request, kind: Kind = "disruption",
                         days: Annotated[int | None, Query(ge=1, le=MAX_DAYS, description="Window in days (default 30; alerts 7).")] = None,
                         until: Annotated[datetime | None, Query(description="End of the window (`--at`; default: the newest run with disruption data).")] = None,
                         release: Release = None, previous_release: PreviousRelease = None,
                         limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    _scope(until=until)  # the same bounds on times as every window
    rows = _store(request).cached(reports.disruption_baselines, kind=kind, days=days, at=until, release=release,
                                previous_release=previous_release)
    return _page(rows, limit, offset)


@router.get("/disruption/runs", responses=LIST,
            summary="The newest runs with disruption data, each judged against history (`ciscope disruption runs --json`)")
def disruption_runs(request: Request, window: RunScope,
                    limit: Annotated[int, Query(ge=0, le=100_000, description="The newest N runs (after offset).")] = 20,
                    offset: Offset = 0, history_days: HistoryDays = 30, alert_days: AlertDays = 7) -> JSONResponse:
    checks, total = _store(request).cached(reports.disruption_runs, window, limit=offset + limit, days=history_days,
                                         alert_days=alert_days)
    return _json(checks[offset:], total)


@router.get("/disruption/check/{ref:path}", responses=OBJECT,
            summary="One run's backends and alerts against history (`ciscope disruption check RUN --json`)")
def disruption_check(request: Request, ref: Annotated[str, Path(description="A build id, JOB/BUILD, or a run_id.")],
                     job: Job = None, history_days: HistoryDays = 30, alert_days: AlertDays = 7) -> JSONResponse:
    """400 when the run has no disruption or alert data."""
    return _json(_store(request).cached(reports.disruption_check, ref, Window(job=job), days=history_days,
                                      alert_days=alert_days))


@router.get("/disruption/report", responses=OBJECT,
            summary="Which keys' P99 rose beyond the leeway (`ciscope disruption report --old-days --new-days --json`)")
def disruption_report(request: Request, kind: Kind = "disruption",
                      old_days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="OLD: the N days before NEW's window.")] = 30,
                      new_days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="NEW: the N days up to the newest run.")] = 7,
                      leeway: Annotated[float, Query(ge=0, le=1_000_000, description="Percent a P99 must rise to count.")] = 30.0,
                      release: Release = None, previous_release: PreviousRelease = None) -> JSONResponse:
    return _json(_store(request).cached(reports.disruption_report, old_days=old_days, new_days=new_days, kind=kind,
                                      leeway=leeway, release=release, previous_release=previous_release))


# ------------------------------------------------------------------ timing (docs/timing.md)

@router.get("/timing", responses=OBJECT, summary="Phase statistics per job, worker or device group (`ciscope timing --json`)")
def timing(request: Request, window: RunScope, by: By = "job") -> JSONResponse:
    return _json(_store(request).cached(reports.timing, window, by=by))


@router.get("/timing/thresholds", responses=OBJECT,
            summary="Stall thresholds per group and phase (`ciscope timing thresholds --json`)")
def timing_thresholds(request: Request, window: RunScope, by: By = "job") -> JSONResponse:
    return _json(_store(request).cached(reports.timing_threshold_report, window, by=by))


@router.get("/timing/outliers", responses=OBJECT,
            summary="Runs and workers over their stall thresholds (`ciscope timing outliers --json`)")
def timing_outliers(request: Request, window: RunScope, by: By = "job") -> JSONResponse:
    return _json(_store(request).cached(reports.timing_outlier_report, window, by=by))


@router.get("/timing/runs", responses=OBJECT,
            summary="Each run's phase durations, oldest first (the data of `ciscope timing --chart`)")
def timing_runs(request: Request, window: RunScope,
                newest: Annotated[int, Query(ge=0, le=1_000_000, description="Only the newest N runs (0: all).")] = 30,
                ) -> JSONResponse:
    return _json(_store(request).cached(reports.timing_runs, window, newest=newest or None))


# ------------------------------------------------------------------ uploads

uploads = APIRouter(prefix="/api", tags=["uploads"], responses={
    **_ERRORS,
    401: {"model": ErrorBody, "description": "No token, or not a live one (`ciscope token create`)"},
    403: {"model": ErrorBody, "description": "The server reads a Parquet lake: no uploads"},
    413: {"model": ErrorBody, "description": "Too large, or a decompression bomb: nothing was used"},
})


def _variants(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"variant {value!r}: expected key=value, e.g. platform=aws")
        out[key.strip()] = val.strip()
    return out


def _upload(store: Store, body: IO[bytes], size: int, bare: BareRunOptions, fingerprints: str | None,
            limits: Limits) -> UploadReport:
    classifier = None
    if fingerprints is not None:  # as `ciscope ingest`: history follows the directory, new runs are matched
        classifier, _, _ = prepare(store, fingerprints)
    return ingest_archive(store, body, size, bare=bare, classifier=classifier, limits=limits)


@uploads.post("/upload", summary="Upload a tar.gz of Prow run folders, or of JUnit/xUnit/subunit files with run metadata",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/gzip": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload(request: Request,
                 job: Annotated[str | None, Query(description="Job of bare report files.")] = None,
                 build: Annotated[str | None, Query(description="Build id of bare report files.")] = None,
                 started: Annotated[datetime | None, Query(description="Start time of bare report files.")] = None,
                 commit: Annotated[str | None, Query(description="Commit tested by bare report files.")] = None,
                 branch: Annotated[str | None, Query(description="Branch of bare report files.")] = None,
                 variant: Annotated[list[str], Query(description="KEY=VALUE, repeatable.")] = [],  # noqa: B006
                 ) -> JSONResponse:
    """The body is a tar archive (gzip, bzip2 or xz compressed, or not). Each file of it gets an
    answer: stored, already stored, or refused with the reason. Needs `Authorization: Bearer TOKEN`."""
    access = _store(request)
    if access.read_only:
        raise HTTPException(403, "this server reads a Parquet lake and takes no uploads: upload to a server over a "
                                 "DuckDB or PostgreSQL store, or run `ciscope --db parquet:///DIR ingest` where the lake is")
    if await run_in_threadpool(access.write, verify_token, bearer(request)) is None:
        raise HTTPException(401, "a live API token is needed: `Authorization: Bearer TOKEN` "
                                 "(`ciscope token create NAME` makes one)", headers={"WWW-Authenticate": "Bearer"})
    bare = BareRunOptions(job=job, build=build, started=reports.utc(started), commit=commit, branch=branch,
                          variants=_variants(variant))
    limits: Limits = request.app.state.limits
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=16 * 2**20) as body:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body:
                raise UploadRefused(f"the upload is larger than {limits.max_body} bytes (`ciscope serve --max-upload`)")
            body.write(chunk)
        if size == 0:
            raise UsageError("empty body: send a tar.gz archive")
        body.seek(0)
        report = await run_in_threadpool(access.write, _upload, body, size, bare, request.app.state.fingerprints,
                                         limits)
    return JSONResponse(report, status_code=200 if report.ok else 207)
