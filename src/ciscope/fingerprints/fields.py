"""The fields a Lucene fingerprint can name, and where their values come from.

elastic-recheck searched Elasticsearch documents, one per log line (or per multi-line event),
each carrying the line as ``message`` plus the build's metadata (``build_name``, ``tags`` …).
ciscope builds the same kind of document from what it has: the line or failure text being
scanned, the file it came from, and the run's metadata. Field names of both vocabularies are
accepted; :data:`FIELDS` is the one table saying, per field, its names, whether it is
analysed text or a keyword, and where ciscope takes its value from.

Like in elastic-recheck's logstash index, only ``message`` is **text**: the value and the
query term are cut into lower-cased words by :func:`tokenize` (an approximation of Lucene's
StandardTokenizer, Unicode UAX #29 word boundaries). Every other field is a **keyword**: its
value is one whole string, matched whole (a wildcard applies to the whole value).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One queryable field: its canonical ``key``, the ``names`` a query may use for it
    (elastic-recheck's first), ``kind`` (``text``: analysed into words; ``keyword``: one
    whole value), ``level`` (``line``: depends on the line; ``file``; ``run``) and ``source``
    (where ciscope takes the value from)."""

    key: str
    names: tuple[str, ...]
    kind: Literal["text", "keyword"]
    level: Literal["line", "file", "run"]
    source: str


# elastic-recheck's index (openstack-infra/puppet-elasticsearch files/elasticsearch.mapping.json,
# 2013-2019, Elasticsearch 0.90.x then 1.7.x): a dynamic template maps *every* string field
# "index": "not_analyzed" (a keyword), except "message" and "@message" ("analyzed", the
# standard analyzer). The 2013 documents nested the metadata under "@fields" ("path": "full"),
# so 2013 queries say "@fields.build_status": read as "build_status".
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("message", ("message", "@message"), "text", "line",
              "the line (log) or the whole failure text (test)"),
    FieldSpec("filename", ("filename", "file"), "keyword", "file",
              "the file's path relative to the run folder, with and without .gz/.xz/.bz2"),
    FieldSpec("tags", ("tags", "@tags"), "keyword", "file",
              "the path and base name without compression suffix, console, screen, syslog, failure"),
    FieldSpec("job", ("build_name", "job"), "keyword", "run", "run.job"),
    FieldSpec("build", ("build_uuid", "build_short_uuid", "build"), "keyword", "run", "run.build"),
    FieldSpec("status", ("build_status", "status"), "keyword", "run", "run.status"),
    FieldSpec("branch", ("build_branch", "branch"), "keyword", "run", "run.branch"),
    FieldSpec("queue", ("build_queue", "queue"), "keyword", "run", 'run.metadata["queue"]'),
    FieldSpec("repo", ("project", "repo"), "keyword", "run",
              'run.metadata["repo"] (or "project"), else the org_repo of run.pr'),
    FieldSpec("voting", ("voting",), "keyword", "run", 'run.metadata["voting"] (true/false as 1/0)'),
    FieldSpec("worker", ("build_node", "worker"), "keyword", "run", "run.worker"),
    FieldSpec("pr", ("build_change", "pr"), "keyword", "run", "run.pr, and its number after #"),
    FieldSpec("patchset", ("build_patchset", "patchset"), "keyword", "run", 'run.metadata["patchset"]'),
    FieldSpec("commit", ("build_ref", "commit"), "keyword", "run", "run.commit"),
    FieldSpec("url", ("log_url", "url"), "keyword", "run", "run.url"),
    FieldSpec("test", ("test",), "keyword", "file", "the test id, when scanning a test's failure text"),
    FieldSpec("loglevel", ("loglevel",), "keyword", "line", "parsed from an oslo.log/journald/syslog line"),
    FieldSpec("module", ("module",), "keyword", "line", "parsed from an oslo.log/journald line"),
    FieldSpec("pid", ("pid",), "keyword", "line", "parsed from an oslo.log/journald/syslog line"),
    FieldSpec("syslog_program", ("syslog_program",), "keyword", "line", "parsed from a journald/syslog line"),
    # elastic-recheck index fields ciscope has no own source for: run.metadata[name]
    *(FieldSpec(f"meta.{name}", (name,), "keyword", "run", f'run.metadata["{name}"]')
      for name in ("node_provider", "node_region", "build_master", "build_zuul_url", "build_newrev",
                   "tenant", "zuul_executor", "error_pr", "host", "type")),
)

#: Query field name → canonical key (both vocabularies). ``variant.<key>``, ``meta.<key>``
#: and ``@fields.<name>`` are handled by :func:`canonical_field`.
FIELD_ALIASES: dict[str, str] = {name: spec.key for spec in FIELDS for name in spec.names}

