"""One pass over a log for every fingerprint: a multi-pattern prefilter, then exact checks.

:class:`Scanner` compiles the text patterns of all fingerprints — each auto_review regex,
and for each Lucene query the phrase or word its message clauses require (its *anchors*) —
into one engine database (:mod:`ciscope.fingerprints.engines`). The engine scans each
buffer once; every candidate it reports is confirmed exactly, in Python: the Lucene
matcher on the candidate line (plus file and run fields), or the compiled regex.

Reading: files are read in chunks of whole lines (2 MiB by default: small enough to stay in
the CPU cache between the engine pass and the newline count; ``.gz``, ``.xz`` and
``.bz2`` are decompressed on the fly, recognised by their magic bytes; see
:mod:`ciscope.fingerprints.reader`); the confirmation logic is in
:mod:`ciscope.fingerprints.scan`.

Multi-line regexes (those that can match a newline) are scanned over the chunk plus the
previous ``window`` bytes (1 MiB by default), so a match spanning a chunk boundary is found
as long as it is no longer than the window; :meth:`Scanner.scan_text` sees the whole text
at once and has no such limit. Regexes whose result depends on bytes outside the match
(``^``, ``$``, ``\\b``, look-arounds) are confirmed with the real neighbouring bytes.
"""

from __future__ import annotations

import lzma
import os
from collections.abc import Iterable
from typing import Any

from ciscope.errors import InputError
from ciscope.fingerprints.engines import Engine, Spec, available, make_engine, make_spec
from ciscope.fingerprints.fields import FileContext, TextDoc
from ciscope.fingerprints.model import Fingerprint, Match
from ciscope.fingerprints.reader import line_chunks, lookahead, open_log
from ciscope.fingerprints.scan import Scan

DEFAULT_CHUNK_SIZE = 2 << 20  # small enough to stay in cache between the engine and the newline count
DEFAULT_WINDOW = 1 << 20


