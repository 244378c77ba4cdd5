"""Reading one small JSON file of a run (Prow metadata, disruption and alert files) with a
size limit and errors that name the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError


def load_json(path: Path, *, limit: int, error: type[InputError], what: str = "a JSON document",
              purpose: str = "") -> Any:
    """The JSON value in ``path``; ``error(path, message, line=…)`` for a file over ``limit``
    bytes (``purpose`` says what for), an empty file or malformed JSON."""
    size = path.stat().st_size
    if size > limit:
        raise error(str(path), f"{size} bytes is larger than the {limit} accepted{' for ' + purpose if purpose else ''}")
    data = path.read_bytes()
    if not data.strip():
        raise error(str(path), f"empty file: expected {what}")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        line = data[: exc.pos].count(b"\n") + 1
        raise error(str(path), f"malformed JSON: {exc.msg}", line=line) from exc
