"""A run's screenshots and frames: the images under the folder its run was ingested from.

PNG and JPEG files are served as they are. PNM frames (PPM ``P6``/``P3``, PGM ``P5``/``P2``:
openQA writes raw frames) are converted to PNG when someone asks for one, and the PNG is kept
in a cache folder (``CISCOPE_CACHE``, else ``STORE.cache/`` beside a DuckDB file, else
``~/.cache/ciscope``), keyed by the frame's path, size and modification time.

Only files under the run's recorded source folder are served: a relative path without ``..``,
resolved (links followed) inside the folder, with an image suffix. Anything else is a 404.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, NotFoundError
from ..queries.facts import run_source
from ..store.base import Store

__all__ = ["Frame", "cache_dir", "image_file", "pnm_to_png", "run_images"]

SERVED = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
CONVERTED = {".ppm", ".pnm", ".pgm"}
MAX_IMAGES = 200  # listed on a run page
MAX_PIXELS = 64_000_000  # a frame larger than this is refused, not converted


@dataclass(frozen=True)
class Frame:
    """One image of a run: its path relative to the run's folder, and whether it is converted."""

    path: str
    converted: bool


def _folder(store: Store, job: str, build: str) -> Path | None:
    stored, source = run_source(store, job, build)
    if not stored:
        raise NotFoundError(f"{job}/{build}: no such run")
    if not source:
        return None
    folder = Path(source)
    return folder if folder.is_dir() else None  # a run ingested from one file has no folder of its own


def run_images(store: Store, job: str, build: str) -> list[Frame]:
    """The images under the run's folder (at most MAX_IMAGES, sorted by path)."""
    folder = _folder(store, job, build)
    if folder is None:
        return []
    found: list[Frame] = []
    base = folder.resolve()
    for root, dirs, files in os.walk(folder):  # links to folders are not followed
        dirs.sort()
        for name in sorted(files):
            suffix = Path(name).suffix.lower()
            if (suffix in SERVED or suffix in CONVERTED) and (Path(root) / name).resolve().is_relative_to(base):
                rel = (Path(root) / name).relative_to(folder).as_posix()
                found.append(Frame(rel, suffix in CONVERTED))
                if len(found) >= MAX_IMAGES:
                    return found
    return found


def image_file(store: Store, job: str, build: str, rel: str) -> Path:
    """The file ``rel`` of the run's folder, refused (404) unless it is an image inside it."""
    folder = _folder(store, job, build)
    refused = NotFoundError(f"{rel}: no such image in the run {job}/{build}")
    if folder is None or not rel or rel.startswith(("/", "\\")) or "\\" in rel or "\x00" in rel:
        raise refused
    if any(part in ("..", "") for part in rel.split("/")):
        raise refused
    base = folder.resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise refused
    suffix = path.suffix.lower()
    if suffix not in SERVED and suffix not in CONVERTED:
        raise refused
    return path


def cache_dir(db: str) -> Path:
    """Where converted frames are kept for the store ``db``."""
    if os.environ.get("CISCOPE_CACHE"):
        return Path(os.environ["CISCOPE_CACHE"]) / "frames"
    if db.startswith("duckdb:///") and db != "duckdb:///:memory:":
        return Path(db.removeprefix("duckdb:///") + ".cache") / "frames"
    return Path.home() / ".cache" / "ciscope" / "frames"


def converted(path: Path, cache: Path) -> Path:
    """The PNG of the PNM frame ``path``, made once and kept in ``cache``."""
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    target = cache / f"{key}.png"
    if target.is_file():
        return target
    png = pnm_to_png(path.read_bytes(), name=str(path))
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{key}.{os.getpid()}.tmp"
    partial.write_bytes(png)
    partial.replace(target)  # atomic: a concurrent reader sees the whole PNG or none
    return target


def _tokens(data: bytes, count: int, name: str) -> tuple[list[int], int]:
    """``count`` header integers after the magic number (comments skipped); the offset after
    the single whitespace byte that ends the header."""
    values: list[int] = []
    i = 2
    while len(values) < count:
        while i < len(data) and data[i : i + 1].isspace():
            i += 1
        if i < len(data) and data[i : i + 1] == b"#":
            while i < len(data) and data[i : i + 1] not in (b"\n", b"\r"):
                i += 1
            continue
        start = i
        while i < len(data) and data[i : i + 1].isdigit():
            i += 1
        if start == i:
            raise InputError(name, f"not a PNM image (header byte {i}: expected a number)")
        values.append(int(data[start:i]))
    return values, i + 1


def pnm_to_png(data: bytes, *, name: str = "frame") -> bytes:
    """A PNG of the PPM/PGM image ``data`` (binary P6/P5 or plain P3/P2; 8 or 16 bits)."""
    magic = data[:2]
    if magic not in (b"P2", b"P3", b"P5", b"P6"):
        raise InputError(name, f"not a PPM/PGM image (starts with {magic!r}; expected P2, P3, P5 or P6)")
    (width, height, maxval), offset = _tokens(data, 3, name)
    if not (width > 0 and height > 0 and 0 < maxval < 65536):
        raise InputError(name, f"width {width}, height {height}, maxval {maxval}: expected positive sizes, maxval < 65536")
    if width * height > MAX_PIXELS:
        raise InputError(name, f"{width}x{height} is more than {MAX_PIXELS} pixels")
    channels = 3 if magic in (b"P3", b"P6") else 1
    samples = width * height * channels
    if magic in (b"P5", b"P6"):
        size = 2 if maxval > 255 else 1
        raw = data[offset : offset + samples * size]
        if len(raw) < samples * size:
            raise InputError(name, f"{len(raw)} bytes of pixels, expected {samples * size}")
        values = raw if size == 1 else list(struct.unpack(f">{samples}H", raw))
    else:
        words = data[offset - 1 :].split()
        if len(words) < samples:
            raise InputError(name, f"{len(words)} samples, expected {samples}")
        values = [int(w) for w in words[:samples]]  # type: ignore[assignment]
    if maxval != 255:
        values = [min(255, v * 255 // maxval) for v in values]
    pixels = bytes(values)  # P6/P5 with maxval 255 (openQA's frames): the bytes as they are
    stride = width * channels
    rows = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if channels == 3 else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
