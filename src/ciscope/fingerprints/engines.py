"""Prefilter engines: every fingerprint pattern compiled into one database.

An engine answers, for a buffer of whole lines, "which patterns occur, and where first" —
a *superset* of the real matches (the scanner confirms every candidate with the full
fingerprint in Python). Three engines, best first:

- ``hyperscan``: Intel Hyperscan block-mode database, one pattern per id with
  ``HS_FLAG_SINGLEMATCH`` (one callback per pattern per buffer). A pattern Hyperscan
  cannot compile exactly (look-arounds, back-references …) is compiled in prefilter mode;
  failing that, its longest required literal is used; failing that, it is a candidate
  everywhere.
- ``re2``: a google-re2 ``Set`` (Latin-1, so it matches bytes like the others). It says
  *which* patterns occur; the first position is then found per pattern.
- ``re``: Python's :mod:`re`, an alternation of all patterns that finds candidate lines;
  each candidate line is then tried against each still-missing pattern.

All three see the same patterns (:class:`Spec`) and the same bytes.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

ENGINES = ("hyperscan", "re2", "re")
_MIN_LITERAL = 2


@dataclass(frozen=True, slots=True)
class Spec:
    """One prefilter pattern. ``body`` is Python/PCRE syntax without inline flags."""

    pid: int
    body: str
    flags: str  # subset of "imsx"
    multiline: bool
    literal: bytes
    literal_caseless: bool
    python: re.Pattern[bytes]


def make_spec(pid: int, body: str, flags: str, *, multiline: bool, literal: bytes = b"",
              literal_caseless: bool = False) -> Spec:
    pyflags = 0
    for f, v in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL), ("x", re.VERBOSE)):
        if f in flags:
            pyflags |= v
    return Spec(pid, body, flags, multiline, literal, literal_caseless, re.compile(body.encode("utf-8"), pyflags))


def escape_bytes(data: bytes) -> bytes:
    """A regex matching exactly ``data`` in Python re, Hyperscan and RE2 alike."""
    return b"".join(bytes([c]) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else b"\\x%02x" % c
                    for c in data)


def available() -> list[str]:
    """Engines importable here, best first (``re`` is always there)."""
    out = []
    try:
        import hyperscan  # noqa: F401

        out.append("hyperscan")
    except ImportError:
        pass
    try:
        import re2  # noqa: F401

        out.append("re2")
    except ImportError:
        pass
    out.append("re")
    return out


class Engine:
    """Base: ``scan`` a buffer for first candidates, ``locate`` one pattern's next one."""

    name = ""

    def __init__(self, specs: list[Spec]):
        self.specs = {s.pid: s for s in specs}
        #: pids with no usable pattern: a candidate everywhere
        self.always: list[int] = []

    def scan(self, buf: bytes | bytearray, skip: frozenset[int] | set[int] = frozenset()) -> list[tuple[int, int | None]]:
        """``(pid, at)`` for each pattern occurring in ``buf``: ``at`` is the offset of the
        last byte of its first occurrence, or None when the position is unknown."""
        raise NotImplementedError

    def locate(self, pid: int, buf: bytes | bytearray, pos: int) -> int | None:
        """Offset of the last byte of the first occurrence of ``pid`` starting at or after
        ``pos`` (an exact search: used for the simple Lucene anchors only)."""
        m = self.specs[pid].python.search(buf, pos)
        return None if m is None else max(m.end() - 1, m.start())


# --------------------------------------------------------------------------- hyperscan

