"""Read endpoints under ``/api/``: each returns what the matching ``ciscope COMMAND --json``
prints, from the same library function (see :mod:`ciscope.web.reports`).

Lists are paginated with ``limit`` and ``offset``; the full length is in the ``X-Total-Count``
header, so the body stays exactly the CLI's JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from ..analysis.flakes import FlakeOptions
from ..analysis.grid import SummaryConfig
from ..analysis.regressions import RegressionOptions
from . import reports
from .app import JSONResponse, StoreAccess
from .reports import Filters


class ErrorBody(BaseModel):
    """Every error of the API."""

    ok: bool = False
    error: str
    errors: list[str]
    status: int


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Arguments that do not fit together"},
    404: {"model": ErrorBody, "description": "Unknown job, run or test"},
    422: {"model": ErrorBody, "description": "A parameter has the wrong type or range"},
    503: {"model": ErrorBody, "description": "The store cannot be reached"},
}
router = APIRouter(prefix="/api", tags=["reports"], responses=_ERRORS)

Job = Annotated[str | None, Query(description="Only this job.")]
Limit = Annotated[int | None, Query(ge=0, description="At most N items (after offset).")]
Offset = Annotated[int, Query(ge=0, description="Skip the first N items.")]
Days = Annotated[int | None, Query(ge=1, description="Only the last N days.")]
Since = Annotated[datetime | None, Query(description="Only runs started at or after this ISO 8601 time.")]
Until = Annotated[datetime | None, Query(
    description="End of the window (ISO 8601); default: the start of the newest run stored.")]
IncludeKnown = Annotated[bool, Query(description="Count failures explained by known-bug fingerprints too.")]


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


def _since(since: datetime | None, days: int | None) -> datetime | None:
    """``--days N`` of the CLI's `runs` and `tests`: the last N days before now."""
    if days is not None:
        start = datetime.now(UTC) - timedelta(days=days)
        return start if since is None else max(start, reports.utc(since) or start)
    return since


