"""Reading logs for the scanner: decompress on the fly, cut into chunks of whole lines.

Each chunk is a ``bytearray`` read with ``readinto`` (no second copy: concatenating a
large ``bytes`` per chunk costs a tenth of the scan), ending at a line end except possibly
the last one. A line longer than the chunk size grows its chunk, up to :data:`MAX_LINE`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Iterator
from typing import IO

#: A line longer than this is cut (the rest continues in the next chunk).
MAX_LINE = 64 << 20


def open_log(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a log for binary reading, decompressing gzip, xz or bzip2 (by magic bytes)."""
    with open(path, "rb") as probe:
        magic = probe.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile is a binary IO
    if magic == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    return open(path, "rb", buffering=0)


def line_chunks(fh: IO[bytes], size: int, max_bytes: int | None = None) -> Iterator[bytearray]:
    """Chunks of about ``size`` bytes, each ending at a line end (the last may not).

    At most ``max_bytes`` bytes are read in total.
    """
    carry = b""
    total = 0
    while True:
        want = size if max_bytes is None else min(size, max_bytes - total)
        buf = bytearray(len(carry) + max(want, 0))
        buf[: len(carry)] = carry
        got = 0
        view = memoryview(buf)
        while want > 0 and got < want:  # readinto may return less than asked (pipes, decompressors)
            n = fh.readinto(view[len(carry) + got:])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
        view.release()
        total += got
        end = len(carry) + got
        if got == 0:
            if carry:
                yield bytearray(carry)
            return
        cut = buf.rfind(b"\n", 0, end) + 1
        if cut == 0 and end < MAX_LINE and (max_bytes is None or total < max_bytes):
            carry = bytes(buf[:end])  # no line end yet: read on
            continue
        if cut == 0 or (max_bytes is not None and total >= max_bytes):
            cut = end
        carry = bytes(buf[cut:end])
        del buf[cut:]
        yield buf


def lookahead(chunks: Iterator[bytearray]) -> Iterator[tuple[bytearray, bytes, bool]]:
    """Each chunk with the first byte of the next one (b"" at the end) and an eof flag."""
    prev: bytearray | None = None
    for chunk in chunks:
        if prev is not None:
            yield prev, bytes(chunk[:1]), False
        prev = chunk
    if prev is not None:
        yield prev, b"", True