#: Canonical keys of the analysed text fields; every other field is a keyword.
TEXT_FIELDS = frozenset(spec.key for spec in FIELDS if spec.kind == "text")

#: Fields whose value depends on the line (or failure text) being matched; the others are
#: known per file and run.
LINE_FIELDS = frozenset(spec.key for spec in FIELDS if spec.level == "line")

#: Log files that elastic-recheck tagged ``console``: the job's own console output.
#: Prow's build-log.txt and openQA's autoinst-log.txt play the same part.
CONSOLE_LOGS = frozenset({
    "console.html", "console.txt", "console.log", "consoletext", "job-output.txt",
    "job-output.json", "build-log.txt", "autoinst-log.txt",
})

_COMPRESSED = (".gz", ".xz", ".bz2")


class _Unknown(list):  # type: ignore[type-arg]
    """A field value that is not known yet (three-valued evaluation)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

# Lucene's StandardTokenizer keeps letters, digits and "_" together, and joins two letter
# runs across ":" "." "'" (UAX #29 MidLetter/MidNumLet, rules WB6/7) and two digit runs
# across "." "," ";" "'" (MidNum, rules WB11/12). Everything else separates words.
_TOKEN = re.compile(r"\w+(?:(?:(?<=[^\W\d_])[:.'\u2019\u00b7](?=[^\W\d_])|(?<=\d)[.,;'\u2019](?=\d))\w+)*")

# oslo.log:  2013-10-18 16:06:29.859 22253 ERROR cinder.volume.manager [req-…] …
_OSLO = re.compile(r"(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)? )"
                   r"(?P<pid>\d+) (?P<loglevel>[A-Z]+) (?P<module>[\w.]+)")
# journald / syslog:  Jan 28 19:22:41.123456 host devstack@c-bak.service[1234]: ERROR oslo_messaging.rpc.server …
_SYSLOG = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ (?P<program>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: "
                     r"(?:(?P<loglevel>[A-Z]{3,8}) (?P<module>[a-z_][\w]*(?:\.[\w]+)+) )?")


#: Most bytes (of UTF-8) of spaces and punctuation allowed between two words of a phrase.
#: Elasticsearch has no such limit; ciscope has one so that one bounded pattern per phrase
#: can prefilter every match (unbounded gaps make Hyperscan three times slower).
GAP_BOUND = 32


class Tokens(list):  # type: ignore[type-arg]
    """Words of a value, with ``gaps[i]``: bytes between word i and word i+1."""

    __slots__ = ("gaps",)

    def __init__(self, words: list[str], gaps: list[int]):
        super().__init__(words)
        self.gaps = gaps


def words_and_gaps(text: str) -> Tokens:
    """Like :func:`tokenize`, plus the size of the gap after each word (UTF-8 bytes)."""
    words: list[str] = []
    gaps: list[int] = []
    prev = -1
    for m in _TOKEN.finditer(text):
        if prev >= 0:
            gap = text[prev:m.start()]
            gaps.append(len(gap) if gap.isascii() else len(gap.encode("utf-8", "replace")))
        words.append(m.group().lower())
        prev = m.end()
    return Tokens(words, gaps)


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` the way Elasticsearch's standard analyzer cuts them.

    >>> tokenize("CalledProcessError: Command 'openssl' returned non-zero")
    ['calledprocesserror', 'command', 'openssl', 'returned', 'non', 'zero']
    >>> tokenize("java.io.IOException at 10.0.0.1, couldn't")
    ['java.io.ioexception', 'at', '10.0.0.1', "couldn't"]
    """
    return _TOKEN.findall(text.lower())


def canonical_field(name: str) -> str | None:
    """The canonical key of a query field name, or None when ciscope has no such field."""
    if name.startswith("@fields.") and len(name) > 8:
        name = name[8:]  # the 2013 logstash schema: "@fields.build_status" is "build_status"
    if name in FIELD_ALIASES:
        return FIELD_ALIASES[name]
    for prefix in ("variant.", "meta."):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name
    return None


