"""Uploads: a tar.gz of Prow run folders or of bare JUnit/xUnit/subunit files, unpacked safely
and ingested exactly as ``ciscope ingest`` does (atomic per run, idempotent).

Refused members (each listed with the reason, the rest is used): absolute paths, ``..``
components, links, devices, FIFOs. Refused uploads (nothing used, HTTP 413): a body larger
than ``max_body``, more than ``max_members`` members, more than ``max_bytes`` unpacked, or an
unpacked size beyond ``max_ratio`` times the compressed size (a decompression bomb) once past
``ratio_floor``.
"""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ..errors import CiscopeError, UsageError
from ..ingest.batch import BareRunOptions, IngestReport, ingest
from ..store.base import Store

__all__ = ["FileAnswer", "Limits", "UploadRefused", "UploadReport", "ingest_archive", "unpack"]

RUN_MARKERS = ("started.json", "finished.json", "prowjob.json")


class UploadRefused(CiscopeError):
    """The whole upload is refused (too large, a bomb, not a tar archive): HTTP 413 or 400."""

    exit_code = 3

    def __init__(self, message: str, status: int = 413) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    max_body: int = 512 * 2**20  # compressed upload
    max_bytes: int = 4 * 2**30  # unpacked, all members
    max_member: int = 1 * 2**30  # unpacked, one member
    max_members: int = 50_000
    max_ratio: int = 100  # unpacked / compressed ...
    ratio_floor: int = 64 * 2**20  # ... checked once this much is unpacked


@dataclass(frozen=True)
class FileAnswer:
    path: str
    result: str  # stored | already stored | refused
    reason: str | None = None


@dataclass
class UploadReport:
    ok: bool
    files: list[FileAnswer] = field(default_factory=list)
    ingest: dict[str, Any] = field(default_factory=dict)


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path refused"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' in the path refused"
    if member.issym() or member.islnk():
        return f"link refused (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "device refused"
    if member.isfifo():
        return "FIFO refused"
    if not (member.isfile() or member.isdir()):
        return f"member type {member.type!r} refused"
    return None


def unpack(body: IO[bytes], compressed_size: int, into: Path, limits: Limits) -> list[FileAnswer]:
    """Unpack the tar(.gz) ``body`` under ``into``; the refused members, each with its reason."""
    refused: list[FileAnswer] = []
    total = 0
    members = 0
    try:
        archive = tarfile.open(fileobj=body, mode="r|*")  # noqa: SIM115 (closed by the with below)
    except tarfile.TarError as exc:
        raise UploadRefused(f"not a tar or tar.gz archive: {exc}", status=400) from None
    with archive:
        try:
            for member in archive:
                members += 1
                if members > limits.max_members:
                    raise UploadRefused(f"more than {limits.max_members} members in the archive")
                problem = _member_problem(member)
                if problem:
                    refused.append(FileAnswer(member.name, "refused", problem))
                    continue
                target = into.joinpath(*PurePosixPath(member.name).parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                source = archive.extractfile(member)
                if source is None:
                    refused.append(FileAnswer(member.name, "refused", "unreadable member"))
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with open(target, "wb") as out:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        total += len(chunk)
                        if written > limits.max_member:
                            raise UploadRefused(f"{member.name}: unpacks to more than {limits.max_member} bytes")
                        if total > limits.max_bytes:
                            raise UploadRefused(f"the archive unpacks to more than {limits.max_bytes} bytes")
                        if total > limits.ratio_floor and total > limits.max_ratio * max(compressed_size, 1):
                            raise UploadRefused(f"the archive unpacks to more than {limits.max_ratio} times its "
                                                f"{compressed_size} compressed bytes (a decompression bomb?)")
                        out.write(chunk)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as exc:
            raise UploadRefused(f"corrupt archive after {members} member(s): {exc}", status=400) from None
    if members == 0:
        raise UploadRefused("the archive is empty", status=400)
    return refused


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def ingest_archive(store: Store, body: IO[bytes], compressed_size: int, *, bare: BareRunOptions,
                   classifier: Any = None, limits: Limits | None = None) -> UploadReport:
    """Unpack ``body`` into a temporary folder and ingest it; per-file answers."""
    limits = limits or Limits()
    folder = Path(tempfile.mkdtemp(prefix="ciscope-upload-"))
    try:
        root = folder / "upload"
        root.mkdir()
        refused = unpack(body, compressed_size, root, limits)
        files = _files(root)
        if not files:
            return UploadReport(ok=False, files=refused, ingest={})
        runs = any(name.rsplit("/", 1)[-1] in RUN_MARKERS for name in files)
        if not runs and not bare.job:
            raise UsageError("bare report files need run metadata: give job (and optionally build, started, "
                             "commit, branch, variant)")
        report: IngestReport = ingest(store, [str(root)], bare=None if runs else bare, classifier=classifier,
                                      workers=1)
        answers = list(refused)
        reasons = [(Path(r.path).resolve(), r.reason) for r in report.refused]
        fresh = report.runs + report.replaced + report.pending
        for name in files:
            path = (root / name).resolve()
            reason = next((why for where, why in reasons if path == where or where in path.parents), None)
            if reason is not None:
                answers.append(FileAnswer(name, "refused", reason.replace(str(root) + os.sep, "")))
            else:
                answers.append(FileAnswer(name, "stored" if fresh or not report.skipped else "already stored"))
        data = report.as_dict()
        data["refused"] = [{"path": r.path.replace(str(root) + os.sep, ""),
                            "reason": r.reason.replace(str(root) + os.sep, "")} for r in report.refused]
        return UploadReport(ok=not any(a.result == "refused" for a in answers), files=answers, ingest=data)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
