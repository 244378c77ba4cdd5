"""The dashboard and HTTP API: ``ciscope serve``.

:func:`create_app` builds the FastAPI application over one store; :mod:`.api` holds the JSON
read endpoints, :mod:`.pages` the server-rendered pages, :mod:`.reports` the one place both
call the analyses. Every asset is served locally from ``static/``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