def strip_compression(name: str) -> str:
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def file_fields(file: str, *, failure: bool = False) -> dict[str, list[str]]:
    """``filename`` and ``tags`` of a scanned file (a path relative to the run folder).

    ``tags`` holds the path, its base name (both without ``.gz``/``.xz``/``.bz2``), and
    ``console`` for a job's console log, ``screen`` for a devstack ``screen-*`` service log,
    ``syslog`` for a ``syslog.txt``.
    A test's failure text (``failure=True``) is tagged ``console`` and ``failure``: tempest
    and most runners print failures on the console, where elastic-recheck found them.
    """
    path = file.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    plain = strip_compression(path)
    base = plain.rsplit("/", 1)[-1]
    filenames = [path] if plain == path else [path, plain]
    tags = [plain] if base == plain else [plain, base]
    if base.lower() in CONSOLE_LOGS or failure:
        tags.append("console")
    if base.startswith("screen-"):
        tags.append("screen")
    if base.lower() in ("syslog.txt", "syslog.log", "syslog"):
        tags.append("syslog")  # elastic-recheck's logs/syslog.txt carried the tag "syslog"
    if failure:
        tags.append("failure")
    if not path:
        filenames = []
        tags = [t for t in tags if t]
    return {"filename": filenames, "tags": tags}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    enum_value = getattr(value, "value", None)
    if isinstance(enum_value, str):
        return enum_value
    return str(value)


