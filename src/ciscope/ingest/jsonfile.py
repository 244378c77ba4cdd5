"""Reading one small JSON file of a run (Prow metadata, disruption and alert files) with a
size limit and errors that name the file, the line and what was expected."""

from __future__ import annotations

import os
import stat
from typing import Any

import orjson

from ..errors import InputError


def read_regular(path: str | os.PathLike[str], *, limit: int, error: type[InputError], purpose: str = "") -> bytes | None:
    """The bytes of the regular file at ``path``, read with one open; None when there is none
    (absent, a folder, a FIFO or a device: never blocks on one). ``error(path, message)`` for a
    file over ``limit`` bytes (``purpose`` says what for)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    with open(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > limit:
            raise error(os.fspath(path), f"{info.st_size} bytes is larger than the {limit} accepted"
                                         f"{' for ' + purpose if purpose else ''}")
        return file.read()


def parse_json(data: bytes, path: str | os.PathLike[str], *, error: type[InputError], what: str = "a JSON document") -> Any:
    """The JSON value of a file's bytes; ``error(path, message, line=…)`` for an empty file or
    malformed JSON."""
    if not data.strip():
        raise error(os.fspath(path), f"empty file: expected {what}")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        line = data[: exc.pos].count(b"\n") + 1
        raise error(os.fspath(path), f"malformed JSON: {exc.msg}", line=line) from exc


def load_json(path: str | os.PathLike[str], *, limit: int, error: type[InputError], what: str = "a JSON document",
              purpose: str = "") -> Any:
    """The JSON value in ``path``; ``error(path, message, line=…)`` for a file that is not a
    regular file, over ``limit`` bytes (``purpose`` says what for), empty, or malformed JSON."""
    data = read_regular(path, limit=limit, error=error, purpose=purpose)
    if data is None:
        raise error(os.fspath(path), f"not a regular file: expected {what}")
    return parse_json(data, path, error=error, what=what)