@router.get("/runs", summary="Runs, newest first (`ciscope runs --json`)")
def runs(request: Request, job: Job = None, since: Since = None, days: Days = None,
         limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows = _store(request).call(reports.runs, Filters(job=job, since=_since(since, days)))
    return _page(rows, limit, offset)


@router.get("/tests", summary="Per (job, test) counts and rates (`ciscope tests --json`)")
def tests(request: Request, job: Job = None, since: Since = None, days: Days = None,
          limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows = _store(request).call(reports.tests, Filters(job=job, since=_since(since, days)))
    return _page(rows, limit, offset)


@router.get("/tests/{test:path}", summary="One test's history across jobs: runs, rates per job and per day")
def test_history(request: Request, test: Annotated[str, Path(description="The test id (as in /api/tests).")],
                 job: Job = None, limit: Annotated[int | None, Query(ge=0, description="At most N runs listed.")] = 200
                 ) -> JSONResponse:
    return _json(_store(request).call(reports.history, test, Filters(job=job), limit=limit))


@router.get("/grid/{job}", summary="TestGrid-style grid of a job (`ciscope grid JOB --json`)")
def grid(request: Request, job: str,
         columns: Annotated[int, Query(ge=0, le=100_000, description="Newest N runs (0: all).")] = 100) -> JSONResponse:
    return _json(_store(request).call(reports.grid, job, columns=columns))


@router.get("/summary", summary="TestGrid's tab summary per job (`ciscope summary --json`)")
def summary(request: Request, job: Job = None,
            columns: Annotated[int, Query(ge=0, description="Newest N runs of each job considered.")] = 100,
            recent: Annotated[int, Query(ge=1, description="TestGrid's num_columns_recent.")] = 10,
            alert_after: Annotated[int, Query(ge=1, description="Consecutive failures that open an alert.")] = 3,
            close_after: Annotated[int, Query(ge=1, description="Passes that close an alert.")] = 1,
            limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    config = SummaryConfig(num_columns_recent=recent, num_failures_to_alert=alert_after,
                           num_passes_to_disable_alert=close_after)
    rows = _store(request).call(reports.summary, Filters(job=job), columns=columns, config=config)
    return _page(rows, limit, offset)


@router.get("/flaky", summary="Flaky tests, most failed runs caused first (`ciscope flaky --json`)")
def flaky(request: Request, job: Job = None, days: Days = None, until: Until = None,
          all: Annotated[bool, Query(description="Every test, not only the flaky ones.")] = False,
          min_runs: Annotated[int, Query(ge=1)] = 10, min_flakes: Annotated[int, Query(ge=1)] = 2,
          include_known: IncludeKnown = False, limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows = _store(request).call(reports.flaky, Filters(job=job, days=days, until=until),
                                options=FlakeOptions(min_runs=min_runs, min_flakes=min_flakes), show_all=all,
                                include_known=include_known)
    return _page(rows, limit, offset)


@router.get("/regressions", summary="Significant pass-rate drops with the first bad run (`ciscope regressions --json`)")
def regressions(request: Request, job: Job = None, until: Until = None,
                basis_days: Annotated[int, Query(ge=1)] = 30, sample_days: Annotated[int, Query(ge=1)] = 7,
                confidence: Annotated[float, Query(gt=0, lt=1)] = 0.95, pity: Annotated[float, Query(ge=0)] = 5.0,
                min_failures: Annotated[int, Query(ge=1)] = 3, plain_fisher: bool = False,
                include_known: IncludeKnown = False, limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    options = RegressionOptions(basis_days=basis_days, sample_days=sample_days, confidence=confidence,
                                pity=pity, min_failures=min_failures, correct_for_flaky_basis=not plain_fisher)
    rows = _store(request).call(reports.regressions, Filters(job=job, until=until), options=options,
                                include_known=include_known)
    return _page(rows, limit, offset)


@router.get("/triage/{ref:path}", summary="What made a run fail (`ciscope triage REF --json`)")
def triage(request: Request, ref: Annotated[str, Path(description="A build id, JOB/BUILD, or a run_id.")],
           job: Job = None) -> JSONResponse:
    return _json(_store(request).call(reports.run_triage, ref, Filters(job=job)))


@router.get("/bugs", summary="Known bugs by hits (`ciscope bugs --json`)")
def bugs(request: Request,
         days: Annotated[int, Query(ge=1, description="Length of the hourly series.")] = 10,
         job: Job = None, until: Until = None, limit: Limit = None, offset: Offset = 0) -> JSONResponse:
    rows = _store(request).call(reports.bugs, Filters(job=job, days=days, until=until))
    return _page(rows, limit, offset)


@router.get("/unclassified", summary="Failed runs no fingerprint explains (`ciscope unclassified --json`)")
def unclassified(request: Request, days: Days = None, job: Job = None, until: Until = None,
                 limit: Annotated[int | None, Query(ge=0, description="At most N runs listed (rates count all).")] = 50,
                 offset: Offset = 0) -> JSONResponse:
    end = None if limit is None else offset + limit
    result = _store(request).call(reports.uncategorized, Filters(job=job, days=days, until=until), limit=None)
    total = len(result["runs"])
    result["runs"] = result["runs"][offset:end]
    return _json(result, total)


@router.get("/clusters", summary="Clusters of unexplained failures (`ciscope clusters --json`)")
def clusters(request: Request, days: Days = None, job: Job = None, until: Until = None,
             limit: Annotated[int | None, Query(ge=0, description="At most N clusters, largest first (--top).")] = 50,
             offset: Offset = 0, min_size: Annotated[int, Query(ge=1)] = 1,
             suggest: Annotated[bool, Query(description="Suggest a fingerprint per cluster.")] = True,
             include_known: IncludeKnown = False) -> JSONResponse:
    top = None if limit is None else offset + limit
    result = _store(request).call(reports.clusters, Filters(job=job, days=days, until=until), top=top,
                                  min_size=min_size, suggest=suggest, include_known=include_known)
    return _json(result["items"][offset:], result["clusters"])
