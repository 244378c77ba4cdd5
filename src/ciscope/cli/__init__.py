"""The ``ciscope`` command line. Thin: parse arguments, call one library function, render.

Data goes to stdout (tables, or JSON with ``--json``); messages and progress to stderr.

Exit codes: 0 success; 1 unexpected error; 2 usage error (bad option, unknown engine);
3 some input was refused (the rest was stored; each refusal is listed); 4 store error.

One module per group of commands; each registers its commands on :data:`cli` when imported.
"""

from __future__ import annotations

from . import db, disruption, health, ingest, known, lake, retrigger, serve, testgrid, timing  # noqa: F401  (register the commands)
from .app import cli, main

__all__ = ["cli", "main"]
