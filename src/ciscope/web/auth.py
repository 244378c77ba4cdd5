"""Reads behind a token (``ciscope serve --private`` or ``CISCOPE_PRIVATE=1``).

A private server answers ``/api/...``, ``/openapi.json``, ``/api/docs`` and every page only to
a live API token (``ciscope token create``): ``Authorization: Bearer TOKEN``, or the cookie the
login form (``/login``) sets for browsers. Without one, the API answers 401 in the one error
shape and a page redirects to ``/login?next=PATH``. ``/static/`` and ``/login`` stay open (the
login page needs its stylesheet). A public server (the default) needs tokens for uploads only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .app import StoreAccess, _error_response
from .tokens import live_token, needs_recording, record_use

COOKIE = "ciscope_token"
OPEN = ("/static/", "/login", "/favicon.ico")
router = APIRouter(include_in_schema=False)


def bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``, else None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this server only (never ``//host`` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _live(request: Request, token: str | None) -> bool:
    """Whether ``token`` is live: checked on a reader; its use recorded (a write, under the
    store's write lock) at most once a minute, so reads of a private server do not queue
    behind uploads."""
    access: StoreAccess = request.app.state.store
    if token is None:
        return False
    found = await run_in_threadpool(access.call, live_token, token)
    if found is None:
        return False
    if needs_recording(found[1]):
        await run_in_threadpool(access.write, record_use, found[0])
    return True


async def require_token(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """The middleware of a private server."""
    path = request.url.path
    if path.startswith(OPEN) or path == "/api/upload":  # uploads check their token themselves
        return await call_next(request)
    if await _live(request, bearer(request) or request.cookies.get(COOKIE)):
        return await call_next(request)
    if (path.startswith("/api/") and path != "/api/docs") or path == "/openapi.json":
        response = _error_response(request, 401, "this server is private: a live API token is needed "
                                                 "(`Authorization: Bearer TOKEN`; `ciscope token create NAME`)")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    from .pages import render

    return render(request, "login.html", title="Log in", next=_safe_next(next), message=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """The form's token, checked; a live one is kept in an HttpOnly cookie."""
    from .pages import render

    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/"])[0])
    if not await _live(request, token):
        return render(request, "login.html", status=401, title="Log in", next=target,
                      message="not a live token (`ciscope token list` shows them; `ciscope token create NAME` makes one)")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=30 * 24 * 3600)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
