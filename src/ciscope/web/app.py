"""The FastAPI application: the store it owns, JSON encoding, the one error shape, static files.

The server owns the store (:class:`StoreAccess`): one connection for writes, used by one
upload at a time (the write lock), and a pool of readers (DuckDB cursors, PostgreSQL
connections) so reads run in parallel, each in its own snapshot; reports are cached per store
generation (:mod:`ciscope.web.cache`). Endpoints are plain ``def`` functions run in FastAPI's
thread pool, so an analysis never blocks the event loop, and DuckDB's single writer is never
contended by the server itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.responses import JSONResponse as StarletteJSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import CiscopeError, InputError, NotFoundError, StoreError, UsageError
from ..store import LAKE_SCHEMES, scheme
from ..store.base import Store
from ..store.engine import connect
from ..store.pool import ReaderPool
from .cache import LEAD, ReportCache

log = logging.getLogger("ciscope.web")
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY  # as the CLI's emit_json
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
#: readers at once: DuckDB cursors are cheap, but 2-4 queries at a time already fill the cores
#: (DuckDB runs each on several threads); PostgreSQL connections cost a backend process each.
READERS_DUCKDB = 8
READERS_POSTGRES = 8
#: cold reports computed at once: more only share the same cores (and Python's GIL) and, while
#: writes land, compute generations nobody will ask for again
COMPUTING = 2


class JSONResponse(StarletteJSONResponse):
    """JSON encoded as the CLI's ``--json`` encodes it: times in ISO 8601 with ``Z``,
    dataclasses as objects. (A JSONResponse to FastAPI, so the spec says `application/json`
    with a JSON body, not a string.)"""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=JSON_OPTIONS)


class StoreAccess:
    """The server's store, opened (and migrated) once.

    - Reads (:meth:`call`, :meth:`cached`) run in parallel, each on a reader of its own (a
      DuckDB cursor, a PostgreSQL connection from :class:`~ciscope.store.pool.ReaderPool`)
      inside one read-only snapshot: a request sees the store as it was when it started,
      whatever an upload commits meanwhile.
    - Writes (:meth:`write`: uploads, token bookkeeping) run one at a time on the store's own
      connection under the write lock, exactly as every write did before readers existed.
    - :meth:`cached` keeps answers per store generation (:mod:`ciscope.web.cache`); at most
      ``computing`` missing answers are computed at once, the others wait for a turn and then
      compute the newest generation.
    """

    def __init__(self, url: str, *, readers: int | None = None, cache: ReportCache | None = None,
                 computing: int = COMPUTING) -> None:
        self.url = url
        #: a Parquet lake is served read-only: DuckDB reads it in place, uploads are refused
        engine = scheme(url)
        self.read_only = engine == "parquet"
        if engine in LAKE_SCHEMES and engine != "parquet":  # (the URL itself may hold a password: not repeated)
            raise StoreError(f"ciscope serve reads a lake with DuckDB: give --db parquet:///DIR for the lake this "
                             f"{engine}:// URL names (Spark and ClickHouse answer the command line, not the "
                             "dashboard's many small queries)")
        self.readers = readers
        self.cache = cache if cache is not None else ReportCache()
        self._store: Store | None = None
        self._pool: ReaderPool | None = None
        self._lock = threading.Lock()  # the write lock; also guards opening and closing
        self._computing = threading.BoundedSemaphore(computing)  # cold reports computed at once

    def open(self) -> None:
        with self._lock:
            self._open()

    def _open(self) -> ReaderPool:
        if self._pool is None:
            store = self._store = connect(self.url, read_only=self.read_only)
            size = self.readers or (READERS_POSTGRES if store.name.startswith("postgres") else READERS_DUCKDB)
            self._pool = ReaderPool(store, size)
        return self._pool

    def _readers(self) -> ReaderPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._open()
        return pool

    @contextmanager
    def use(self) -> Iterator[Store]:
        """The store's own connection under the write lock (for writes)."""
        with self._lock:
            self._open()
            assert self._store is not None
            yield self._store

    def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(store, *args, **kwargs)`` on the store's connection, under the write lock."""
        with self.use() as store:
            return fn(store, *args, **kwargs)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(reader, *args, **kwargs)`` on a reader, in one read-only snapshot (a write in
        it is an error: use :meth:`write`)."""
        with self._readers().read() as reader:
            return fn(reader, *args, **kwargs)

    def cached(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """:meth:`call` with its answer kept until the store's next write: ``fn`` must be a
        pure report of the store (same store, same arguments: same answer), and the answer,
        shared between requests, must not be changed by the caller. At most ``computing``
        cold reports are computed at once, except reports marked :func:`light` (a few ms
        each: a list of runs, one run's triage), which never queue behind heavy ones."""
        key = repr((fn.__module__, fn.__qualname__, args, sorted(kwargs.items())))
        with self._readers().read() as reader:
            generation = reader.generation()
            found, flight = self.cache.claim(key, generation)
            if flight is None:
                return found  # type: ignore[no-any-return]
            if found is LEAD and getattr(fn, "light", False):  # cheap: never waits behind heavy reports
                return self.cache.fill(key, generation, flight, lambda: fn(reader, *args, **kwargs))  # type: ignore[no-any-return]
            if found is LEAD and self._computing.acquire(blocking=False):
                try:
                    return self.cache.fill(key, generation, flight, lambda: fn(reader, *args, **kwargs))  # type: ignore[no-any-return]
                finally:
                    self._computing.release()
        if found is not LEAD:
            return flight.wait()  # type: ignore[no-any-return]  # another request computes it: wait holding no reader
        try:
            return self._compute_newest(key, generation, flight, fn, args, kwargs)
        except BaseException as exc:
            if not flight.done.is_set():  # nobody answered the waiters: they get the error
                self.cache.resolve(key, generation, flight, error=exc)
            raise

    def _compute_newest(self, key: str, generation: int, flight: Any, fn: Callable[..., T], args: tuple[Any, ...],
                        kwargs: dict[str, Any]) -> T:
        """Every computing turn is taken: wait for one holding no reader, then compute on a
        fresh snapshot, of the newest generation — writes landing meanwhile cost one
        computation, not one per write. The waiters of ``generation`` get the newer answer
        (committed data, newer than their request)."""
        with self._computing:
            with self._readers().read() as reader:
                newest = reader.generation()
                if newest == generation:
                    return self.cache.fill(key, generation, flight, lambda: fn(reader, *args, **kwargs))  # type: ignore[no-any-return]
                found, other = self.cache.claim(key, newest)
                if found is LEAD:
                    assert other is not None
                    value = self.cache.fill(key, newest, other, lambda: fn(reader, *args, **kwargs))
                    self.cache.resolve(key, generation, flight, value)
                    return value  # type: ignore[no-any-return]
        value = found if other is None else other.wait()  # kept, or computed by another request
        self.cache.resolve(key, generation, flight, value)
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            if self._store is not None:
                self._store.close()
                self._store = None
            self.cache.clear()


def light(fn: F) -> F:
    """Mark a report as cheap (milliseconds on a large store): :meth:`StoreAccess.cached`
    computes it at once on a cache miss instead of taking one of the few turns heavy reports
    (summary, flaky, regressions …) share."""
    setattr(fn, "light", True)  # noqa: B010 (a function attribute, read with getattr)
    return fn


def error_body(status: int, error: str, errors: list[str] | None = None) -> dict[str, Any]:
    """The one error shape of the API."""
    return {"ok": False, "error": error, "errors": errors if errors is not None else [error], "status": status}


def status_of(exc: CiscopeError) -> int:
    if isinstance(getattr(exc, "status", None), int):
        return int(exc.status)  # type: ignore[attr-defined]
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, (UsageError, InputError)):
        return 400
    if isinstance(exc, StoreError):
        return 503
    return 500