class HyperscanEngine(Engine):
    name = "hyperscan"

    def __init__(self, specs: list[Spec]):
        import hyperscan as hs

        super().__init__(specs)
        self._hs = hs
        self.modes: dict[int, str] = {}  # pid -> "exact" | "prefilter" | "literal"
        exprs: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        candidates = [(s.pid, *self._expression(s)) for s in specs]
        try:
            self.db = self._compile([c[1] for c in candidates], [c[0] for c in candidates], [c[2] for c in candidates])
            self.modes = {c[0]: "exact" for c in candidates}
        except hs.error:
            for pid, expr, fl in candidates:
                spec = self.specs[pid]
                for mode, e, f in (("exact", expr, fl), ("prefilter", expr, fl | hs.HS_FLAG_PREFILTER),
                                   ("literal", *self._literal(spec))):
                    if e is None:
                        continue
                    try:
                        self._compile([e], [pid], [f])
                    except hs.error:
                        continue
                    exprs.append(e)
                    ids.append(pid)
                    flags.append(f)
                    self.modes[pid] = mode
                    break
                else:
                    self.always.append(pid)
            self.db = self._compile(exprs, ids, flags) if exprs else None
        self._single: dict[int, Any] = {}

    def _expression(self, spec: Spec) -> tuple[bytes, int]:
        hs = self._hs
        f = hs.HS_FLAG_SINGLEMATCH
        if "i" in spec.flags:
            f |= hs.HS_FLAG_CASELESS
        if "m" in spec.flags:
            f |= hs.HS_FLAG_MULTILINE
        if "s" in spec.flags:
            f |= hs.HS_FLAG_DOTALL
        body = spec.body.encode("utf-8")
        if "x" in spec.flags:
            body = b"(?x)" + body
        return body, f

    def _literal(self, spec: Spec) -> tuple[bytes | None, int]:
        hs = self._hs
        if len(spec.literal) < _MIN_LITERAL:
            return None, 0
        f = hs.HS_FLAG_SINGLEMATCH | (hs.HS_FLAG_CASELESS if spec.literal_caseless else 0)
        return escape_bytes(spec.literal), f

    def _compile(self, exprs: list[bytes], ids: list[int], flags: list[int]) -> Any:
        db = self._hs.Database(mode=self._hs.HS_MODE_BLOCK)
        db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags)
        return db

    def scan(self, buf: bytes | bytearray, skip: frozenset[int] | set[int] = frozenset()) -> list[tuple[int, int | None]]:
        hits: list[tuple[int, int | None]] = [(pid, None) for pid in self.always]
        if self.db is not None and buf:
            found: list[tuple[int, int | None]] = []
            self.db.scan(buf, match_event_handler=_on_match, context=found)
            hits.extend(found)
        return hits

    def locate(self, pid: int, buf: bytes | bytearray, pos: int) -> int | None:
        if self.modes.get(pid) != "exact":
            return super().locate(pid, buf, pos)
        db = self._single.get(pid)
        if db is None:
            expr, f = self._expression(self.specs[pid])
            db = self._single[pid] = self._compile([expr], [pid], [f])
        found: list[tuple[int, int | None]] = []
        db.scan(memoryview(buf)[pos:], match_event_handler=_on_match, context=found)
        return None if not found else pos + found[0][1]  # type: ignore[operator]


def _on_match(pid: int, start: int, end: int, flags: int, found: list[tuple[int, int | None]]) -> None:
    found.append((pid, end - 1))


# --------------------------------------------------------------------------- re2

class RE2Engine(Engine):
    name = "re2"

    def __init__(self, specs: list[Spec]):
        import re2

        super().__init__(specs)
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        options.max_mem = 1 << 30
        options.log_errors = False
        self._options = options
        self._set = re2.Set.SearchSet(options)
        self._index: list[int] = []
        self._single: dict[int, Any] = {}
        self.modes: dict[int, str] = {}
        for spec in specs:
            for mode, expr in (("exact", self._expression(spec)), ("literal", self._literal(spec))):
                if expr is None:
                    continue
                try:
                    re2.compile(expr, options)
                except re2.error:
                    continue
                idx = self._set.Add(expr)
                assert idx == len(self._index)
                self._index.append(spec.pid)
                self.modes[spec.pid] = mode
                self._single[spec.pid] = re2.compile(expr, options)
                break
            else:
                self.always.append(spec.pid)
        self._compiled = bool(self._index)
        if self._compiled:
            self._set.Compile()

    @staticmethod
    def _expression(spec: Spec) -> bytes | None:
        if "x" in spec.flags:
            return None
        flags = "".join(f for f in "ims" if f in spec.flags)
        prefix = f"(?{flags})" if flags else ""
        return (prefix + spec.body).encode("utf-8")

    @staticmethod
    def _literal(spec: Spec) -> bytes | None:
        if len(spec.literal) < _MIN_LITERAL:
            return None
        return (b"(?i)" if spec.literal_caseless else b"") + escape_bytes(spec.literal)

    def scan(self, buf: bytes | bytearray, skip: frozenset[int] | set[int] = frozenset()) -> list[tuple[int, int | None]]:
        hits: list[tuple[int, int | None]] = [(pid, None) for pid in self.always]
        if self._compiled and buf:
            for idx in self._set.Match(buf) or ():
                pid = self._index[idx]
                if pid in skip:
                    continue
                m = self._single[pid].search(buf)
                hits.append((pid, None if m is None else max(m.end() - 1, m.start())))
        return hits

    def locate(self, pid: int, buf: bytes | bytearray, pos: int) -> int | None:
        if self.modes.get(pid) != "exact":
            return super().locate(pid, buf, pos)
        m = self._single[pid].search(buf, pos)
        return None if m is None else max(m.end() - 1, m.start())


