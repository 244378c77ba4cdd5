"""`ciscope serve`: the dashboard and HTTP API over the configured store."""

from __future__ import annotations

import socket

import click

from ..errors import UsageError
from .app import Context, cli, stderr


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the dashboard (/) and the JSON API (/api, docs at /api/docs) over the store (--db).

    The server owns the store for as long as it runs. Stop it with Ctrl-C.
    """
    try:
        import uvicorn

        from ..web import create_app
    except ImportError as exc:
        raise UsageError(f"the web server needs {exc.name}: pip install 'ciscope[web]'") from None
    _check_port(host, port)
    obj.close()  # the server opens the store itself, once
    app = create_app(obj.db)
    app.state.store.open()  # a bad --db fails here, with exit code 4, not at the first request
    stderr.print(f"ciscope {obj.db}: serving http://{host}:{port}/ (API docs: /api/docs)", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _check_port(host: str, port: int) -> None:
    """Fail with a clear message (exit 2) when the address cannot be listened on."""
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
