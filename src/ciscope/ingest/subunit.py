"""subunit streams, the result format of OpenStack's testrepository and stestr.

Both protocol versions are read, by decoders written here in pure Python (python-subunit
and testtools are not needed):

- **v1** is line-oriented text: ``test: <id>``, then an outcome line naming the same id
  (``success:``/``successful:``, ``failure:``, ``error:``, ``skip:``, ``xfail:``,
  ``uxsuccess:``), optionally followed by details in brackets: ``[`` plain text ``]`` or
  ``[ multipart`` MIME-typed, HTTP-chunked parts ``]``. ``time:``, ``tags:`` and
  ``progress:`` lines may appear anywhere; other lines are test output and are ignored,
  as python-subunit does.
- **v2** is binary packets: signature ``0xB3``, 16-bit flags, a variable-length packet
  length, then optional timestamp, test id, tags, MIME type, file content and route code,
  and a CRC32 of the whole packet.

One stream is one run. :func:`parse_subunit` detects the version (a v2 stream begins with
``0xB3``), undoes xz and gzip compression and returns a :class:`SubunitRun`. The outcome
mapping, the naming rule and the limits are described in ``docs/subunit.md``.
"""

from __future__ import annotations

import lzma
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from ..errors import HostileInputError, InputError, ReportError
from ..model import Status, TestResult

__all__ = ["MAX_FAILURE_TEXT", "SubunitRun", "parse_subunit", "split_test_id"]

MAX_FAILURE_TEXT = 64 << 10  # characters of a traceback kept in failure_text
MAX_FAILURE_MESSAGE = 4 << 10  # characters kept in failure_message
V2_SIGNATURE = 0xB3

_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# v2 flag bits (python-subunit's subunit/v2.py and the protocol README).
_FLAG_TEST_ID = 0x0800
_FLAG_ROUTE_CODE = 0x0400
_FLAG_TIMESTAMP = 0x0200
_FLAG_TAGS = 0x0080
_FLAG_FILE_CONTENT = 0x0040
_FLAG_MIME_TYPE = 0x0020
_V2_STATUSES = (None, "exists", "inprogress", "success", "uxsuccess", "skip", "fail", "xfail")
_INTERIM = frozenset({None, "exists", "inprogress"})

_STATUS = {
    "success": Status.PASSED,
    "xfail": Status.PASSED,  # an expected failure: the test behaved as its author declared
    "fail": Status.FAILED,
    "uxsuccess": Status.FAILED,  # passed although declared broken: the declaration is wrong
    "error": Status.ERROR,  # v1 only; v2 has no separate error status
    "skip": Status.SKIPPED,
}
# Attachments worth keeping in memory; stdout, stderr and logs are dropped as they arrive.
_KEPT_FILES = frozenset({"traceback", "reason", "message"})

_V1_LINE = re.compile(
    rb"(test|testing|successful|success|failure|error|skip|xfail|uxsuccess|tags|time|progress):?[ \t]+(.*)"
)
_V1_OUTCOMES = {
    b"success": "success",
    b"successful": "success",
    b"failure": "fail",
    b"error": "error",
    b"skip": "skip",
    b"xfail": "xfail",
    b"uxsuccess": "uxsuccess",
}
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_TAG_SUFFIX = re.compile(r"\[[^\[\]]*\]$")
_FIXTURE_ID = re.compile(r"(\w+) \(([\w.]+)\)")  # "setUpClass (pkg.module.Class)"
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*(?:<locals>\.[\w.]+)*)(?::|$)")
_TRACEBACK_HEAD = "Traceback (most recent call last):"
_UNEXPECTED_SUCCESS = "unexpected success: the test passed but is marked as expected to fail"


@dataclass(slots=True)
class SubunitRun:
    """What one subunit stream says: the results of one run.

    ``started_at``/``finished_at`` are the earliest and latest timestamps in the stream
    (parallel workers interleave, so the stream is not in time order). ``tags`` holds every
    tag set anywhere in the stream, global or per test (stestr's ``worker-N`` among them).
    ``unfinished`` lists the ids of tests that started but never reported an outcome; they
    have no result.
    """

    results: list[TestResult] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tags: set[str] = field(default_factory=set)
    version: int = 2
    unfinished: list[str] = field(default_factory=list)


