"""Safe, streaming XML reading for the report parsers, and the helpers they share.

Every report goes through :class:`Report`: the source (a path, a ``.gz`` path, or
bytes) is opened as a byte stream that counts what it delivers and refuses more than
``max_bytes`` (raw or decompressed, so a gzip bomb stops at the limit), and its prolog is
read *by this module, before lxml sees it*: a DOCTYPE with an internal subset (the only
place an ENTITY can be declared) or one pointing at an absolute or remote DTD is refused
with :class:`~ciscope.errors.HostileInputError`. lxml then parses with
``resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False`` as a second
line of defence. lxml's syntax errors become :class:`~ciscope.errors.ReportError` with the
file name, the line, and what was expected.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import IO, Any

from lxml import etree

from ..errors import HostileInputError, ReportError
from ..model import Status, TestResult

MAX_REPORT_BYTES = 1 << 30  # 1 GiB, raw or decompressed
MAX_TEXT_CHARS = 64 * 1024  # failure text kept per attempt
MAX_PROLOG_BYTES = 1 << 20  # XML declaration, comments and DOCTYPE before the root element
_CHUNK = 1 << 16

SAFE_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
}

Source = str | os.PathLike[str] | bytes


# --------------------------------------------------------------------------- byte streams


class _LimitedReader:
    """File-like ``read(n)`` over a byte stream that refuses to deliver more than ``limit``
    bytes in total. ``head`` (bytes already read to sniff the prolog) is replayed first."""

    __slots__ = ("_raw", "_head", "_limit", "_name", "_what", "delivered")

    def __init__(self, raw: IO[bytes], *, limit: int, name: str, what: str, head: bytes = b""):
        self._raw = raw
        self._head = head
        self._limit = limit
        self._name = name
        self._what = what
        self.delivered = 0

    def read(self, size: int = -1) -> bytes:
        if self._head:
            data, self._head = self._head, b""
            return data
        if size is None or size < 0:
            size = _CHUNK
        try:
            data = self._raw.read(size)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise ReportError(self._name, f"corrupt gzip stream ({exc}): expected a complete gzip file") from exc
        self.delivered += len(data)
        if self.delivered > self._limit:
            raise HostileInputError(
                self._name,
                f"report is larger than the limit of {_size(self._limit)} {self._what}; "
                "refusing to read further (raise max_bytes to accept it)",
            )
        return data

    def close(self) -> None:
        self._raw.close()


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} bytes"


def _open_bytes(source: Source, name: str, max_bytes: int) -> tuple[_LimitedReader, str]:
    """Open ``source`` as a counting byte stream; decompress gzip (by magic bytes)."""
    raw: IO[bytes]
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise HostileInputError(name, f"report is {len(data):,} bytes, over the limit of {_size(max_bytes)}")
        raw = io.BytesIO(data)
    else:
        try:
            raw = open(source, "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            raise ReportError(name, "file does not exist: expected a test report file") from None
        except IsADirectoryError:
            raise ReportError(name, "is a folder: expected a test report file") from None
        except OSError as exc:
            raise ReportError(name, f"cannot be read ({exc.strerror})") from None
        size = os.fstat(raw.fileno()).st_size
        if size > max_bytes:
            raw.close()
            raise HostileInputError(name, f"report is {size:,} bytes, over the limit of {_size(max_bytes)}")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return (
            _LimitedReader(gzip.GzipFile(fileobj=raw, mode="rb"), limit=max_bytes, name=name,  # type: ignore[arg-type]
                           what="decompressed"),
            "gzip",
        )
    return _LimitedReader(raw, limit=max_bytes, name=name, what="raw"), "plain"


# --------------------------------------------------------------------------- prolog


@dataclass(slots=True)
class Prolog:
    """What the bytes before the root element say."""

    root: str  # root element's qualified name as written, e.g. "testsuites", "ns:TestRun"
    namespace: str | None  # the root element's namespace URI
    encoding: str | None  # declared encoding, if any
    line: int  # line of the root element's start tag (1-based)
    offset: int = 0  # where it starts (in the ASCII view of the bytes)


_XML_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
_START_TAG = re.compile(rb"""<([^\s/>!?]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_XMLNS = re.compile(rb"""\sxmlns(?::([^\s=]+))?\s*=\s*(["'])(.*?)\2""", re.S)
_DOCTYPE_HEAD = re.compile(rb"<!DOCTYPE\s+([^\s\[>]+)\s*")
_EXTERNAL_ID = re.compile(rb"""(SYSTEM|PUBLIC)\s*(?:(["'])(.*?)\2\s*)?(?:(["'])(.*?)\4)?\s*""", re.S)
_ABSOLUTE_OR_REMOTE = re.compile(rb"^(?:[A-Za-z][A-Za-z0-9+.\-]*:|/|\\)")


def _ascii_view(data: bytes) -> bytes:
    """A byte view of ``data`` where ASCII characters are single bytes, whatever the
    encoding: UTF-16/32 (with or without BOM) lose their NUL bytes; ASCII-compatible
    encodings are returned as is. Good enough to read an XML prolog, which is ASCII."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4]:
        return data.replace(b"\x00", b"").removeprefix(b"\xff\xfe").removeprefix(b"\xfe\xff")
    return data.removeprefix(b"\xef\xbb\xbf")


def _scan_prolog(view: bytes, name: str) -> Prolog | None:
    """Walk the prolog (XML declaration, comments, PIs, DOCTYPE) up to the root start tag.
    Returns None when ``view`` ends before the root element starts (read more)."""
    pos, n, encoding = 0, len(view), None
    while True:
        while pos < n and view[pos] in b" \t\r\n":
            pos += 1
        if pos >= n:
            return None
        if view.startswith(b"<?", pos):
            end = view.find(b"?>", pos + 2)
            if end < 0:
                return None
            if view.startswith(b"<?xml", pos) and pos == 0:
                match = _XML_DECL_ENCODING.search(view, pos, end)
                if match:
                    encoding = match.group(1).decode("ascii")
            pos = end + 2
        elif view.startswith(b"<!--", pos):
            end = view.find(b"-->", pos + 4)
            if end < 0:
                return None
            pos = end + 3
        elif view.startswith(b"<!DOCTYPE", pos):
            _check_doctype(view, pos, name)
            end = view.find(b">", pos)
            if end < 0:
                return None
            pos = end + 1
        elif view.startswith(b"<!", pos) or view.startswith(b"<?", pos):
            if n - pos < 10:
                return None  # an incomplete "<!DOCTYPE", "<!--" or "<?xml"
            return Prolog(root="", namespace=None, encoding=encoding, line=view.count(b"\n", 0, pos) + 1)
        elif view.startswith(b"<", pos):
            tag = _START_TAG.match(view, pos)
            if tag is None:
                if view.find(b">", pos) < 0:
                    return None  # the start tag continues beyond what was read
                return Prolog(root="", namespace=None, encoding=encoding, line=view.count(b"\n", 0, pos) + 1)
            root = tag.group(1).decode("utf-8", "replace")
            prefix = root.partition(":")[0] if ":" in root else ""
            namespace = None
            for attr in _XMLNS.finditer(tag.group(0)):
                if (attr.group(1) or b"").decode("utf-8", "replace") == prefix:
                    namespace = attr.group(3).decode("utf-8", "replace") or None
            return Prolog(root=root, namespace=namespace, encoding=encoding, line=view.count(b"\n", 0, pos) + 1,
                          offset=pos)
        else:
            # Not markup: let lxml report it with its own words and line.
            return Prolog(root="", namespace=None, encoding=encoding, line=view.count(b"\n", 0, pos) + 1)


def _check_doctype(view: bytes, pos: int, name: str) -> None:
    line = view.count(b"\n", 0, pos) + 1
    head = _DOCTYPE_HEAD.match(view, pos)
    if head is None:
        if len(view) - pos < 4096:
            return  # incomplete: the caller reads more and comes back
        raise HostileInputError(name, "malformed DOCTYPE declaration; refused (ciscope never reads DTDs)", line=line)
    rest = head.end()
    external = _EXTERNAL_ID.match(view, rest)
    if external and external.group(0):
        system_id = external.group(5) if external.group(1) == b"PUBLIC" else external.group(3)
        if system_id is None:
            if b">" not in view[rest:]:
                return  # incomplete
            system_id = b""
        if external.group(1) == b"PUBLIC" or _ABSOLUTE_OR_REMOTE.match(system_id):
            shown = system_id.decode("utf-8", "replace")
            raise HostileInputError(
                name,
                f'DOCTYPE refers to an external DTD "{shown}"; refused: ciscope never fetches '
                "DTDs (accepted: no DOCTYPE, or one without an internal subset that names at "
                "most a relative local DTD, which is not read)",
                line=line,
            )
        rest = external.end()
    if view[rest : rest + 1] == b"[":
        what = "ENTITY declarations" if b"<!ENTITY" in view[rest:] else "an internal DTD subset"
        raise HostileInputError(
            name,
            f"DOCTYPE with {what}; refused: entity declarations are how XXE and "
            "entity-expansion bombs work, and test reports never need them",
            line=line,
        )


def _read_prolog(reader: _LimitedReader, name: str) -> tuple[Prolog, bytes]:
    head = b""
    while True:
        chunk = reader.read(_CHUNK)
        head += chunk
        prolog = _scan_prolog(_ascii_view(head), name)
        if prolog is not None:
            if prolog.offset > MAX_PROLOG_BYTES:
                raise HostileInputError(name, f"no root element in the first {_size(MAX_PROLOG_BYTES)}; refused")
            return prolog, head
        if not chunk:
            if not head.strip():
                raise ReportError(name, "empty file: expected an XML test report")
            # Let lxml say what is wrong with the truncated prolog.
            return Prolog(root="", namespace=None, encoding=None, line=1), head
        if len(head) > MAX_PROLOG_BYTES:
            raise HostileInputError(name, f"no root element in the first {_size(MAX_PROLOG_BYTES)}; refused")


# --------------------------------------------------------------------------- parsing


class Report:
    """An opened report: its prolog, and a factory for lxml iterparse over the whole file."""

    def __init__(self, source: Source, *, name: str, max_bytes: int):
        self.name = name
        self._reader, self.compression = _open_bytes(source, name, max_bytes)
        try:
            self.prolog, self._head = _read_prolog(self._reader, name)
        except BaseException:
            self._reader.close()
            raise
        root = self.prolog.root
        self.namespace = self.prolog.namespace
        self.local_root = root.rpartition(":")[2]

    def iterparse(self, *, events: tuple[str, ...] = ("end",), tag: Any = None) -> etree.iterparse:
        reader = self._reader
        reader._head, self._head = self._head, b""
        etree.clear_error_log()  # the log is per thread and outlives parses: see syntax_error
        return etree.iterparse(reader, events=events, tag=tag, remove_blank_text=False, **SAFE_PARSER_OPTIONS)

    def close(self) -> None:
        self._reader.close()

    def syntax_error(self, exc: etree.XMLSyntaxError) -> ReportError:
        return syntax_error(self.name, exc, encoding=self.prolog.encoding)


_UNNAMED_ERRORS = {
    "ERR_CDATA_NOT_FINISHED": "CDATA section not finished: expected ']]>' before the end of the file",
    "ERR_COMMENT_NOT_FINISHED": "comment not finished: expected '-->' before the end of the file",
}
_PREMATURE = re.compile(r"Premature end of data in tag (\S+) line (\d+)")
_MISMATCH = re.compile(r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)")
_LXML_POSITION = re.compile(r",? line \d+, column \d+$")


def syntax_error(name: str, exc: etree.XMLSyntaxError, *, encoding: str | None = None) -> ReportError:
    """Turn lxml's error into a ReportError: file, line, what was wrong and what was expected."""
    message, line, column = exc.msg or str(exc), exc.lineno, (exc.position or (0, 0))[1]
    if not line:
        # lxml sometimes reports a generic "no element found" at line 0 after the real
        # error (an undefined entity …); the error log, cleared when the parse began, has it.
        for entry in exc.error_log:
            if entry.level >= 2:
                message, line, column = entry.message, entry.line, entry.column
                break
    if "Unregistered error message" in message:  # libxml2 has no text for some errors
        kinds = [entry.type_name for entry in exc.error_log if entry.level >= 2]
        if kinds:
            message = _UNNAMED_ERRORS.get(kinds[0], kinds[0].removeprefix("ERR_").replace("_", " ").lower())
        else:
            message = "unknown error"
    if message.startswith("CData section not finished"):
        message = _UNNAMED_ERRORS["ERR_CDATA_NOT_FINISHED"]
    elif message.startswith("Comment not terminated"):
        message = _UNNAMED_ERRORS["ERR_COMMENT_NOT_FINISHED"]
    message = _LXML_POSITION.sub("", message.strip())
    if m := _PREMATURE.search(message):
        reason = f"truncated XML: expected closing </{m[1]}> (opened on line {m[2]}) before the end of the file"
    elif m := _MISMATCH.search(message):
        reason = f"mismatched tags: expected closing </{m[1]}> (opened on line {m[2]}), found </{m[3]}>"
    elif "Document is empty" in message or message == "no element found":
        reason = "no XML element found: expected an XML test report"
    elif "Start tag expected" in message:
        reason = "not XML: expected '<' starting the report's root element"
    elif "Extra content at the end of the document" in message:
        reason = "extra content after the root element ends: expected exactly one root element"
    elif "Invalid bytes in character encoding" in message or "not proper UTF-8" in message:
        declared = encoding or "UTF-8 (no encoding declared)"
        reason = f"invalid bytes for the file's encoding {declared}: expected text in that encoding"
    elif "out of allowed range" in message or "invalid character" in message.lower():
        reason = f"{message}: expected only characters XML 1.0 allows"
    elif "Entity" in message and "not defined" in message:
        reason = (f"{message}: expected only the predefined entities (&lt; &gt; &amp; &quot; &apos;) "
                  "and character references")
    elif message in _UNNAMED_ERRORS.values():
        reason = f"truncated XML: {message}"
    else:
        reason = f"malformed XML: {message}"
    return ReportError(name, reason, line=line or None, place=f"column {column}" if column else None)


# --------------------------------------------------------------------------- record helpers


def local(tag: Any) -> str:
    """``{ns}name`` → ``name``; comments and PIs (whose tag is not a str) → ``""``."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def cap_text(text: str | None) -> str | None:
    """Failure text kept in a record: at most :data:`MAX_TEXT_CHARS`, truncation noted."""
    if text is None:
        return None
    if len(text) > MAX_TEXT_CHARS:
        dropped = len(text) - MAX_TEXT_CHARS
        return f"{text[:MAX_TEXT_CHARS]}\n… [truncated by ciscope: {dropped:,} more characters]"
    return text


def parse_seconds(value: str | None) -> float | None:
    """``time`` attribute → seconds. Thousands separators ("1,234.5") are tolerated;
    anything unparseable (or negative, NaN, infinite) → None, never an error."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = float(value.strip().replace(",", "").replace("_", "").removesuffix("s"))
        except ValueError:
            return None
    # one chained comparison: False for NaN, infinities and negatives (-0.0 is kept)
    return seconds if 0.0 <= seconds < _INFINITY else None


_INFINITY = float("inf")


_HMS = re.compile(r"^\s*(?:(\d+)\.)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*$")


def parse_hms(value: str | None) -> float | None:
    """``[d.]hh:mm:ss[.fffffff]`` (TRX, FPCUnit) → seconds; otherwise like :func:`parse_seconds`."""
    if value is None:
        return None
    match = _HMS.match(value)
    if match is None:
        return parse_seconds(value)
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


class Attempts:
    """Numbers the attempts (or occurrences) of each (suite, classname, name) from 0 in file order.

    Memory is what bounds this: a report may hold millions of distinct tests. Keys are
    64-bit hashes of (classname, name), grouped by suite name. The suite being read keeps
    its keys in a set (fast); when the reader moves to another suite, or the set passes
    :attr:`LIVE_LIMIT` keys, they are folded into a sorted ``array('q')`` for that suite
    name: 8 bytes per distinct test. A suite name that comes back (or a huge suite) is
    checked against its array with a binary search.
    """

    LIVE_LIMIT = 1 << 17

    __slots__ = ("suite", "live", "prior", "retries", "_repeats", "_closed", "_closed_repeats")

    def __init__(self, *, retries: bool = True) -> None:
        #: whether a repeat is another attempt of the same test (the format's convention,
        #: see docs/junit.md "Test identity") or another test of the same name: then the
        #: number is the record's ``occurrence`` and its ``attempt`` stays 0
        self.retries = retries
        self.suite: str | None = None
        self.live: set[int] = set()  # keys of the current suite since the last fold
        self.prior: array[int] | None = None  # folded keys of the current suite name
        self._repeats: dict[int, int] = {}  # key → last attempt number, current suite
        self._closed: dict[str, array[int]] = {}
        self._closed_repeats: dict[tuple[str, int], int] = {}

    def switch(self, suite: str) -> None:
        """Make ``suite`` the current suite name."""
        if suite != self.suite:
            self.fold()
            self.suite = suite
            self.prior = self._closed.get(suite)

    def fold(self) -> None:
        """Move the live keys of the current suite into its sorted array."""
        if not self.live or self.suite is None:
            return
        old = self._closed.get(self.suite)
        merged = array("q", sorted(chain(old, self.live) if old is not None else self.live))
        self._closed[self.suite] = self.prior = merged
        for key, attempt in self._repeats.items():
            self._closed_repeats[(self.suite, key)] = attempt
        self.live = set()
        self._repeats = {}

    def number(self, key: int) -> int:
        """Attempt number of one more occurrence of ``key`` in the current suite."""
        live = self.live
        if key in live:
            attempt = self._repeats[key] = self._repeats.get(key, 0) + 1
            return attempt
        prior = self.prior
        if prior is not None:
            index = bisect_left(prior, key)
            if index < len(prior) and prior[index] == key:
                attempt = self._closed_repeats.get((self.suite or "", key), 0) + 1
                live.add(key)
                self._repeats[key] = attempt
                return attempt
        live.add(key)
        if len(live) > self.LIVE_LIMIT:
            self.fold()
        return 0

    def next(self, suite: str, classname: str, name: str) -> int:
        """Attempt number of one more occurrence of (suite, classname, name)."""
        if suite != self.suite:
            self.switch(suite)
        return self.number(hash((classname, name)))


def result(
    attempts: Attempts,
    file: str,
    *,
    name: str,
    status: Status,
    classname: str = "",
    suite: str = "",
    duration: float | None = None,
    failure_type: str | None = None,
    failure_message: str | None = None,
    failure_text: str | None = None,
) -> TestResult:
    """Build a record for the (slower) native dialects, numbering its attempt (or, where
    repeats are not retries, its occurrence)."""
    number = attempts.next(suite, classname, name)
    retry = attempts.retries
    return TestResult(
        name,
        status,
        classname,
        suite,
        duration,
        failure_type or None,
        failure_message or None,
        cap_text(failure_text or None),
        number if retry else 0,
        file,
        "",
        0 if retry else number,
    )


def text_of(element: Any, child: str | None = None) -> str | None:
    """Text of ``element`` (or of its first child whose local name is ``child``),
    including the text of descendants; None when absent or blank."""
    if child is not None:
        for sub in element:
            if local(sub.tag) == child:
                element = sub
                break
        else:
            return None
    text = "".join(element.itertext())
    return text if text.strip() else None


def drop(element: Any) -> None:
    """Free a processed element and the already processed siblings before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def iter_closing(report: Report, tags: Any) -> Iterator[Any]:
    """``end`` events of ``tags`` over the whole report, lxml errors translated."""
    try:
        for _, element in report.iterparse(tag=tags):
            yield element
    except etree.XMLSyntaxError as exc:
        raise report.syntax_error(exc) from None