def _values(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [t for t in (_text(v) for v in value) if t is not None]
    text = _text(value)
    return [] if text is None else [text]


def run_fields(run_meta: Any) -> tuple[dict[str, list[str]], frozenset[str] | None]:
    """Canonical run fields of ``run_meta`` and the set of failed test ids (None: unknown).

    ``run_meta`` is a :class:`ciscope.model.Run`, a mapping, or None. A mapping may use
    canonical keys or elastic-recheck names, plus ``variants`` (dict), ``metadata`` (dict,
    exposed as ``meta.<key>``) and ``failed_tests`` (test ids that failed in the run).
    """
    from ciscope.model import Run
    from ciscope.status import FAILED_STATUSES

    fields: dict[str, list[str]] = {}
    failed: frozenset[str] | None = None
    if run_meta is None:
        return fields, None
    if isinstance(run_meta, Run):
        meta = dict(run_meta.metadata)
        mapping: dict[str, Any] = {
            "job": run_meta.job, "build": run_meta.build, "status": run_meta.status,
            "branch": run_meta.branch, "pr": run_meta.pr, "worker": run_meta.worker,
            "commit": run_meta.commit, "url": run_meta.url, "variants": run_meta.variants,
            "metadata": meta,
        }
        for key in ("repo", "queue", "voting", "patchset"):
            if meta.get(key) is not None:
                mapping[key] = meta[key]
        if "repo" not in mapping and meta.get("project") is not None:
            mapping["repo"] = meta["project"]
        if "repo" not in mapping and run_meta.pr and "#" in run_meta.pr:
            mapping["repo"] = run_meta.pr.split("#", 1)[0]
        if run_meta.results:
            mapping["failed_tests"] = [r.test_id for r in run_meta.results
                                       if r.status in FAILED_STATUSES]
        run_meta = mapping
    if not isinstance(run_meta, Mapping):
        raise TypeError(f"run_meta must be a ciscope.model.Run, a mapping or None, not {type(run_meta).__name__}")
    for key, value in run_meta.items():
        if key == "variants" and isinstance(value, Mapping):
            for k, v in value.items():
                fields[f"variant.{k}"] = _values(v)
        elif key == "metadata" and isinstance(value, Mapping):
            for k, v in value.items():
                if isinstance(v, (str, int, float, bool)):
                    fields[f"meta.{k}"] = _values(v)
        elif key == "failed_tests":
            failed = frozenset(_values(value))
        else:
            canon = canonical_field(str(key))
            if canon is not None and canon not in LINE_FIELDS and canon not in ("filename", "tags"):
                vals = _values(value)
                if vals:
                    fields[canon] = vals
    # build_change is the change number: "org_repo#7" also answers to 7
    for pr in list(fields.get("pr", ())):
        number = pr.rsplit("#", 1)[-1]
        if number != pr and number not in fields["pr"]:
            fields["pr"].append(number)
    return fields, failed


def line_fields(line: str) -> dict[str, str]:
    """``loglevel``, ``module``, ``pid`` and ``syslog_program`` parsed from an oslo.log,
    journald or syslog formatted line (empty when the line has none of these formats)."""
    m = _OSLO.match(line)
    if m:
        return {"pid": m["pid"], "loglevel": m["loglevel"], "module": m["module"]}
    m = _SYSLOG.match(line)
    if m:
        out = {"syslog_program": m["program"]}
        for key in ("pid", "loglevel", "module"):
            if m[key]:
                out[key] = m[key]
        return out
    return {}


class FileContext:
    """What is known about every line of one scanned text: file and run fields."""

    __slots__ = ("_tokens", "failed_tests", "fields", "test")

    def __init__(self, file: str, run_meta: Any = None, *, test: str | None = None):
        self.fields: dict[str, list[str]] = file_fields(file, failure=test is not None)
        run, failed = run_fields(run_meta)
        self.fields.update(run)
        if test is not None:
            self.fields["test"] = [test]
            failed = (failed or frozenset()) | {test}
        self.failed_tests = failed
        self.test = test
        self._tokens: dict[str, list[list[str]]] = {}

    def values(self, field: str) -> Sequence[str] | None:
        if field in LINE_FIELDS:
            return UNKNOWN
        return self.fields.get(field)

    def tokens(self, field: str) -> list[list[str]] | None:
        if field in LINE_FIELDS:
            return UNKNOWN
        cached = self._tokens.get(field)
        if cached is None:
            vals = self.fields.get(field)
            if vals is None:
                return None
            cached = self._tokens[field] = [words_and_gaps(v) for v in vals]
        return cached


class _Text:
    """The fields of one text itself: ``message`` and what its first line says (shared by
    :class:`TextDoc` and :class:`LineDoc`), tokens cached per field."""

    __slots__ = ("_parsed", "_tokens", "text")

    def __init__(self, text: str):
        self.text = text
        self._tokens: dict[str, list[list[str]]] = {}
        self._parsed: dict[str, str] | None = None

    def _line_values(self, field: str) -> list[str] | None:
        if field == "message":
            return [self.text]
        if self._parsed is None:
            self._parsed = line_fields(self.text.split("\n", 1)[0])
        value = self._parsed.get(field)
        return None if value is None else [value]

    def _line_tokens(self, field: str) -> list[list[str]] | None:
        cached = self._tokens.get(field)
        if cached is None:
            vals = self._line_values(field)
            if vals is None:
                return None
            cached = self._tokens[field] = [words_and_gaps(v) for v in vals]
        return cached


class TextDoc(_Text):
    """A text with nothing known about where it came from: ``message`` (and the fields
    parsed from its first line) are known, every run and file field is ``UNKNOWN``."""

    __slots__ = ()

    def values(self, field: str) -> Sequence[str] | None:
        if field not in LINE_FIELDS:
            return UNKNOWN
        return self._line_values(field)

    def tokens(self, field: str) -> list[list[str]] | None:
        if field not in LINE_FIELDS:
            return UNKNOWN
        return self._line_tokens(field)


class LineDoc(_Text):
    """One document: a line (or a whole failure text) plus its file's context."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: FileContext, text: str):
        super().__init__(text)
        self.ctx = ctx

    def values(self, field: str) -> Sequence[str] | None:
        if field in LINE_FIELDS:
            return self._line_values(field)
        return self.ctx.fields.get(field)

    def tokens(self, field: str) -> list[list[str]] | None:
        if field in LINE_FIELDS:
            return self._line_tokens(field)
        return self.ctx.tokens(field)


class FieldsDoc:
    """A document given as a mapping of field → value(s), in either vocabulary.

    Elasticsearch ``_source`` records (2013 ``@fields``/``@message`` style or the later
    flat style) can be passed as they are: :meth:`from_es_source`.
    """

    __slots__ = ("_tokens", "fields")

    def __init__(self, fields: Mapping[str, Any]):
        self.fields: dict[str, list[str]] = {}
        for key, value in fields.items():
            canon = canonical_field(key)
            if canon is not None:
                self.fields.setdefault(canon, []).extend(_values(value))
        if "message" in self.fields:
            parsed = line_fields(self.fields["message"][0].split("\n", 1)[0]) if self.fields["message"] else {}
            for key, value in parsed.items():
                self.fields.setdefault(key, [value])
        self._tokens: dict[str, list[list[str]]] = {}

    @classmethod
    def from_es_source(cls, source: Mapping[str, Any]) -> FieldsDoc:
        flat: dict[str, Any] = {k: v for k, v in source.items() if k != "@fields"}
        if isinstance(source.get("@fields"), Mapping):
            flat.update(source["@fields"])
        return cls(flat)

    def values(self, field: str) -> Sequence[str] | None:
        return self.fields.get(field)

    def tokens(self, field: str) -> list[list[str]] | None:
        cached = self._tokens.get(field)
        if cached is None:
            vals = self.fields.get(field)
            if vals is None:
                return None
            cached = self._tokens[field] = [words_and_gaps(v) for v in vals]
        return cached


def field_kind(key: str) -> Literal["text", "keyword"]:
    """``text`` (analysed into words) or ``keyword`` (one whole value) for a canonical key."""
    return "text" if key in TEXT_FIELDS else "keyword"


def supported_fields() -> list[str]:
    """Every field name a query may use (``variant.<key>`` and ``meta.<key>`` besides)."""
    return sorted(k for k in FIELD_ALIASES if not k.startswith("@"))
