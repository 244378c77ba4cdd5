"""The upload client a CI worker runs (``ciscope upload``): pack paths into a tar.gz, POST it
to ``/api/upload`` of a ``ciscope serve``, return the server's per-file answer.

A run folder keeps its place in the Prow layout (``JOB/BUILD/``, or from ``pr-logs/`` down),
so the server reads the same job, build and PR from it as ``ciscope ingest`` would locally.
Links and special files are left out.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from ..errors import CiscopeError, StoreError, UsageError
from .upload import RUN_MARKERS

__all__ = ["pack", "upload_paths"]


class UploadError(CiscopeError):
    """The server refused the upload (its message is passed on)."""

    exit_code = 3


def _arcroot(path: Path) -> tuple[Path, str]:
    """(folder the archive names are relative to, name of ``path`` in the archive)."""
    path = path.resolve()
    if path.is_dir() and any((path / m).is_file() for m in RUN_MARKERS):
        parts = path.parts
        if "pr-logs" in parts:
            base = Path(*parts[: len(parts) - parts[::-1].index("pr-logs") - 1])
            return base, path.relative_to(base).as_posix()
        return path.parent.parent, f"{path.parent.name}/{path.name}"
    return path.parent, path.name


def pack(paths: list[str], out: IO[bytes]) -> int:
    """Write a tar.gz of ``paths`` to ``out``; the number of files packed."""
    count = 0
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for given in paths:
            root, name = _arcroot(Path(given))
            source = root / name
            if source.is_file() and not source.is_symlink():
                archive.add(source, arcname=name, recursive=False)
                count += 1
                continue
            for folder, dirs, files in os.walk(source):
                dirs[:] = sorted(d for d in dirs if not (Path(folder) / d).is_symlink())
                for file in sorted(files):
                    full = Path(folder) / file
                    if full.is_symlink() or not full.is_file():
                        continue
                    archive.add(full, arcname=full.relative_to(root).as_posix(), recursive=False)
                    count += 1
    return count


def upload_paths(server: str, paths: list[str], *, token: str | None, metadata: dict[str, Any],
                 timeout: float = 600.0) -> dict[str, Any]:
    """Upload ``paths`` to ``server``; the server's answer (``{ok, files, ingest}``)."""
    if not server.startswith(("http://", "https://")):
        raise UsageError(f"--server {server}: expected an http:// or https:// URL of `ciscope serve`")
    if not token:
        raise UsageError("uploads need a token: --token or CISCOPE_TOKEN (`ciscope token create NAME` on the server)")
    query = urlencode([(k, v) for k, v in metadata.items() if v and not isinstance(v, list)]
                      + [(k, item) for k, v in metadata.items() if isinstance(v, list) for item in v])
    url = f"{server.rstrip('/')}/api/upload" + (f"?{query}" if query else "")
    with tempfile.TemporaryFile() as body:
        if pack(paths, body) == 0:
            raise UsageError(f"{', '.join(paths)}: no files to upload")
        size = body.tell()
        body.seek(0)
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/gzip", "Content-Length": str(size), "Authorization": f"Bearer {token}",
            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                result: dict[str, Any] = json.loads(answer.read())
                return result
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error") or str(error)
            except ValueError:
                message = str(error)
            kind = UploadError if error.code == 413 else UsageError if error.code < 500 else StoreError
            raise kind(f"{server}: HTTP {error.code}: {message}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise StoreError(f"{server}: cannot reach the server ({reason})") from None