def parse_subunit(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    name: str | None = None,
    max_bytes: int = 1 << 30,
) -> SubunitRun:
    """Read one subunit stream (v1 or v2, optionally xz/gzip-compressed) as one run.

    ``source`` is a path, the stream's bytes, or a binary file object. ``name`` is how the
    stream is called in errors and in each result's ``file`` (default: the path given).
    ``max_bytes`` bounds the stream's size both as read and once decompressed.

    Raises :class:`~ciscope.errors.ReportError` for a malformed stream, naming the byte
    offset (of the decompressed stream) and what was expected there;
    :class:`~ciscope.errors.HostileInputError` beyond ``max_bytes``;
    :class:`~ciscope.errors.InputError` when a path cannot be read.
    """
    data, label, file = _read(source, name, max_bytes)
    data = _decompress(data, label, max_bytes)
    collector = _Collector(file)
    try:
        if data[:1] == bytes((V2_SIGNATURE,)):
            _parse_v2(data, collector)
        else:
            collector.run.version = 1
            _parse_v1(data, collector)
    except _Malformed as exc:
        line = data.count(b"\n", 0, exc.offset) + 1 if collector.run.version == 1 else None
        raise ReportError(label, exc.reason, line=line, place=f"byte {exc.offset}") from None
    return collector.close()


def split_test_id(test_id: str) -> tuple[str, str]:
    """Split a Python test id into ``(classname, name)``.

    ``pkg.module.Class.test_method[id-1234,smoke]`` → ``("pkg.module.Class",
    "test_method")``: a trailing ``[...]`` tag suffix is dropped, and the split is at the
    last dot before any ``(`` (testscenarios ids such as ``test_x(v1.0)`` keep their
    scenario). unittest fixture ids ``setUpClass (pkg.module.Class)`` →
    ``("pkg.module.Class", "setUpClass")``. An id without a dot has no classname.
    """
    base = _TAG_SUFFIX.sub("", test_id) or test_id
    fixture = _FIXTURE_ID.fullmatch(base)
    if fixture:
        return fixture[2], fixture[1]
    cut = base.rfind(".", 0, base.find("(") if "(" in base else len(base))
    if cut <= 0 or cut == len(base) - 1:
        return "", base
    return base[:cut], base[cut + 1 :]