class Scanner:
    """Scan texts and log files for many fingerprints at once.

    ``backend`` is ``"hyperscan"``, ``"re2"`` or ``"re"``; by default the best available
    (:func:`available_backends`). Every backend gives the same matches: the engines only
    prefilter, the decision is always made by the fingerprint itself.

    ``limit`` (per call) is the most matches reported per fingerprint per text or file
    (default 1: the first matching line; None: all).

    Build one scanner and reuse it: compiling the database is the expensive part (about
    0.5 s for 200 fingerprints with Hyperscan). A scanner is not thread-safe (Hyperscan
    scratch space); use one per thread.
    """

    def __init__(self, fingerprints: Iterable[Fingerprint], /, *, backend: str | None = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, window: int = DEFAULT_WINDOW):
        self.fingerprints: list[Fingerprint] = list(fingerprints)
        names = available()
        if backend is None:
            backend = names[0]
        elif backend not in names:
            raise ValueError(f"scanner backend {backend!r} is not available here; available: {', '.join(names)}"
                             + ("" if backend in ("hyperscan", "re2", "re") else
                                " (known: hyperscan, re2, re)"))
        self.backend = backend
        self.chunk_size = max(int(chunk_size), 4096)
        self.window = max(int(window), 0)
        self._specs: list[Spec] = []
        self._spec_fp: list[int] = []
        self._fp_specs: list[list[int]] = []
        self._slow: list[int] = []  # Lucene fingerprints without anchors
        for i, fp in enumerate(self.fingerprints):
            pids: list[int] = []
            if fp.query is not None:
                if fp.query.anchors is None:
                    self._slow.append(i)
                for anchor in fp.query.anchors or ():
                    pids.append(self._add(i, anchor.pattern, "i", multiline=False))
            elif fp.regex is not None:
                r = fp.regex
                pids.append(self._add(i, r.engine_body, r.flags, multiline=r.multiline, literal=r.literal,
                                      caseless=r.caseless, fallback=r.body))
            self._fp_specs.append(pids)
        self._line_engine: Engine | None = None
        self._ml_engine: Engine | None = None
        self._built = False

    def _add(self, fp: int, body: str, flags: str, *, multiline: bool, literal: bytes = b"",
             caseless: bool = False, fallback: str | None = None) -> int:
        pid = len(self._specs)
        try:
            spec = make_spec(pid, body, flags, multiline=multiline, literal=literal, literal_caseless=caseless)
        except Exception:
            if fallback is None:
                raise
            spec = make_spec(pid, fallback, flags, multiline=multiline, literal=literal, literal_caseless=caseless)
        self._specs.append(spec)
        self._spec_fp.append(fp)
        return pid

    def _engines(self) -> tuple[Engine | None, Engine | None]:
        if not self._built:
            line = [s for s in self._specs if not s.multiline]
            multi = [s for s in self._specs if s.multiline]
            self._line_engine = make_engine(self.backend, line) if line else None
            self._ml_engine = make_engine(self.backend, multi) if multi else None
            self._built = True
        return self._line_engine, self._ml_engine

    @property
    def patterns(self) -> list[dict[str, Any]]:
        """The prefilter patterns, one per entry: ``{fingerprint, pattern, flags, multiline}``
        (Python ``re`` syntax, over bytes)."""
        return [{"fingerprint": self.fingerprints[self._spec_fp[s.pid]].id, "pattern": s.body, "flags": s.flags,
                 "multiline": s.multiline} for s in self._specs]

    # ------------------------------------------------------------------ public API

    def scan_text(self, text: str | bytes, /, *, file: str = "", run_meta: Any = None,
                  test: str | None = None, limit: int | None = 1) -> list[Match]:
        """Scan one text held in memory.

        Without ``test`` the text is a log: Lucene queries are matched line by line. With
        ``test`` (a test id) it is that test's failure output and is one document, like a
        multi-line event in elastic-recheck: every clause is matched against the whole text.
        Regex fingerprints always search the whole text. ``file`` is the file the text came
        from (relative to the run folder); ``run_meta`` a :class:`ciscope.model.Run` or a
        mapping (see docs/fingerprints.md).
        """
        data = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
        ctx = FileContext(file, run_meta, test=test)
        scan = Scan(self, ctx, file, limit, whole=test is not None, window=None)
        scan.feed(data, b"", eof=True)
        return scan.result()

    def scan_file(self, path: str | os.PathLike[str], /, *, file: str | None = None, run_meta: Any = None,
                  max_bytes: int | None = None, limit: int | None = 1) -> list[Match]:
        """Scan a log file (plain, ``.gz``, ``.xz`` or ``.bz2``) in one streaming pass.

        ``file`` is the name reported and matched by ``filename``/``tags`` (default: the
        path as given). At most ``max_bytes`` bytes of (decompressed) text are read. An
        unreadable or corrupt file raises :class:`ciscope.errors.InputError`.
        """
        label = str(path) if file is None else file
        ctx = FileContext(label, run_meta)
        scan = Scan(self, ctx, label, limit, whole=False, window=self.window)
        if not scan.active:
            return []
        try:
            with open_log(path) as fh:
                for chunk, next_byte, eof in lookahead(line_chunks(fh, self.chunk_size, max_bytes)):
                    scan.feed(chunk, next_byte, eof=eof)
                    if scan.finished:
                        break
        except (OSError, EOFError, lzma.LZMAError) as exc:  # gzip.BadGzipFile is an OSError
            raise InputError(str(path), f"cannot read the log: {exc}",
                             place=f"after {scan.lines_before} lines") from exc
        return scan.result()


def available_backends() -> list[str]:
    """Scanner backends importable here, best first; ``"re"`` is always available."""
    return available()


def breadth(fp: Fingerprint, texts: Iterable[str | bytes]) -> float:
    """Share of ``texts`` (0.0–1.0) that ``fp`` could match: each text is one document
    (e.g. a stored failure excerpt) whose file and run are unknown, so clauses on those
    count as satisfied — an upper bound. Warn when it is high: the fingerprint is too broad.
    """
    total = hit = 0
    for text in texts:
        total += 1
        if fp.regex is not None:
            data = text.encode("utf-8", "replace") if isinstance(text, str) else text
            hit += fp.regex.search(data) is not None
        elif fp.query is not None:
            s = text if isinstance(text, str) else text.decode("utf-8", "replace")
            hit += fp.query.partial(TextDoc(s)) is not False
    return hit / total if total else 0.0
