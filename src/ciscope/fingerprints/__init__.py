"""Known-bug fingerprints: files, query language, one-pass matcher.

A fingerprint directory holds one file per bug (file name = bug id): elastic-recheck
Lucene queries (``query:``) or openQA auto_review regexes (``regex:`` / ``subject:``). See
docs/fingerprints.md for the file format, the field mapping and the exact semantics.

Public API::

    load_fingerprints(directory) -> (list[Fingerprint], list[rejection dict])
    load_fingerprint(path) -> Fingerprint                 # raises FingerprintError
    check(directory) -> list[{"file", "id", "ok", "error", "hint", "warnings"}]
    Fingerprint.from_query(q, id=…) / .from_regex(r, id=…) / .from_subject(s, id=…)
    Scanner(fingerprints, *, backend=None, chunk_size=2 MiB, window=1 MiB)
        .scan_text(text, *, file="", run_meta=None, test=None, limit=1) -> list[Match]
        .scan_file(path, *, file=None, run_meta=None, max_bytes=None, limit=1) -> list[Match]
        .backend  ("hyperscan" | "re2" | "re")
    available_backends() -> list[str]
    breadth(fingerprint, texts) -> float                   # share of texts it could match
    Match(fingerprint, file, line, text, test)

Example:

>>> fp = Fingerprint.from_query('message:"No space left on device" AND tags:"console"', id="1234")
>>> scanner = Scanner([fp], backend="re")
>>> scanner.scan_text("ok\\nwrite failed: No space left on device\\n", file="job-output.txt")
[Match(fingerprint='1234', file='job-output.txt', line=2, text='write failed: No space left on device', test=None)]
"""

from __future__ import annotations

from ciscope.fingerprints.loader import KEYS, check, load_fingerprint, load_fingerprints
from ciscope.fingerprints.model import Fingerprint, FingerprintError, Match
from ciscope.fingerprints.scanner import Scanner, available_backends, breadth

__all__ = [
    "KEYS",
    "Fingerprint",
    "FingerprintError",
    "Match",
    "Scanner",
    "available_backends",
    "breadth",
    "check",
    "load_fingerprint",
    "load_fingerprints",
]
