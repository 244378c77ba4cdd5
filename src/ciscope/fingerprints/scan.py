"""One scan of one text or file: prefilter hits in, confirmed matches out.

Per chunk (whole lines): the line engine reports, per pattern, the first place it occurs;
each candidate is confirmed exactly —

- a Lucene query on the candidate's line (a :class:`LineDoc`: the line plus the file and
  run fields); when the line does not match, the engine ``locate``\\ s the pattern's next
  occurrence after it;
- a single-line regex by ``search`` from the candidate's line (Python ``re`` over bytes);
- a multi-line regex over the previous ``window`` bytes plus the chunk.

For a test's failure text (``whole``) each Lucene query is decided once on the whole text.
Line numbers are resolved per chunk, in offset order, so newlines are counted once.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from ciscope.fingerprints.engines import Engine
from ciscope.fingerprints.fields import FileContext, LineDoc
from ciscope.fingerprints.model import MATCH_TEXT_LIMIT, Fingerprint, Match

if TYPE_CHECKING:
    from ciscope.fingerprints.scanner import Scanner

_NONVOTING = {"0", "false", "no", "non-voting", "nonvoting"}
Buffer = bytes | bytearray


def _decode(data: Buffer) -> str:
    if data.endswith(b"\r"):
        data = data[:-1]
    return data.decode("utf-8", "replace")


def _cap(data: Buffer) -> str:
    if data.endswith(b"\n"):
        data = data[:-1]
    if data.endswith(b"\r"):
        data = data[:-1]
    if len(data) <= MATCH_TEXT_LIMIT:
        return data.decode("utf-8", "replace")
    text = data[:MATCH_TEXT_LIMIT + 4].decode("utf-8", "replace")
    return text.encode("utf-8")[:MATCH_TEXT_LIMIT].decode("utf-8", "ignore")


def newlines(data: Buffer) -> int:
    # bytes.replace finds b"\n" with memchr: faster than bytes.count's byte loop
    return len(data) - len(data.replace(b"\n", b""))


def _strip_brackets(test_id: str) -> str:
    # tempest ids carry attributes: test_x[id-3e41…,smoke]
    from ciscope.model import plain_test_id

    return plain_test_id(test_id)


class _Lines:
    """Line numbers of offsets in one buffer, counting newlines incrementally."""

    __slots__ = ("buf", "base", "pos", "cnt")

    def __init__(self, buf: Buffer, base: int):
        self.buf, self.base = buf, base
        self.pos, self.cnt = [0], [0]

    def line_of(self, offset: int) -> int:
        i = bisect_right(self.pos, offset) - 1
        p, c = self.pos[i], self.cnt[i]
        c += self.buf.count(b"\n", p, offset)
        self.pos.insert(i + 1, offset)
        self.cnt.insert(i + 1, c)
        return self.base + c + 1


def admits(fp: Fingerprint, ctx: FileContext) -> bool:
    """Whether ``fp`` can match anything in this file of this run (file/run fields only):
    voting, ``test_ids``, the query's file/run clauses, the regex's scope."""
    if not fp.allow_nonvoting:
        voting = ctx.fields.get("voting")
        if voting and all(v.strip().lower() in _NONVOTING for v in voting):
            return False
    if fp.test_ids:
        failed = ctx.failed_tests
        if failed is None:
            return False
        failed_plain = {_strip_brackets(t) for t in failed}
        if not any(_strip_brackets(t) in failed_plain for t in fp.test_ids):
            return False
    if fp.query is not None and fp.query.partial(ctx) is False:
        return False
    if fp.scope is not None and fp.scope.partial(ctx) is not True:
        return False
    return True


class Scan:
    """The state of one scan of one text or file."""

    def __init__(self, scanner: Scanner, ctx: FileContext, label: str, limit: int | None, *, whole: bool,
                 window: int | None):
        self.sc = scanner
        self.ctx = ctx
        self.label = label
        self.limit = limit
        self.whole = whole
        self.window = window
        self.found: list[tuple[int, int, Match]] = []
        self.pending: list[tuple[int, int, bytes]] = []  # (offset in chunk, fp, line) awaiting a line number
        self.counts: dict[int, int] = {}
        self.active = [i for i, fp in enumerate(scanner.fingerprints) if admits(fp, ctx)]
        self.done: set[int] = set(range(len(scanner.fingerprints))) - set(self.active)
        self.lines_before = 0
        self.tail = b""
        self.tail_at_start = True  # the tail begins at the start of the file
        self.first = True
        self.line_engine: Engine | None = None
        self.ml_engine: Engine | None = None
        if self.active:
            self.line_engine, self.ml_engine = scanner._engines()

    @property
    def finished(self) -> bool:
        return len(self.done) == len(self.sc.fingerprints)

    def need(self, fp: int) -> int:
        if self.limit is None:
            return 1 << 62
        return self.limit - self.counts.get(fp, 0)

    def _count(self, fp: int) -> None:
        self.counts[fp] = self.counts.get(fp, 0) + 1
        if self.limit is not None and self.counts[fp] >= self.limit:
            self.done.add(fp)

    def record(self, fp: int, line: int, text: Buffer) -> None:
        self.found.append((line, fp, Match(self.sc.fingerprints[fp].id, self.label, line, _cap(text), self.ctx.test)))
        self._count(fp)

    def defer(self, fp: int, offset: int, text: Buffer) -> None:
        """A match at ``offset`` of the current chunk; its line number comes at chunk end."""
        self.pending.append((offset, fp, bytes(text[:MATCH_TEXT_LIMIT + 8])))
        self._count(fp)

    def skip(self, multiline: bool) -> set[int]:
        sc = self.sc
        return {pid for fp in self.done for pid in sc._fp_specs[fp] if sc._specs[pid].multiline == multiline}

    def result(self) -> list[Match]:
        return [m for _, _, m in sorted(self.found, key=lambda t: (t[0], t[1]))]

    # -------------------------------------------------------------- per chunk

    def feed(self, chunk: Buffer, next_byte: bytes, *, eof: bool) -> None:
        sc = self.sc
        if self.whole:
            self._whole_document(chunk)
        if self.line_engine is not None:
            by_fp: dict[int, list[tuple[int, int | None]]] = {}
            for pid, at in self.line_engine.scan(chunk, self.skip(False)):
                fp = sc._spec_fp[pid]
                if fp not in self.done:
                    by_fp.setdefault(fp, []).append((pid, at))
            for fp in sorted(by_fp):
                if sc.fingerprints[fp].query is not None:
                    self._confirm_query(fp, by_fp[fp], chunk)
                else:
                    self._confirm_regex(fp, by_fp[fp], chunk, next_byte)
        if not self.whole:
            for fp in sc._slow:
                if fp not in self.done:
                    self._every_line(fp, chunk)
        if self.ml_engine is not None:
            self._multiline(chunk, next_byte, eof)
        self._resolve(chunk)
        self.first = False

    def _resolve(self, chunk: Buffer) -> None:
        """Line numbers of the chunk's pending matches, counting the chunk's newlines once."""
        if not self.pending:
            self.lines_before += newlines(chunk)
            return
        offsets = sorted({off for off, _, _ in self.pending})
        lines: dict[int, int] = {}
        count, prev = self.lines_before, 0
        for off in offsets:
            count += newlines(chunk[prev:off]) if off - prev > 65536 else chunk.count(b"\n", prev, off)
            lines[off] = count + 1
            prev = off
        self.lines_before = count + newlines(chunk[prev:])
        fps = self.sc.fingerprints
        for off, fp, text in self.pending:
            line = lines[off]
            self.found.append((line, fp, Match(fps[fp].id, self.label, line, _cap(text), self.ctx.test)))
        self.pending.clear()

    def _whole_document(self, chunk: Buffer) -> None:
        """A test's failure text: each Lucene query is decided once, on the whole text
        (its phrases may even span lines, as in an Elasticsearch multi-line event)."""
        sc = self.sc
        doc = LineDoc(self.ctx, _decode(chunk))
        for fp in self.active:
            query = sc.fingerprints[fp].query
            if query is None or fp in self.done:
                continue
            if query.match(doc):
                starts = [m.start() for m in (sc._specs[pid].python.search(chunk) for pid in sc._fp_specs[fp]) if m]
                ls = chunk.rfind(b"\n", 0, min(starts)) + 1 if starts else 0
                le = chunk.find(b"\n", ls)
                self.defer(fp, ls, chunk[ls:le if le >= 0 else len(chunk)])
            self.done.add(fp)

    def _confirm_query(self, fp: int, hits: list[tuple[int, int | None]], chunk: Buffer) -> None:
        query = self.sc.fingerprints[fp].query
        assert query is not None and self.line_engine is not None
        engine, n = self.line_engine, len(chunk)
        need = self.need(fp)
        found: dict[int, int] = {}
        bound = n  # with `need` lines found, later candidates cannot make the cut
        for pid, at in hits:
            got = 0
            if at is None:
                at = engine.locate(pid, chunk, 0)
            while at is not None and at < bound:
                ls = chunk.rfind(b"\n", 0, at) + 1
                le = chunk.find(b"\n", at)
                le = n if le < 0 else le
                if ls not in found and query.match(LineDoc(self.ctx, _decode(chunk[ls:le]))):
                    found[ls] = le
                    got += 1
                    if len(found) >= need:
                        bound = sorted(found)[need - 1]
                    if got >= need:
                        break
                at = engine.locate(pid, chunk, le + 1) if le + 1 < n else None
        for ls in sorted(found)[:need]:
            self.defer(fp, ls, chunk[ls:found[ls]])

    def _confirm_regex(self, fp: int, hits: list[tuple[int, int | None]], chunk: Buffer, next_byte: bytes) -> None:
        regex = self.sc.fingerprints[fp].regex
        assert regex is not None
        ats = [at for _, at in hits]
        start = 0 if None in ats else chunk.rfind(b"\n", 0, min(ats)) + 1  # type: ignore[type-var]
        buf: Buffer
        if regex.needs_context:  # anchors and look-arounds see the real neighbouring bytes
            shift = 0 if self.first else 1
            buf = (b"" if self.first else b"\n") + chunk + next_byte
        else:
            shift, buf = 0, chunk
        end_limit = shift + len(chunk)
        need, n = self.need(fp), len(chunk)
        pos = shift + start
        while need > 0:
            m = regex.search(buf, pos)  # type: ignore[arg-type]
            if m is None or m.start() >= end_limit:
                break
            s = m.start() - shift
            ls = chunk.rfind(b"\n", 0, s) + 1
            le = chunk.find(b"\n", max(s, m.end() - shift - 1))
            le = n if le < 0 else le
            self.defer(fp, ls, chunk[ls:le])
            need -= 1
            pos = shift + le + 1

    def _every_line(self, fp: int, chunk: Buffer) -> None:
        query = self.sc.fingerprints[fp].query
        assert query is not None
        need, pos, n = self.need(fp), 0, len(chunk)
        while need > 0 and pos < n:
            le = chunk.find(b"\n", pos)
            le = n if le < 0 else le
            if query.match(LineDoc(self.ctx, _decode(chunk[pos:le]))):
                self.defer(fp, pos, chunk[pos:le])
                need -= 1
            pos = le + 1

    def _multiline(self, chunk: Buffer, next_byte: bytes, eof: bool) -> None:
        sc = self.sc
        assert self.ml_engine is not None
        tail = self.tail
        buf = tail + chunk if tail else chunk
        tail_len = len(tail)
        lines = _Lines(buf, self.lines_before - newlines(tail))
        hits: dict[int, list[int | None]] = {}
        for pid, at in self.ml_engine.scan(buf, self.skip(True)):
            fp = sc._spec_fp[pid]
            if fp not in self.done:
                hits.setdefault(fp, []).append(at)
        for fp in sorted(hits):
            regex = sc.fingerprints[fp].regex
            assert regex is not None
            ats = hits[fp]
            if None in ats or self.window is None:
                start = 0
            else:
                lo = max(0, min(a for a in ats if a is not None) - self.window)
                start = buf.rfind(b"\n", 0, lo) + 1 if lo else 0
            at_file_start = self.tail_at_start and (tail_len > 0 or self.first)
            search_buf: Buffer
            if regex.needs_context:
                shift = 0 if at_file_start else 1
                search_buf = (b"" if at_file_start else b"\n") + buf + next_byte
            else:
                shift, search_buf = 0, buf
            end_limit = shift + len(buf)
            need = self.need(fp)
            pos = shift + start
            while need > 0:
                m = regex.search(search_buf, pos)  # type: ignore[arg-type]
                if m is None or m.start() >= end_limit:
                    break
                end = m.end() - shift
                if end <= tail_len or end > len(buf):
                    pos = m.start() + 1  # seen with the previous chunk / to be seen with the next one
                    continue
                self.record(fp, lines.line_of(m.start() - shift), m.group())
                need -= 1
                pos = m.end() if m.end() > m.start() else m.start() + 1
        # keep the last `window` bytes, from a line start, for the next chunk
        if not eof and self.window:
            if len(buf) <= self.window:
                self.tail = bytes(buf)
            else:
                cut = buf.find(b"\n", len(buf) - self.window - 1) + 1
                self.tail = bytes(buf[cut:]) if cut > 0 else b""
                self.tail_at_start = False
        else:
            self.tail = b""
            self.tail_at_start = False
