"""Reads behind a token: ``ciscope serve --private`` and ``CISCOPE_PRIVATE=1``; public by default."""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from conftest import Server, run_cli, start, stop

READS = ["/api/runs", "/api/summary", "/api/flaky", "/openapi.json"]
PAGES = ["/", "/flaky", "/bugs", "/api/docs"]


@pytest.fixture(scope="module")
def private_store(duckdb_server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """A copy of the demo store with one live and one revoked token."""
    db = tmp_path_factory.mktemp("web-private") / "private.duckdb"
    shutil.copy(duckdb_server.reference_db.removeprefix("duckdb:///"), db)
    url = f"duckdb:///{db}"
    live = run_cli("--db", url, "token", "create", "reader", "--json")["token"]
    revoked = run_cli("--db", url, "token", "create", "gone", "--json")["token"]
    run_cli("--db", url, "token", "revoke", "gone")
    return url, live, revoked


@pytest.fixture(scope="module", params=["flag", "env"])
def private(request: pytest.FixtureRequest, private_store: tuple[str, str, str]) -> Iterator[tuple[Server, str, str]]:
    url, live, revoked = private_store
    options = {"flag": {"serve_options": ("--private",)}, "env": {"env_extra": {"CISCOPE_PRIVATE": "1"}}}
    reference = url.replace("private.duckdb", "reference.duckdb")
    if not Path(reference.removeprefix("duckdb:///")).exists():
        shutil.copy(url.removeprefix("duckdb:///"), reference.removeprefix("duckdb:///"))
    server, process = start(url, reference, "duckdb", headers={"Authorization": f"Bearer {live}"}, **options[request.param])
    yield server, live, revoked
    stop(process)


def raw(server: Server, method: str, path: str, *, headers: dict[str, str] | None = None,
        body: bytes | None = None) -> http.client.HTTPResponse:
    """One request, redirects not followed."""
    parts = urlsplit(server.base)
    con = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    con.request(method, path, body=body, headers=headers or {})
    response = con.getresponse()
    response.read()
    con.close()
    return response


def test_public_by_default(duckdb_server: Server) -> None:
    for path in READS + PAGES:
        assert duckdb_server.get(path).status == 200, path


def test_private_api_needs_a_live_token(private: tuple[Server, str, str]) -> None:
    server, live, revoked = private
    for path in READS:
        for headers in ({}, {"Authorization": "Bearer cis_wrong"}, {"Authorization": f"Bearer {revoked}"},
                        {"Authorization": f"Basic {live}"}):
            answer = server.get(path, headers=headers)
            assert answer.status == 401, (path, headers)
            assert answer.headers["www-authenticate"] == "Bearer"
            body = answer.json()
            assert body["ok"] is False and body["status"] == 401 and "private" in body["error"]
        assert server.get(path, headers={"Authorization": f"Bearer {live}"}).status == 200, path
    # the answer with a token is the public answer
    assert server.get("/api/runs", headers={"Authorization": f"Bearer {live}"}).json() == server.cli("runs", "--json")


def test_private_pages_redirect_to_the_login_form(private: tuple[Server, str, str]) -> None:
    server, live, _ = private
    for path in PAGES + ["/jobs/xss-job?columns=5"]:
        answer = raw(server, "GET", path)
        assert answer.status == 303, path
        assert answer.headers["location"].startswith("/login?next=%2F"), answer.headers["location"]
        assert raw(server, "GET", path, headers={"Authorization": f"Bearer {live}"}).status == 200, path
    assert raw(server, "GET", "/login").status == 200
    assert raw(server, "GET", "/static/ciscope.css").status == 200  # the login page's stylesheet stays open


def test_login_form_sets_a_cookie_for_pages_and_api(private: tuple[Server, str, str]) -> None:
    server, live, revoked = private
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for bad in ("", "cis_wrong", revoked):
        answer = raw(server, "POST", "/login", headers=form, body=urlencode({"token": bad, "next": "/flaky"}).encode())
        assert answer.status == 401 and answer.getheader("set-cookie") is None
    answer = raw(server, "POST", "/login", headers=form, body=urlencode({"token": live, "next": "/flaky"}).encode())
    assert answer.status == 303 and answer.headers["location"] == "/flaky"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    jar = {"Cookie": cookie.split(";", 1)[0]}
    assert raw(server, "GET", "/flaky", headers=jar).status == 200
    assert server.get("/api/flaky", headers=jar).status == 200  # the pages' own fetches carry the cookie
    assert server.get("/api/flaky", headers={"Cookie": "ciscope_token=cis_wrong"}).status == 401
    # never a redirect to another host
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = raw(server, "POST", "/login", headers=form, body=urlencode({"token": live, "next": target}).encode())
        assert answer.status == 303 and answer.headers["location"] == "/", target


def test_uploads_still_need_their_token(private: tuple[Server, str, str]) -> None:
    server, _, _ = private
    answer = raw(server, "POST", "/api/upload", body=b"x", headers={"Content-Type": "application/gzip"})
    assert answer.status == 401


def test_serve_help_names_the_option() -> None:
    assert "--private" in run_cli("serve", "--help") and "CISCOPE_PRIVATE" in run_cli("serve", "--help")




def test_a_token_check_writes_its_use_at_most_once_a_minute(tmp_path: Path) -> None:
    """Reads of a private server check the token on a reader; recording its use is a write
    (under the store's write lock), done for the first check of a minute only."""
    from datetime import timedelta

    from ciscope.store import connect
    from ciscope.web.tokens import create_token, live_token, needs_recording, record_use

    store = connect(f"duckdb:///{tmp_path / 't.duckdb'}")
    try:
        token = create_token(store, "ci").token
        name, last = live_token(store, token) or ("", None)
        assert name == "ci" and last is None and needs_recording(last)
        record_use(store, name)
        _, last = live_token(store, token) or ("", None)
        assert last is not None and not needs_recording(last)
        assert needs_recording(last - timedelta(minutes=1, seconds=1))
        assert live_token(store, token[:-1] + "x") is None and live_token(store, "nope") is None
    finally:
        store.close()