def _wants_json(request: Request) -> bool:
    """API and asset errors are JSON; a page's error is an HTML page."""
    path = request.url.path
    return path.startswith(("/api/", "/static/")) or path == "/openapi.json"


def _error_response(request: Request, status: int, error: str, errors: list[str] | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse(error_body(status, error, errors), status_code=status)
    from .pages import render_error

    return render_error(request, status, error)


def create_app(db: str, *, fingerprints: str | None = None, max_upload: int | None = None,
               private: bool = False) -> FastAPI:
    """The ciscope web application over the store at ``db``; uploads are matched against the
    fingerprint directory ``fingerprints`` (None: none) and refused beyond ``max_upload`` bytes.
    ``private``: every read needs a live token too (:mod:`ciscope.web.auth`)."""
    from .upload import Limits

    access = StoreAccess(db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        access.open()  # a bad --db fails at start, not at the first request
        yield
        access.close()

    app = FastAPI(
        title="ciscope",
        version=__version__,
        description="CI history: runs, tests, TestGrid grids, flakes, regressions, known bugs. "
                    "Every endpoint returns what `ciscope COMMAND --json` prints. Errors: "
                    '`{"ok": false, "error": str, "errors": [str], "status": int}`.',
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    app.state.store = access
    app.state.fingerprints = fingerprints
    app.state.limits = Limits() if max_upload is None else Limits(max_body=max_upload)
    app.state.private = private

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"{request.url.path}: no such page or endpoint (see /api/docs)"
        response = _error_response(request, exc.status_code, message)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                  + (f" (got {e['input']!r})" if "input" in e and e["input"] is not None else "")
                  for e in exc.errors()]
        return _error_response(request, 422, errors[0] if errors else "invalid request", errors)

    @app.exception_handler(CiscopeError)
    async def ciscope_error(request: Request, exc: CiscopeError) -> Response:
        return _error_response(request, status_of(exc), str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return _error_response(request, 500, f"internal error: {type(exc).__name__} (see the server log)")

    if private:  # inside security_headers, so its 401s and redirects get the headers too
        from .auth import require_token

        app.middleware("http")(require_token)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        # Defence in depth for untrusted test names and messages: no inline script on our
        # pages, nothing loaded from or sent to another origin. The API docs page is
        # FastAPI's, with one inline script that starts Swagger UI.
        script = "'self' 'unsafe-inline'" if request.url.path == "/api/docs" else "'self'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="ciscope API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    from .api import router as api_router
    from .api import uploads
    from .auth import router as auth_router
    from .pages import router as pages_router

    app.include_router(api_router)
    app.include_router(uploads)
    app.include_router(pages_router)
    app.include_router(auth_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
