"""Server-rendered pages (Jinja2, autoescape on). Each page is a small shell rendered at once;
its heavy parts are fetched from ``/api`` by ``static/ciscope.js`` and drawn with DOM text
nodes (never ``innerHTML``), so test names, messages and log lines stay text.

A page that names a job, run or test checks it exists first and answers 404 otherwise.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import __version__
from ..queries.window import Window
from . import frames, reports
from .app import HERE, StoreAccess

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))
NAV = [("/", "Overview"), ("/flaky", "Flaky"), ("/regressions", "Regressions"), ("/bugs", "Bugs"),
       ("/uncategorized", "Uncategorized"), ("/clusters", "Clusters"), ("/disruption", "Disruption"),
       ("/timing", "Timing"), ("/api/docs", "API")]


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(template).render(request_path=request.url.path, nav=NAV, version=__version__,
                                                   **context)
    return HTMLResponse(html, status_code=status)


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, title=f"{status}", message=message)


def _store(request: Request) -> StoreAccess:
    access: StoreAccess = request.app.state.store
    return access


@router.get("/")
def overview(request: Request) -> HTMLResponse:
    return render(request, "overview.html", title="Overview")


@router.get("/jobs/{job}")
def job_page(request: Request, job: str, columns: int = 100) -> HTMLResponse:
    _store(request).cached(reports.require_job, job)
    return render(request, "job.html", title=job, job=job, columns=max(0, columns))


@router.get("/runs/{build}")
def run_page(request: Request, build: str, job: str | None = None) -> HTMLResponse:
    result = _store(request).cached(reports.run_triage, build, Window(job=job))
    images = _store(request).call(frames.run_images, result["job"], result["build"])
    has = _store(request).call(reports.run_has, result["run_id"])
    return render(request, "run.html", title=f"{result['job']} {result['build']}", run=result, images=images, has=has)


@router.get("/frames", response_model=None)
def frame(request: Request, job: str, build: str, path: str) -> FileResponse:
    """One image of a run's folder: PNG/JPEG as it is, a PNM frame as a cached PNG."""
    access = _store(request)
    file = access.call(frames.image_file, job, build, path)
    headers = {"Cache-Control": "private, max-age=3600"}
    if file.suffix.lower() in frames.SERVED:
        return FileResponse(file, media_type=frames.SERVED[file.suffix.lower()], headers=headers)
    return FileResponse(frames.converted(file, frames.cache_dir(access.url)), media_type="image/png", headers=headers)


@router.get("/tests/{test:path}")
def test_page(request: Request, test: str, job: str | None = None) -> HTMLResponse:
    _store(request).cached(reports.history, test, Window(job=job), limit=0)
    return render(request, "test.html", title=test, test=test, job=job or "")


@router.get("/bugs")
def bugs_page(request: Request) -> HTMLResponse:
    return render(request, "bugs.html", title="Known bugs")


@router.get("/uncategorized")
def uncategorized_page(request: Request) -> HTMLResponse:
    return render(request, "uncategorized.html", title="Uncategorized failures")


@router.get("/clusters")
def clusters_page(request: Request) -> HTMLResponse:
    return render(request, "clusters.html", title="Failure clusters")


@router.get("/flaky")
def flaky_page(request: Request) -> HTMLResponse:
    return render(request, "flaky.html", title="Flaky tests")


@router.get("/regressions")
def regressions_page(request: Request) -> HTMLResponse:
    return render(request, "regressions.html", title="Regressions")


def _filters(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The page's own query parameters that its API calls take (the form fills them in)."""
    return {name: request.query_params[name] for name in names if request.query_params.get(name)}


@router.get("/disruption")
def disruption_page(request: Request) -> HTMLResponse:
    jobs = _store(request).call(reports.disruption_jobs)
    return render(request, "disruption.html", title="Disruption", jobs=jobs,
                  filters=_filters(request, ("job", "days", "branch", "kind", "limit")))


@router.get("/timing")
def timing_page(request: Request) -> HTMLResponse:
    jobs = _store(request).call(reports.timing_jobs)
    return render(request, "timing.html", title="Timing", jobs=jobs,
                  filters=_filters(request, ("job", "days", "branch", "by", "newest")))
