"""A run's screenshots and frames on its page: PNG/JPEG as they are, PNM frames converted to
PNG on demand and cached; nothing outside the run's folder is served."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import Server, run_cli, start, stop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from runfolders import write_run

from ciscope.errors import InputError
from ciscope.web.frames import pnm_to_png

JOB, BUILD = "periodic-openqa-like", "7"
W, H = 5, 3
PIXELS = bytes((x * 50 % 256, y * 80 % 256, (x + y) * 20 % 256)[c] for y in range(H) for x in range(W) for c in range(3))


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, pixels) of a PNG made of filter-0 rows (as ours are)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    i, idat, header = 8, b"", b""
    while i < len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind, body = data[i + 4 : i + 8], data[i + 8 : i + 8 + length]
        assert struct.unpack(">I", data[i + 8 + length : i + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        i += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    raw = zlib.decompress(idat)
    stride = width * (3 if colour == 2 else 1)
    rows = [raw[y * (stride + 1) : (y + 1) * (stride + 1)] for y in range(height)]
    assert all(r[0] == 0 for r in rows)
    return width, height, colour, b"".join(r[1:] for r in rows)


def test_pnm_to_png_binary_plain_and_16_bit() -> None:
    assert decode_png(pnm_to_png(b"P6\n%d %d\n255\n" % (W, H) + PIXELS)) == (W, H, 2, PIXELS)
    plain = b"P3\n# made by a test\n%d %d 255\n" % (W, H) + b" ".join(b"%d" % v for v in PIXELS) + b"\n"
    assert decode_png(pnm_to_png(plain)) == (W, H, 2, PIXELS)
    gray16 = b"P5 2 1 65535\n" + struct.pack(">HH", 0, 65535)
    assert decode_png(pnm_to_png(gray16)) == (2, 1, 0, b"\x00\xff")
    assert decode_png(pnm_to_png(b"P2 2 1 15 0 15"))[3] == b"\x00\xff"
    for bad, words in ((b"GIF89a", "expected P2, P3, P5 or P6"), (b"P6 4 4 255\n" + b"\x00" * 5, "bytes of pixels"),
                       (b"P6 x 4 255\n", "expected a number"), (b"P6 0 4 255\n", "positive sizes")):
        with pytest.raises(InputError, match=words):
            pnm_to_png(bad, name="f.ppm")


@pytest.fixture(scope="module")
def frames_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, Path]]:
    root = tmp_path_factory.mktemp("web-frames")
    folder = write_run(root / "data", JOB, BUILD)
    shots = folder / "artifacts" / "openqa"
    shots.mkdir(parents=True)
    (shots / "last.ppm").write_bytes(b"P6\n%d %d\n255\n" % (W, H) + PIXELS)
    (shots / "boot-1.png").write_bytes(pnm_to_png(b"P6 1 1 255\n\x01\x02\x03"))
    (shots / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "data" / "secret.png").write_bytes(b"outside the run")
    (shots / "escape.png").symlink_to(root / "data" / "secret.png")
    db = f"duckdb:///{root / 'frames.duckdb'}"
    run_cli("--db", db, "ingest", str(root / "data"), "--workers", "1")
    cache = root / "cache"
    server, process = start(db, db, "duckdb", env_extra={"CISCOPE_CACHE": str(cache)})
    yield server, shots, cache
    stop(process)


def url(path: str, job: str = JOB, build: str = BUILD) -> str:
    return "/frames?" + urlencode({"job": job, "build": build, "path": path})


def test_run_page_lists_the_runs_images(frames_server: tuple[Server, Path, Path]) -> None:
    server, _, cache = frames_server
    page = server.get(f"/runs/{BUILD}?job={JOB}", accept="text/html").body.decode()
    for path in ("artifacts/openqa/last.ppm", "artifacts/openqa/boot-1.png", "artifacts/openqa/photo.jpg"):
        assert f'src="{url(path).replace("&", "&amp;")}"' in page, path
    assert 'loading="lazy"' in page
    assert "escape.png" not in page  # a link out of the folder is not even listed
    assert not cache.exists() or not any(cache.rglob("*.png"))  # listing converts nothing


def test_frames_served_and_converted_on_demand(frames_server: tuple[Server, Path, Path]) -> None:
    server, shots, cache = frames_server
    png = server.get(url("artifacts/openqa/boot-1.png"), accept="image/*")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    assert png.body == (shots / "boot-1.png").read_bytes()
    jpeg = server.get(url("artifacts/openqa/photo.jpg"), accept="image/*")
    assert jpeg.status == 200 and jpeg.headers["content-type"] == "image/jpeg" and jpeg.body.startswith(b"\xff\xd8")
    frame = server.get(url("artifacts/openqa/last.ppm"), accept="image/*")
    assert frame.status == 200 and frame.headers["content-type"] == "image/png"
    assert decode_png(frame.body) == (W, H, 2, PIXELS)
    cached = list((cache / "frames").glob("*.png"))
    assert len(cached) == 1 and cached[0].read_bytes() == frame.body
    made = cached[0].stat().st_mtime_ns
    assert server.get(url("artifacts/openqa/last.ppm"), accept="image/*").body == frame.body
    assert cached[0].stat().st_mtime_ns == made  # the second look reads the cache
    # a changed frame is converted again
    (shots / "last.ppm").write_bytes(b"P6\n1 1\n255\n\x09\x08\x07")
    os.utime(shots / "last.ppm", ns=(made + 10**9, made + 10**9))
    assert decode_png(server.get(url("artifacts/openqa/last.ppm"), accept="image/*").body)[3] == b"\x09\x08\x07"


@pytest.mark.parametrize("path", ["../secret.png", "../../data/secret.png", "artifacts/../../secret.png",
                                  "/etc/passwd", "artifacts/openqa/escape.png", "build-log.txt",
                                  "artifacts/e2e/junit/junit_e2e.xml", "artifacts/openqa/missing.png",
                                  "artifacts//openqa/last.ppm", "artifacts\\openqa\\boot-1.png", ""])
def test_nothing_outside_the_run_folder(frames_server: tuple[Server, Path, Path], path: str) -> None:
    server, _, _ = frames_server
    answer = server.get(url(path), accept="image/*")
    assert answer.status == 404, (path, answer.body[:200])
    assert b"outside the run" not in answer.body and b"root:" not in answer.body


def test_unknown_run_is_404(frames_server: tuple[Server, Path, Path]) -> None:
    server, _, _ = frames_server
    assert server.get(url("artifacts/openqa/last.ppm", build="8"), accept="image/*").status == 404
    assert server.get(url("artifacts/openqa/last.ppm", job="nope"), accept="image/*").status == 404
