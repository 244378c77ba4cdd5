"""`ciscope serve`, `ciscope upload` and `ciscope token`: the dashboard and HTTP API, its client, its tokens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ..errors import UsageError
from ..store import scheme
from .app import Context, _add_row, _fmt_time, _out, cli, emit_json, json_option, stderr

if TYPE_CHECKING:
    pass


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--max-upload", default=512, show_default=True, type=click.IntRange(min=1),
              help="Largest upload accepted, in MiB (compressed).")
@click.option("--private", is_flag=True, envvar="CISCOPE_PRIVATE",
              help="Every read (API and pages) needs a live token too: Authorization: Bearer, or log in at /login "
                   "[env CISCOPE_PRIVATE=1].")
@click.pass_obj
def serve(obj: Context, host: str, port: int, max_upload: int, private: bool) -> None:
    """Serve the dashboard (/) and the JSON API (/api, docs at /api/docs) over the store (--db).

    The server owns the store for as long as it runs. Stop it with Ctrl-C. A Parquet lake
    (--db parquet:///DIR) is served read-only: every page and report, no uploads.
    """
    try:
        import uvicorn

        from ..web import create_app
    except ImportError as exc:
        raise UsageError(f"the web server needs {exc.name}: pip install 'ciscope[web]'") from None
    if private and scheme(obj.db) == "parquet":
        raise UsageError("--private needs API tokens, which a Parquet lake never holds: serve the store it came from")
    _check_port(host, port)
    directory = obj.fingerprint_dir()
    obj.close()  # the server opens the store itself, once
    app = create_app(obj.db, fingerprints=str(directory) if directory else None, max_upload=max_upload * 2**20,
                     private=private)
    app.state.store.open()  # a bad --db fails here, with exit code 4, not at the first request
    access = "private: reads need a token" if private else "public reads"
    stderr.print(f"ciscope {obj.db}: serving http://{host}:{port}/ (API docs: /api/docs; {access})", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _check_port(host: str, port: int) -> None:
    """Fail with a clear message (exit 2) when the address cannot be listened on."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None


@cli.group("token")
def token_group() -> None:
    """API tokens for uploads to `ciscope serve` (stored hashed; shown once)."""


@token_group.command("create")
@click.argument("name")
@json_option
@click.pass_obj
def token_create(obj: Context, name: str, as_json: bool) -> None:
    """Create a token for NAME (a CI system or person) and print it: it is not shown again."""
    from ..web.tokens import create_token

    new = create_token(obj.writable_store, name)
    if as_json:
        emit_json(new)
        return
    _out().print(new.token, markup=False)
    stderr.print(f"token {name!r} created; store it now (only its hash is kept). "
                 "Use it as `Authorization: Bearer TOKEN` or `ciscope upload --token`.", markup=False)


@token_group.command("list")
@json_option
@click.pass_obj
def token_list(obj: Context, as_json: bool) -> None:
    """Tokens: name, prefix, created, revoked, last used (never the token)."""
    from rich.table import Table

    from ..web.tokens import list_tokens

    tokens = list_tokens(obj.store)
    if as_json:
        emit_json(tokens)
        return
    table = Table()
    for column in ("name", "prefix", "created", "revoked", "last used"):
        table.add_column(column, overflow="fold")
    for t in tokens:
        _add_row(table, t.name, t.prefix + "…", _fmt_time(t.created_at), _fmt_time(t.revoked_at), _fmt_time(t.last_used_at))
    _out().print(table)


@token_group.command("revoke")
@click.argument("name")
@json_option
@click.pass_obj
def token_revoke(obj: Context, name: str, as_json: bool) -> None:
    """Revoke the token of NAME: uploads with it are refused from now on."""
    from ..web.tokens import revoke_token

    info = revoke_token(obj.writable_store, name)
    if as_json:
        emit_json(info)
        return
    stderr.print(f"token {name!r} revoked at {_fmt_time(info.revoked_at)}", markup=False)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--server", required=True, envvar="CISCOPE_SERVER", help="Base URL of `ciscope serve`, e.g. http://ci-history:8080. Env: CISCOPE_SERVER.")
@click.option("--token", envvar="CISCOPE_TOKEN", help="API token (`ciscope token create`). Env: CISCOPE_TOKEN.")
@click.option("--job", help="Job of bare report files (run folders name their own).")
@click.option("--build", help="Build id of bare report files.")
@click.option("--started", help="Start time of bare report files (ISO 8601).")
@click.option("--commit", help="Commit tested by bare report files.")
@click.option("--branch", help="Branch or release of bare report files.")
@click.option("--variant", "variants", multiple=True, metavar="KEY=VALUE", help="Variant of bare report files (repeatable).")
@click.option("--timeout", default=600.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds to wait for the server's answer.")
@json_option
def upload(paths: tuple[str, ...], server: str, token: str | None, job: str | None, build: str | None,
           started: str | None, commit: str | None, branch: str | None, variants: tuple[str, ...], timeout: float,
           as_json: bool) -> None:
    """Upload run folders or report files to a ciscope server (what a CI worker runs).

    PATHS are packed into one tar.gz (folders recursively, links left out) and stored by the
    server exactly as `ciscope ingest` would; each file's answer is listed. Exit status 3 when
    any file was refused.
    """
    from rich.table import Table

    from ..web.client import upload_paths

    answer = upload_paths(server, list(paths), token=token, timeout=timeout,
                          metadata={"job": job, "build": build, "started": started, "commit": commit,
                                    "branch": branch, "variant": list(variants)})
    if as_json:
        emit_json(answer)
    else:
        table = Table()
        for column in ("file", "result", "reason"):
            table.add_column(column, overflow="fold")
        for f in answer["files"]:
            _add_row(table, f["path"], f["result"], f.get("reason") or "")
        _out().print(table)
        i = answer.get("ingest") or {}
        stderr.print(f"{i.get('runs', 0)} run(s) stored, {i.get('skipped', 0)} already stored, "
                     f"{i.get('results', 0)} test results", markup=False)
    if not answer["ok"]:
        sys.exit(3)
