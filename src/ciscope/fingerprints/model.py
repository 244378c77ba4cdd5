"""What a fingerprint and a match are, and the error a bad fingerprint raises.

A :class:`Fingerprint` is one known bug: either a Lucene ``query`` (elastic-recheck's
format) compiled into our own matcher tree, or an openQA auto_review ``regex`` compiled
with Python's :mod:`re` over bytes. A :class:`Match` is one place where a fingerprint hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ciscope.errors import InputError

if TYPE_CHECKING:
    from ciscope.fingerprints.lucene import Query
    from ciscope.fingerprints.regex import Regex

#: Longest matched text kept in a :class:`Match` (bytes of UTF-8, cut on a character).
MATCH_TEXT_LIMIT = 1024

#: Shorter regexes (or literal cores of queries) draw a "too broad" warning. openQA's
#: auto-review ignores auto_review regexes shorter than this (``min_search_term``).
MIN_LITERAL_CORE = 16


class FingerprintError(InputError):
    """A fingerprint file (or query, or regex) cannot be used. Carries a ``hint``."""

    def __init__(self, file: str, reason: str, *, line: int | None = None, place: str | None = None,
                 hint: str = ""):
        self.hint = hint
        super().__init__(file, reason, line=line, place=place)


class Invalid(Exception):
    """Internal: raised by the query and regex compilers, turned into a FingerprintError
    (with the file and line) by the loader."""

    def __init__(self, reason: str, *, pos: int | None = None, hint: str = ""):
        self.reason = reason
        self.pos = pos
        self.hint = hint
        super().__init__(reason)


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """One known bug and how to recognise it.

    Exactly one of ``query`` (a compiled Lucene query) and ``regex`` (a compiled
    auto_review regex) is set; ``kind`` says which. ``source`` is the query or regex as
    written. ``scope`` is an optional Lucene query over run/file metadata that limits where
    a regex fingerprint applies. ``file`` is where it was loaded from ("" if built in code).
    """

    id: str
    kind: Literal["query", "regex"]
    source: str
    query: Query | None = None
    regex: Regex | None = None
    scope: Query | None = None
    title: str = ""
    url: str = ""
    retry: bool = False
    force_result: str | None = None
    suppress_graph: bool = False
    suppress_notification: bool = False
    allow_nonvoting: bool = False
    test_ids: tuple[str, ...] = ()
    file: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def flags(self) -> str:
        """Inline flags of a regex fingerprint (``"i"``, ``"m"``, ``"s"``, ``"x"``), else ""."""
        return self.regex.flags if self.regex is not None else ""

    @classmethod
    def from_query(cls, query: str, /, *, id: str = "query", **options: object) -> Fingerprint:
        """Build a fingerprint from a Lucene query string (raises :class:`FingerprintError`).

        ``options`` are other file keys, with underscores (``allow_nonvoting=True`` …)."""
        from ciscope.fingerprints.loader import from_mapping

        return from_mapping({"query": query, **options}, id=id, file="")

    @classmethod
    def from_regex(cls, regex: str, /, *, id: str = "regex", **options: object) -> Fingerprint:
        """Build a fingerprint from an auto_review regex (raises :class:`FingerprintError`)."""
        from ciscope.fingerprints.loader import from_mapping

        return from_mapping({"regex": regex, **options}, id=id, file="")

    @classmethod
    def from_subject(cls, subject: str, /, *, id: str = "subject", **options: object) -> Fingerprint:
        """Build a fingerprint from an openQA ticket subject ``… auto_review:"<regex>"[:retry]``."""
        from ciscope.fingerprints.loader import from_mapping

        return from_mapping({"subject": subject, **options}, id=id, file="")


@dataclass(frozen=True, slots=True)
class Match:
    """One hit: fingerprint ``fingerprint`` matched ``file`` at 1-based ``line``.

    ``text`` is the matched line (for a multi-line regex: the matched text), at most
    1 KiB. ``test`` is the test id when the scanned text was that test's failure output.
    """

    fingerprint: str
    file: str
    line: int
    text: str
    test: str | None = None