# --------------------------------------------------------------------------- re

_HAS_GROUP_REFS = re.compile(r"\(\?P[<=]|\(\?\(|\\[1-9]")


class ReEngine(Engine):
    name = "re"

    def __init__(self, specs: list[Spec]):
        super().__init__(specs)
        self._pieces: dict[int, bytes] = {}
        self._multi: list[int] = []
        for spec in specs:
            if spec.multiline:
                self._multi.append(spec.pid)
                continue
            piece = self._piece(spec)
            if piece is None:
                self.always.append(spec.pid)
            else:
                self._pieces[spec.pid] = piece
        self._alternations: OrderedDict[frozenset[int], re.Pattern[bytes]] = OrderedDict()

    @staticmethod
    def _piece(spec: Spec) -> bytes | None:
        if not _HAS_GROUP_REFS.search(spec.body):
            flags = "".join(f for f in "imsx" if f in spec.flags)
            piece = (f"(?{flags}:{spec.body})" if flags else f"(?:{spec.body})").encode("utf-8")
            try:
                re.compile(piece)
                return piece
            except re.error:
                pass
        if len(spec.literal) < _MIN_LITERAL:
            return None
        return (b"(?i:" if spec.literal_caseless else b"(?:") + escape_bytes(spec.literal) + b")"

    def _alternation(self, pids: frozenset[int]) -> re.Pattern[bytes]:
        alt = self._alternations.get(pids)
        if alt is None:
            alt = re.compile(b"|".join(self._pieces[p] for p in sorted(pids)))
            self._alternations[pids] = alt
            if len(self._alternations) > 256:
                self._alternations.popitem(last=False)
        else:
            self._alternations.move_to_end(pids)
        return alt

    def scan(self, buf: bytes | bytearray, skip: frozenset[int] | set[int] = frozenset()) -> list[tuple[int, int | None]]:
        hits: list[tuple[int, int | None]] = [(pid, None) for pid in self.always]
        needed = set(self._pieces) - set(skip)
        pos, n = 0, len(buf)
        while needed and pos <= n:
            m = self._alternation(frozenset(needed)).search(buf, pos)
            if m is None:
                break
            ls = buf.rfind(b"\n", 0, m.start()) + 1
            le = buf.find(b"\n", m.start())
            le = n if le < 0 else le
            for pid in sorted(needed):
                if self.specs[pid].python.search(buf, ls, le):
                    hits.append((pid, ls))
                    needed.discard(pid)
            pos = le + 1
        for pid in self._multi:
            if pid in skip:
                continue
            m = self.specs[pid].python.search(buf)
            if m is not None:
                hits.append((pid, max(m.end() - 1, m.start())))
        return hits


def make_engine(name: str, specs: list[Spec]) -> Engine:
    if name == "hyperscan":
        return HyperscanEngine(specs)
    if name == "re2":
        return RE2Engine(specs)
    if name == "re":
        return ReEngine(specs)
    raise ValueError(f"unknown scanner backend {name!r}; available: {', '.join(available())}")