class _Malformed(Exception):
    """Raised by the decoders; :func:`parse_subunit` turns it into a ReportError."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


# --- input -----------------------------------------------------------------------------


def _read(source: object, name: str | None, max_bytes: int) -> tuple[bytes | bytearray, str, str]:
    """The raw bytes, the label used in errors, and the ``file`` recorded on results."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        label, file = name or "<bytes>", name or ""
        data: bytes | bytearray = bytes(source) if isinstance(source, memoryview) else source
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        label = file = name or str(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(label, f"cannot read the subunit stream: {exc.strerror or exc}") from exc
    elif hasattr(source, "read"):
        stream_name = getattr(source, "name", None)
        label = name or (stream_name if isinstance(stream_name, str) else "<stream>")
        file = name or (stream_name if isinstance(stream_name, str) else "")
        data = source.read(max_bytes + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"{label}: subunit streams are binary: open the file with mode 'rb'")
    else:
        raise TypeError(f"parse_subunit reads a path, bytes or a binary file object, not {type(source).__name__}")
    if len(data) > max_bytes:
        raise HostileInputError(label, f"larger than the {max_bytes}-byte limit (max_bytes)")
    return data, label, file


def _decompress(data: bytes | bytearray, label: str, max_bytes: int) -> bytes | bytearray:
    """Undo xz or gzip compression (several concatenated members allowed), bounded."""
    new: Callable[[], lzma.LZMADecompressor | zlib._Decompress]
    if data.startswith(_XZ_MAGIC):
        kind, magic, new = "xz", _XZ_MAGIC, lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    elif data.startswith(_GZIP_MAGIC):
        kind, magic, new = "gzip", _GZIP_MAGIC, lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    else:
        return data
    out = bytearray()
    rest = bytes(data)
    while True:
        decoder = new()
        try:
            out += decoder.decompress(rest, max_bytes + 1 - len(out))
        except (lzma.LZMAError, zlib.error) as exc:
            raise ReportError(label, f"corrupt {kind} data ({exc}): expected a valid {kind} stream") from None
        if len(out) > max_bytes:
            raise HostileInputError(label, f"decompresses to more than the {max_bytes}-byte limit (max_bytes)")
        if not decoder.eof:
            raise ReportError(label, f"truncated {kind} stream: the data ends before the {kind} end-of-stream marker",
                              place=f"byte {len(data)} of the compressed file")
        rest = decoder.unused_data.lstrip(b"\0")  # xz allows zero padding between streams
        if not rest:
            return out
        if not rest.startswith(magic):
            raise ReportError(label, f"unexpected bytes after the {kind} stream: expected another {kind} "
                                     "member or the end", place=f"byte {len(data) - len(rest)} of the compressed file")


# --- results ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    """A test seen in the stream but not yet finished."""

    test_id: str
    started: bool = False  # an inprogress packet or a v1 ``test:`` line was seen
    start: datetime | None = None
    files: dict[str, tuple[str, bytearray]] = field(default_factory=dict)


class _Collector:
    """Turns the events of either protocol version into TestResults."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.run = SubunitRun()
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._attempts: dict[tuple[str, str], int] = {}

    def saw_time(self, when: datetime) -> None:
        run = self.run
        if run.started_at is None or when < run.started_at:
            run.started_at = when
        if run.finished_at is None or when > run.finished_at:
            run.finished_at = when

    def event(self, key: tuple[str, str], *, started: bool = False, when: datetime | None = None,
              file_name: str | None = None, mime: str | None = None,
              content: bytes | bytearray | memoryview | None = None) -> _Pending:
        """A packet or line about a test that does not end it."""
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(key[1])
        if started:
            pending.started = True
        if pending.start is None and when is not None:
            pending.start = when
        if file_name is not None and content is not None:
            kept = pending.files.get(file_name)
            if kept is not None:
                kept[1].extend(content)
            elif file_name in _KEPT_FILES or "traceback" in (mime or "").lower():
                pending.files[file_name] = (mime or "", bytearray(content))
        return pending

    def finish(self, key: tuple[str, str], outcome: str, when: datetime | None) -> None:
        pending = self._pending.pop(key, None) or _Pending(key[1])
        classname, name = split_test_id(pending.test_id)
        attempt = self._attempts.get((classname, name), 0)
        self._attempts[(classname, name)] = attempt + 1
        duration = None
        if pending.start is not None and when is not None and when >= pending.start:
            duration = (when - pending.start).total_seconds()
        result = TestResult(name=name, status=_STATUS[outcome], classname=classname, duration=duration,
                            attempt=attempt, file=self.file)
        _describe(result, outcome, pending.files)
        self.run.results.append(result)

    def close(self) -> SubunitRun:
        self.run.unfinished = [p.test_id for p in self._pending.values() if p.started]
        return self.run


def _describe(result: TestResult, outcome: str, files: dict[str, tuple[str, bytearray]]) -> None:
    """Fill the failure fields from the attachments: traceback for failures, reason for skips."""
    if outcome == "skip":
        reason = files.get("reason") or files.get("message")
        if reason:
            result.failure_message = _cap(_text(reason[1]).strip(), MAX_FAILURE_MESSAGE) or None
        return
    if result.status is Status.PASSED:
        return
    traceback = files.get("traceback")
    if traceback is None:
        traceback = next((f for f in files.values() if "traceback" in f[0].lower()), None)
    if traceback is not None:
        text = _text(traceback[1])
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        result.failure_text = _cap(text, MAX_FAILURE_TEXT) or None
        result.failure_message = _cap(lines[-1], MAX_FAILURE_MESSAGE) if lines else None
        result.failure_type = _exception_type(text)
    if outcome == "uxsuccess":
        result.failure_type = result.failure_type or "UnexpectedSuccess"
        result.failure_message = result.failure_message or _UNEXPECTED_SUCCESS


def _text(content: bytes | bytearray) -> str:
    return bytes(content).decode("utf-8", "replace")


def _cap(text: str, limit: int) -> str:
    """At most ``limit`` characters: the head and the tail, with the size of the gap."""
    if len(text) <= limit:
        return text
    marker = f"\n[... {len(text) - limit} characters omitted by ciscope ...]\n"
    keep = limit - len(marker)
    return text[: keep // 2] + marker + text[len(text) - (keep - keep // 2) :]


def _exception_type(text: str) -> str | None:
    """The exception class of a Python traceback: the first unindented line after the
    last ``Traceback (most recent call last):`` header, up to its colon."""
    lines = text.splitlines()
    head = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith(_TRACEBACK_HEAD)), None)
    if head is None:
        return None
    for line in lines[head + 1 :]:
        if line and not line[0].isspace():
            found = _EXCEPTION_LINE.match(line)
            return found[1] if found else None
    return None


# --- v1 --------------------------------------------------------------------------------


def _parse_v1(data: bytes | bytearray, collector: _Collector) -> None:
    size = len(data)
    pos = 0
    now: datetime | None = None
    current: str | None = None  # id of the test between its ``test:`` and outcome lines
    recognised = False
    while pos < size:
        start = pos
        newline = data.find(b"\n", pos)
        pos = size if newline < 0 else newline + 1
        found = _V1_LINE.match(data, start, newline if newline >= 0 else size)
        if found is None:
            continue  # test output that leaked into the stream
        command = found[1]
        rest = found[2].decode("utf-8", "replace").strip()
        if command == b"time":
            now = _v1_time(rest, start)
            collector.saw_time(now)
        elif command == b"tags":
            collector.run.tags.update(tag for tag in rest.split() if not tag.startswith("-"))
        elif command == b"progress":
            pass
        elif command in (b"test", b"testing"):
            if current is not None:
                continue  # python-subunit treats a nested ``test:`` as output of the running test
            current = rest
            collector.event(("", current), started=True, when=now)
        else:
            if current is None:
                continue
            if rest == current:
                pass
            elif rest == current + " [":
                pos = _v1_simple_details(data, pos, start, collector, current, command)
            elif rest == current + " [ multipart":
                pos = _v1_multipart_details(data, pos, start, collector, current)
            else:
                continue  # an outcome for another test: output, as python-subunit does
            collector.finish(("", current), _V1_OUTCOMES[command], now)
            current = None
        recognised = True
    if not recognised and data.strip():
        raise _Malformed(0, "not a subunit stream: expected a v2 packet (first byte 0xB3) or v1 lines "
                            "such as 'test: <id>' and 'time: <timestamp>'")


def _v1_time(text: str, offset: int) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _Malformed(offset, f"bad time {text!r}: expected an ISO 8601 timestamp such as "
                                 "'2017-10-16 17:47:40.221010Z'") from None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _v1_line(data: bytes | bytearray, pos: int, opened: int, test_id: str) -> tuple[bytes | bytearray, int]:
    """The line at ``pos`` (with its newline) and the position after it."""
    if pos >= len(data):
        raise _Malformed(opened, f"truncated stream: the details of test {test_id!r} opened here "
                                 "are not closed by a ']' line before the end")
    newline = data.find(b"\n", pos)
    end = len(data) if newline < 0 else newline + 1
    return data[pos:end], end


def _v1_simple_details(data: bytes | bytearray, pos: int, opened: int, collector: _Collector,
                       test_id: str, command: bytes) -> int:
    """``[`` … ``]`` plain details: a traceback, or a reason for skips. A line starting
    with `` ]`` is an escaped ``]``."""
    parts = []
    while True:
        line, pos = _v1_line(data, pos, opened, test_id)
        if line.rstrip(b"\r\n") == b"]":
            break
        parts.append(line[1:] if line.startswith(b" ]") else line)
    name = {b"skip": "reason", b"success": "message", b"successful": "message"}.get(command, "traceback")
    collector.event(("", test_id), file_name=name, mime="text/x-traceback" if name == "traceback" else "text/plain",
                    content=b"".join(parts))
    return pos


def _v1_multipart_details(data: bytes | bytearray, pos: int, opened: int, collector: _Collector,
                          test_id: str) -> int:
    """``[ multipart`` details: parts of ``Content-Type:`` line, name line and an
    HTTP-chunked body (hex length line, bytes, …, ``0``), closed by a ``]`` line."""
    size = len(data)
    while True:
        line_at = pos
        line, pos = _v1_line(data, pos, opened, test_id)
        header = line.rstrip(b"\r\n")
        if header == b"]":
            return pos
        if not header.lower().startswith(b"content-type:"):
            raise _Malformed(line_at, f"expected a 'Content-Type: <type>' line or ']' in the multipart details "
                                      f"of test {test_id!r}, found {bytes(header[:60])!r}")
        mime = header[13:].decode("utf-8", "replace").strip()
        name_line, pos = _v1_line(data, pos, opened, test_id)
        file_name = name_line.rstrip(b"\r\n").decode("utf-8", "replace")
        body = bytearray()
        while True:
            newline = data.find(b"\n", pos)
            if newline < 0:
                raise _Malformed(pos, f"truncated stream: the chunked body of {file_name!r} (test {test_id!r}) "
                                      "ends before its closing '0' chunk")
            length_text = data[pos:newline].rstrip(b"\r")
            if not _HEX.fullmatch(length_text):
                raise _Malformed(pos, f"bad chunk length {bytes(length_text[:40])!r} in {file_name!r} "
                                      f"(test {test_id!r}): expected a hexadecimal byte count")
            length = int(length_text, 16)
            pos = newline + 1
            if length == 0:
                break
            if pos + length > size:
                raise _Malformed(pos, f"truncated stream: a chunk of {file_name!r} (test {test_id!r}) announces "
                                      f"{length} bytes, only {size - pos} remain")
            body += data[pos : pos + length]
            pos += length
        collector.event(("", test_id), file_name=file_name, mime=mime, content=body)


# --- v2 --------------------------------------------------------------------------------


def _varint(data: bytes | bytearray, pos: int, end: int, what: str) -> tuple[int, int]:
    """A v2 number: the top two bits of the first byte give its size (1-4 bytes)."""
    if pos >= end:
        raise _Malformed(pos, f"the packet ends where its {what} should be")
    first = data[pos]
    size = (first >> 6) + 1
    if pos + size > end:
        raise _Malformed(pos, f"the {what} runs past the end of its packet")
    value = first & 0x3F
    for index in range(pos + 1, pos + size):
        value = (value << 8) | data[index]
    return value, pos + size


def _utf8(data: bytes | bytearray, pos: int, end: int, what: str) -> tuple[str, int]:
    length, pos = _varint(data, pos, end, f"length of the {what}")
    if pos + length > end:
        raise _Malformed(pos, f"the {what} announces {length} bytes, only {end - pos} remain in its packet")
    try:
        return bytes(data[pos : pos + length]).decode("utf-8"), pos + length
    except UnicodeDecodeError:
        raise _Malformed(pos, f"the {what} is not valid UTF-8") from None


def _parse_v2(data: bytes | bytearray, collector: _Collector) -> None:
    view = memoryview(data)
    size = len(data)
    pos = 0
    while pos < size:
        start = pos
        if data[pos] != V2_SIGNATURE:
            raise _Malformed(pos, f"bad packet signature 0x{data[pos]:02X}: expected 0xB3, the first byte "
                                  "of every subunit v2 packet")
        if size - pos < 4:
            raise _Malformed(pos, "truncated packet: the stream ends inside a packet header")
        flags = (data[pos + 1] << 8) | data[pos + 2]
        if flags >> 12 != 2:
            raise _Malformed(pos, f"unsupported packet version {flags >> 12}: expected 2")
        if data[pos + 3] >= 0xC0:
            raise _Malformed(pos + 3, "packet length uses 4 bytes: expected at most 3 (packets are under 4 MiB)")
        length, body = _varint(data, pos + 3, size, "packet length")
        end = start + length
        if length < body - start + 4:
            raise _Malformed(pos + 3, f"packet length {length} is shorter than its own header and CRC")
        if end > size:
            raise _Malformed(pos, f"truncated packet: its header announces {length} bytes, "
                                  f"the stream ends {size - start} bytes after its start")
        body_end = end - 4
        stored = int.from_bytes(data[body_end:end], "big")
        computed = zlib.crc32(view[start:body_end])
        if stored != computed:
            raise _Malformed(pos, f"bad CRC32: the packet stores 0x{stored:08X}, its content sums to "
                                  f"0x{computed:08X} (corrupt or altered data)")
        pos = body
        when = test_id = mime = file_name = None
        content = None
        route = ""
        if flags & _FLAG_TIMESTAMP:
            if pos + 4 > body_end:
                raise _Malformed(pos, "the timestamp runs past the end of its packet")
            seconds = int.from_bytes(data[pos : pos + 4], "big")
            nanoseconds, pos = _varint(data, pos + 4, body_end, "timestamp nanoseconds")
            when = _EPOCH + timedelta(seconds=seconds, microseconds=nanoseconds // 1000)
            collector.saw_time(when)
        if flags & _FLAG_TEST_ID:
            test_id, pos = _utf8(data, pos, body_end, "test id")
        if flags & _FLAG_TAGS:
            count, pos = _varint(data, pos, body_end, "tag count")
            for _ in range(count):
                tag, pos = _utf8(data, pos, body_end, "tag")
                collector.run.tags.add(tag)
        if flags & _FLAG_MIME_TYPE:
            mime, pos = _utf8(data, pos, body_end, "MIME type")
        if flags & _FLAG_FILE_CONTENT:
            file_name, pos = _utf8(data, pos, body_end, "file name")
            length, pos = _varint(data, pos, body_end, "file length")
            if pos + length > body_end:
                raise _Malformed(pos, f"the file content announces {length} bytes, "
                                      f"only {body_end - pos} remain in its packet")
            content = view[pos : pos + length]
            pos += length
        if flags & _FLAG_ROUTE_CODE:
            route, pos = _utf8(data, pos, body_end, "route code")
        pos = end
        if test_id is None:
            continue  # stream-level attachments (non-subunit stdout) and global tags
        status = _V2_STATUSES[flags & 0x0007]
        key = (route, test_id)
        collector.event(key, started=status == "inprogress", when=when if status in _INTERIM else None,
                        file_name=file_name, mime=mime, content=content)
        if status is not None and status not in _INTERIM:
            collector.finish(key, status, when)
