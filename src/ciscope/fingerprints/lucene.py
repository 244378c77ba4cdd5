"""Lucene query strings (elastic-recheck's fingerprints) compiled into our own matcher.

The query is parsed by luqum and the tree translated, node by node, into a small matcher
(:class:`Query`); no query string is ever handed to another engine. The meaning is that of
Elasticsearch's ``query_string`` as elastic-recheck ran it (Elasticsearch 0.90/1.7, Lucene 4's
classic query parser, default operator OR, default field ``message``); what each construct
means is documented in docs/fingerprints.md ("Lucene queries"). In short:

- on the text field ``message``, ``"a phrase"`` and ``word`` match when the value, cut into
  lower-cased words like the standard analyzer does, holds the query's words contiguously
  and in order; ``wo*d`` / ``w?rd`` match one word;
- every other field is a keyword (one whole value, as in elastic-recheck's index): a term or
  phrase is the whole value, a wildcard applies to the whole value;
- ``AND``, ``OR``, ``NOT``, ``+``/``-`` and implicit operators at one parenthesis level make
  one flat boolean query, clause by clause, exactly as Lucene's classic parser does
  (``a b AND c`` is ``a +b +c``); mixing them draws a warning;
- a term or phrase with no word after analysis is dropped, as Lucene did;
- rejected, with a hint: fuzzy ``~``, proximity ``"…"~n``, ranges, ``/regex/`` terms,
  ``&&``/``||``/``!``.

Besides matching, a compiled query offers :meth:`Query.partial` (three-valued evaluation
with the line-level fields unknown, to skip files a query cannot match) and
:attr:`Query.anchors` (byte regexes a matching line must contain, for the prefilter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from luqum import tree as lq
from luqum.exceptions import ParseError
from luqum.parser import parser as _luqum_parser

from ciscope.fingerprints.fields import (
    GAP_BOUND,
    LINE_FIELDS,
    UNKNOWN,
    FieldsDoc,
    Tokens,
    canonical_field,
    field_kind,
    supported_fields,
    tokenize,
)
from ciscope.fingerprints.model import Invalid

DEFAULT_FIELD = "message"
# Characters that can sit inside a word (see fields._TOKEN): a wildcard term holding any
# other non-word character can never match a word.
_WORD_INNER = set(":.'\u2019\u00b7,;")


class Doc(Protocol):
    def values(self, field: str) -> Any: ...
    def tokens(self, field: str) -> list[list[str]] | None: ...


_GAP = rf"[^\w\n]{{1,{GAP_BOUND}}}"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A byte regex (ASCII, case-insensitive, never spanning a newline) that every line
    matching the query's text clauses contains. ``score`` ~ how selective it is."""

    pattern: str
    score: int


class _Node:
    __slots__ = ()

    def eval(self, doc: Doc) -> bool:
        raise NotImplementedError

    def peval(self, ctx: Doc) -> bool | None:
        raise NotImplementedError

    def anchors(self) -> list[Anchor] | None:
        return None

    def core(self) -> int:
        return 0

    def never(self) -> bool:
        """True when no document can match (so the fingerprint is useless)."""
        return False


class _Nothing(_Node):
    """Matches no document: a wildcard that can never match a word, a query left empty."""

    __slots__ = ()

    def eval(self, doc: Doc) -> bool:
        return False

    def peval(self, ctx: Doc) -> bool | None:
        return False

    def anchors(self) -> list[Anchor] | None:
        return []  # no line can match: nothing to look for

    def never(self) -> bool:
        return True


class _And(_Node):
    __slots__ = ("children",)

    def __init__(self, children: list[_Node]):
        self.children = children

    def eval(self, doc: Doc) -> bool:
        return all(c.eval(doc) for c in self.children)

    def peval(self, ctx: Doc) -> bool | None:
        result: bool | None = True
        for c in self.children:
            v = c.peval(ctx)
            if v is False:
                return False
            if v is None:
                result = None
        return result

    def anchors(self) -> list[Anchor] | None:
        best: list[Anchor] | None = None
        for c in self.children:
            a = c.anchors()
            if a == []:
                return []  # this child never matches a line: neither does the conjunction
            if a is not None and (best is None or min(x.score for x in a) > min(x.score for x in best)):
                best = a
        return best

    def core(self) -> int:
        return max((c.core() for c in self.children), default=0)

    def never(self) -> bool:
        return any(c.never() for c in self.children)


class _Or(_Node):
    __slots__ = ("children",)

    def __init__(self, children: list[_Node]):
        self.children = children

    def eval(self, doc: Doc) -> bool:
        return any(c.eval(doc) for c in self.children)

    def peval(self, ctx: Doc) -> bool | None:
        result: bool | None = False
        for c in self.children:
            v = c.peval(ctx)
            if v is True:
                return True
            if v is None:
                result = None
        return result

    def anchors(self) -> list[Anchor] | None:
        out: list[Anchor] = []
        for c in self.children:
            a = c.anchors()
            if a is None:
                return None
            out.extend(a)
        return out

    def core(self) -> int:
        return min((c.core() for c in self.children if not c.never()), default=0)

    def never(self) -> bool:
        return all(c.never() for c in self.children)


class _Not(_Node):
    __slots__ = ("child",)

    def __init__(self, child: _Node):
        self.child = child

    def eval(self, doc: Doc) -> bool:
        return not self.child.eval(doc)

    def peval(self, ctx: Doc) -> bool | None:
        v = self.child.peval(ctx)
        return None if v is None else not v


class _Bool(_Node):
    """Lucene's boolean query (one parenthesis level of the classic parser): with required
    clauses, all of them must match and the optional ones do not matter; otherwise one
    optional clause must (if there are any); no prohibited clause may. Only prohibited
    clauses: everything but those (Elasticsearch's ``fixNegativeQueryIfNeeded``)."""

    __slots__ = ("_all", "_positive", "must", "must_not", "should")

    def __init__(self, must: list[_Node], should: list[_Node], must_not: list[_Node]):
        self.must, self.should, self.must_not = must, should, must_not
        self._positive: _Node | None = _And(must) if must else (_Or(should) if should else None)
        parts: list[_Node] = [_Not(c) for c in must_not]
        if self._positive is not None:
            parts.append(self._positive)
        self._all = _And(parts)

    def eval(self, doc: Doc) -> bool:
        if self._positive is not None and not self._positive.eval(doc):
            return False
        return not any(c.eval(doc) for c in self.must_not)

    def peval(self, ctx: Doc) -> bool | None:
        return self._all.peval(ctx)

    def anchors(self) -> list[Anchor] | None:
        return None if self._positive is None else self._positive.anchors()

    def core(self) -> int:
        return 0 if self._positive is None else self._positive.core()

    def never(self) -> bool:
        return self._positive is not None and self._positive.never()


def _contains(seq: list[str], sub: tuple[str, ...]) -> bool:
    """``sub`` occurs in ``seq`` as consecutive words, at most GAP_BOUND bytes apart."""
    first, n = sub[0], len(sub)
    if n == 1:
        return first in seq
    gaps = seq.gaps if isinstance(seq, Tokens) else None
    i = -1
    while True:
        try:
            i = seq.index(first, i + 1)
        except ValueError:
            return False
        if tuple(seq[i:i + n]) == sub and (gaps is None or all(g <= GAP_BOUND for g in gaps[i:i + n - 1])):
            return True


def _ascii(s: str) -> bool:
    return s.isascii()


class _Phrase(_Node):
    __slots__ = ("field", "text", "words")

    def __init__(self, field: str, words: tuple[str, ...], text: str):
        self.field, self.words, self.text = field, words, text

    def eval(self, doc: Doc) -> bool:
        toks = doc.tokens(self.field)
        return toks is not None and any(_contains(t, self.words) for t in toks)

    def peval(self, ctx: Doc) -> bool | None:
        toks = ctx.tokens(self.field)
        if toks is UNKNOWN:
            return None
        return toks is not None and any(_contains(t, self.words) for t in toks)

    def anchors(self) -> list[Anchor] | None:
        if self.field not in LINE_FIELDS:
            return None
        parts: list[str] = []
        score = 0
        for i, w in enumerate(self.words):
            if _ascii(w):
                edge_l = r"\b" if i == 0 else ""
                edge_r = r"\b" if i == len(self.words) - 1 else ""
                parts.append(edge_l + re.escape(w) + edge_r)
                score += len(w)
            else:
                parts.append(r"\S+")
        if score == 0:
            return None
        return [Anchor(_GAP.join(parts), score)]

    def core(self) -> int:
        return len(self.text.strip()) if self.field == "message" else 0


class _Wildcard(_Node):
    __slots__ = ("field", "glob", "rx")

    def __init__(self, field: str, glob: str):
        self.field, self.glob = field, glob
        body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)
        self.rx = re.compile(body + r"\Z", re.DOTALL)

    def eval(self, doc: Doc) -> bool:
        toks = doc.tokens(self.field)
        if toks is None:
            return False
        match = self.rx.match
        return any(match(w) for t in toks for w in t)

    def peval(self, ctx: Doc) -> bool | None:
        toks = ctx.tokens(self.field)
        if toks is UNKNOWN:
            return None
        match = self.rx.match
        return toks is not None and any(match(w) for t in toks for w in t)

    def anchors(self) -> list[Anchor] | None:
        if self.field not in LINE_FIELDS:
            return None
        best = ""
        best_at = (False, False)
        for m in re.finditer(r"[^*?]+", self.glob):
            chunk = m.group()
            if _ascii(chunk) and len(chunk) > len(best):
                best, best_at = chunk, (m.start() == 0, m.end() == len(self.glob))
        if not best:
            return None
        pattern = (r"\b" if best_at[0] else "") + re.escape(best) + (r"\b" if best_at[1] else "")
        return [Anchor(pattern, len(best))]

    def core(self) -> int:
        return len(self.glob.replace("*", "").replace("?", "")) if self.field == "message" else 0


class _Keyword(_Node):
    """A keyword field holding ``value`` as one of its whole values (case-insensitive)."""

    __slots__ = ("field", "value")

    def __init__(self, field: str, value: str):
        self.field, self.value = field, value.lower()

    def _test(self, vals: Sequence[str] | None) -> bool:
        return vals is not None and any(v.lower() == self.value for v in vals)

    def eval(self, doc: Doc) -> bool:
        return self._test(doc.values(self.field))

    def peval(self, ctx: Doc) -> bool | None:
        vals = ctx.values(self.field)
        return None if vals is UNKNOWN else self._test(vals)

    def anchors(self) -> list[Anchor] | None:
        # a field parsed from the line (loglevel, module …): the line holds the value
        if self.field not in LINE_FIELDS or not self.value.isascii() or not self.value.strip():
            return None
        return [Anchor(re.escape(self.value), len(self.value))]


class _KeywordWildcard(_Node):
    """A keyword field with a whole value matching the wildcard (``*`` any characters,
    ``?`` one), case-insensitive."""

    __slots__ = ("field", "glob", "rx")

    def __init__(self, field: str, glob: str):
        self.field, self.glob = field, glob
        body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)
        self.rx = re.compile(body, re.DOTALL | re.IGNORECASE)

    def _test(self, vals: Sequence[str] | None) -> bool:
        return vals is not None and any(self.rx.fullmatch(v) for v in vals)

    def eval(self, doc: Doc) -> bool:
        return self._test(doc.values(self.field))

    def peval(self, ctx: Doc) -> bool | None:
        vals = ctx.values(self.field)
        return None if vals is UNKNOWN else self._test(vals)


class _Exists(_Node):
    __slots__ = ("field",)

    def __init__(self, field: str):
        self.field = field

    def eval(self, doc: Doc) -> bool:
        vals = doc.values(self.field)
        return bool(vals) and any(v != "" for v in vals)

    def peval(self, ctx: Doc) -> bool | None:
        vals = ctx.values(self.field)
        if vals is UNKNOWN:
            return None
        return bool(vals) and any(v != "" for v in vals)


class Query:
    """A compiled Lucene query. ``match(doc)`` decides one document."""

    __slots__ = ("anchors", "core", "fields", "never", "root", "source", "warnings")

    def __init__(self, source: str, root: _Node, fields: frozenset[str], warnings: tuple[str, ...] = ()):
        self.source = source
        self.root = root
        self.fields = fields
        #: byte regexes for the prefilter; None when a matching line needs no text (then
        #: every line of a file the query may apply to is checked).
        self.anchors: list[Anchor] | None = root.anchors()
        #: length of the shortest text a matching line must contain (0: none)
        self.core: int = root.core()
        #: where ciscope's reading needs the author's attention (mixed operators, dropped
        #: clauses …); each names the place in the query
        self.warnings = warnings
        #: no document can match this query
        self.never: bool = root.never()

    def match(self, doc: Doc | Mapping[str, Any]) -> bool:
        """Whether one document matches. A mapping is read as field → value(s), with
        elastic-recheck or ciscope field names."""
        if isinstance(doc, Mapping):
            doc = FieldsDoc(doc)
        return self.root.eval(doc)

    def partial(self, ctx: Doc) -> bool | None:
        """Three-valued evaluation: fields the document reports as ``UNKNOWN`` (for a
        file context: the line-level ones, ``message``, ``module`` …) make their clauses
        unknown. False means no document with these known fields can match."""
        return self.root.peval(ctx)

    @property
    def line_level(self) -> bool:
        return bool(self.fields & LINE_FIELDS)

    def __repr__(self) -> str:
        return f"Query({self.source!r})"


# --------------------------------------------------------------------------- compile

def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _pos(node: Any) -> int | None:
    pos = getattr(node, "pos", None)
    return pos if isinstance(pos, int) else None


_Conj = Literal["AND", "OR", "implicit"]
_Occur = Literal["must", "should", "must_not"]


def _conj(node: Any) -> _Conj | None:
    if isinstance(node, lq.AndOperation):
        return "AND"
    if isinstance(node, lq.OrOperation):
        return "OR"
    if isinstance(node, lq.UnknownOperation):
        return "implicit"
    return None


def _flatten(node: Any) -> list[tuple[_Conj | None, Any]]:
    """The clauses of one parenthesis level in query order, each with the conjunction
    written before it (None for the first). luqum nests AND/OR/implicit operations by its own
    precedence; Lucene's classic parser reads them as one flat list: undo the nesting."""
    kind = _conj(node)
    if kind is None:
        return [(None, node)]
    out: list[tuple[_Conj | None, Any]] = []
    for i, child in enumerate(node.children):
        items = _flatten(child)
        if i:
            items[0] = (kind, items[0][1])
        out.extend(items)
    return out


@dataclass(slots=True)
class _Clause:
    occur: _Occur
    node: _Node
    text: str


def _render(clauses: list[_Clause]) -> str:
    sign = {"must": "+", "should": "", "must_not": "-"}
    return " ".join(sign[c.occur] + (c.text if len(c.text) <= 60 else c.text[:57] + "...") for c in clauses)


def _at(node: Any) -> str:
    pos = _pos(node)
    return f"at character {pos}: " if pos is not None else ""


class _Compiler:
    def __init__(self, source: str, *, allow_line_fields: bool = True):
        self.source = source
        self.fields: set[str] = set()
        self.allow_line_fields = allow_line_fields
        self.warnings: list[str] = []

    def field(self, name: str, node: Any) -> str:
        if name == "_exists_":
            return name
        canon = canonical_field(name)
        if canon is None:
            canon = f"meta.{name}"
            self.warnings.append(
                f"{_at(node)}field {name!r} is neither in elastic-recheck's index nor one ciscope derives; "
                f"it is read from the run's metadata key {name!r}, and without it the clause never matches "
                f"(as in Elasticsearch, for a field it does not hold). Known fields: "
                + ", ".join(supported_fields()) + ", variant.<key>, meta.<key>, _exists_")
        if not self.allow_line_fields and canon in LINE_FIELDS:
            raise Invalid(f"field {name!r} describes a line; a scope may only name run and file fields",
                          pos=_pos(node), hint="put text conditions in the regex itself")
        self.fields.add(canon)
        return canon

    def compile(self, node: Any, field: str) -> _Node | None:
        """The matcher of one node, or None for a clause that analysis left empty (Lucene's
        classic parser drops those)."""
        if isinstance(node, lq.SearchField):
            name = self.field(node.name, node)
            if name == "_exists_":
                target = node.expr
                if not isinstance(target, lq.Word):
                    raise Invalid("_exists_ takes a field name", pos=_pos(node), hint="_exists_:build_name")
                canon = self.field(target.value, target)
                return _Exists(canon)
            return self.compile(node.expr, name)
        if isinstance(node, (lq.Group, lq.FieldGroup)):
            return self.level(node.expr, field)
        if isinstance(node, lq.Boost):
            return self.compile(node.expr, field)  # scoring only: no effect on matching
        if _conj(node) is not None or isinstance(node, (lq.Not, lq.Prohibit, lq.Plus)):
            return self.level(node, field)
        if isinstance(node, lq.Phrase):
            return self.phrase(node, field)
        if isinstance(node, lq.Word):
            return self.word(node, field)
        if isinstance(node, lq.Proximity):
            raise Invalid(f"proximity search {node} is not supported", pos=_pos(node),
                          hint="drop the ~N to match the exact phrase, or use a regex fingerprint")
        if isinstance(node, lq.Fuzzy):
            raise Invalid(f"fuzzy term {node} is not supported", pos=_pos(node),
                          hint="drop the ~ and spell the word, or use a wildcard (wor*) or a regex fingerprint")
        if isinstance(node, (lq.Range, lq.OpenRange)):
            raise Invalid(f"range {node} is not supported", pos=_pos(node),
                          hint="list the values with OR, or use a wildcard")
        if isinstance(node, lq.Regex):
            raise Invalid(f"regular-expression term {node} is not supported", pos=_pos(node),
                          hint="write a regex fingerprint (key 'regex') instead")
        raise Invalid(f"unsupported construct {type(node).__name__}: {node}", pos=_pos(node),
                      hint="use phrases, words, wildcards, AND/OR/NOT and parentheses")

    def clauses(self, node: Any, field: str) -> list[_Clause]:
        """One parenthesis level as Lucene's classic parser builds it (QueryParserBase.addClause,
        default operator OR): a clause after AND is required and makes the clause before it
        required too (unless prohibited); ``+`` requires, ``-``/``NOT`` prohibits; any other
        clause is optional. OR changes nothing (with default operator OR)."""
        items = _flatten(node)
        out: list[_Clause] = []
        for conj, operand in items:
            mods, inner = "", operand
            if isinstance(operand, (lq.Not, lq.Prohibit)):
                mods, inner = "-", operand.a
            elif isinstance(operand, lq.Plus):
                mods, inner = "+", operand.a
            if out and conj == "AND" and out[-1].occur != "must_not":
                out[-1].occur = "must"
            q = self.compile(inner, field)
            if q is None:
                continue  # dropped, but its AND still made the clause before it required
            occur: _Occur = "must_not" if mods == "-" else "must" if (mods == "+" or conj == "AND") else "should"
            out.append(_Clause(occur, q, str(operand).strip()))
        conjs = {c for c, _ in items[1:] if c is not None}
        signed_under_or = "OR" in conjs and any(isinstance(op, (lq.Not, lq.Prohibit, lq.Plus)) for _, op in items)
        if ("AND" in conjs and len(conjs) > 1) or signed_under_or:  # OR with implicit: all optional, as read
            names = " and ".join(sorted(conjs - {"implicit"}) + (["implicit"] if "implicit" in conjs else []))
            what = f"mixes {names} operators" if len(conjs) > 1 else "puts NOT, - or + under OR"
            note = (" (clauses without + only score: they do not change what matches)"
                    if any(c.occur == "must" for c in out) and any(c.occur == "should" for c in out) else "")
            self.warnings.append(
                f"{_at(node)}the query {what} without parentheses; read as Elasticsearch's query_string "
                f"did (Lucene's classic parser, default operator OR): {_render(out)}{note}; "
                "add parentheses to say what you mean")
        return out

    def level(self, node: Any, field: str) -> _Node | None:
        return _combine(self.clauses(node, field))

    def phrase(self, node: Any, field: str) -> _Node | None:
        text = _unescape(node.value[1:-1])
        self.fields.add(field)
        if field_kind(field) == "keyword":
            return _Keyword(field, text)
        words = tuple(tokenize(text))
        if not words:
            self._dropped(node, f"phrase {node.value}")
            return None
        return _Phrase(field, words, text)

    def _dropped(self, node: Any, what: str) -> None:
        self.warnings.append(
            f"{_at(node)}{what} has no word for the analyzer, so Elasticsearch dropped the clause "
            "(Lucene's classic parser skips a clause analysis leaves empty); ciscope drops it too")

    def word(self, node: Any, field: str) -> _Node | None:
        raw = node.value
        if raw in ("&&", "||") or raw.startswith("!"):
            raise Invalid(f"operator {raw[:2]!r} is not supported", pos=_pos(node),
                          hint="write AND, OR, NOT (upper case)")
        self.fields.add(field)
        keyword = field_kind(field) == "keyword"
        # wildcards are the unescaped * and ?
        pieces = re.findall(r"\\.|[*?]|[^\\*?]+", raw, flags=re.DOTALL)
        if any(p in ("*", "?") for p in pieces):
            glob = "".join(p if p in ("*", "?") else _unescape(p) for p in pieces).lower()
            if keyword:
                return _Exists(field) if glob == "*" else _KeywordWildcard(field, glob)
            bad = {ch for ch in glob if not (ch.isalnum() or ch in "_*?" or ch in _WORD_INNER)}
            if bad:
                chars = "".join(sorted(bad))
                self.warnings.append(
                    f"{_at(node)}wildcard {raw!r} on {field} can never match: {field} is analysed text, a "
                    f"wildcard is matched against single words, and no word holds {chars!r} "
                    "(Elasticsearch matched nothing either); use a phrase or a regex fingerprint")
                return _Nothing()
            return _Wildcard(field, glob)
        text = _unescape(raw)
        if keyword:
            if re.search(r"(?<!\\)/", raw):
                self.warnings.append(
                    f"{_at(node)}Lucene 4 (Elasticsearch 0.90/1.7) read the unescaped / in {raw!r} as the "
                    f'start of a /regular expression/ and refused the query; ciscope reads the whole value: '
                    f'quote it ({field}:"{text}")')
            return _Keyword(field, text)
        words = tuple(tokenize(text))
        if not words:
            self._dropped(node, f"term {raw!r}")
            return None
        if len(words) > 1:
            self.warnings.append(
                f"{_at(node)}unquoted term {raw!r} on {field} is cut into the words {' '.join(words)}, and "
                f'Elasticsearch matched any one of them (default operator OR); quote it for the phrase: '
                f'{field}:"{text}"')
            return _Or([_Phrase(field, (w,), w) for w in words])
        return _Phrase(field, words, text)


def _combine(clauses: list[_Clause]) -> _Node | None:
    if not clauses:
        return None
    if len(clauses) == 1 and clauses[0].occur != "must_not":
        return clauses[0].node
    by: dict[str, list[_Node]] = {"must": [], "should": [], "must_not": []}
    for c in clauses:
        by[c.occur].append(c.node)
    return _Bool(by["must"], by["should"], by["must_not"])


# Characters after which a "'" or '"' is not inside a term (Lucene's _TERM_CHAR excludes them).
_NOT_TERM = frozenset(' \t\n\r\u3000()[]{}:^~+-!"')


def _lucene_lexemes(source: str) -> tuple[str, list[int]]:
    """Rewrite the two spots where luqum's lexer refuses or splits what Lucene's classic
    lexer reads, keeping Lucene's meaning: a term may start with ``'`` in Lucene
    (``message:'Deadlock found'``), not in luqum, so that ``'`` is escaped (``\\'`` is ``'``);
    and ``"`` ends a term in Lucene but not in luqum (``x"…"`` is a term, then a phrase), so
    a space is put before it. Returns the text and the positions of the inserted characters."""
    out: list[str] = []
    inserted: list[int] = []
    size = 0
    prev = ""
    in_phrase = False
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n:
            out.append(source[i:i + 2])
            size += 2
            prev = source[i + 1]
            i += 2
            continue
        if in_phrase:
            in_phrase = ch != '"'
        elif ch == '"':
            if prev and prev not in _NOT_TERM:
                inserted.append(size)
                out.append(" ")
                size += 1
            in_phrase = True
        elif ch == "'" and (not prev or prev in _NOT_TERM):
            inserted.append(size)
            out.append("\\")
            size += 1
        out.append(ch)
        size += 1
        prev = ch
        i += 1
    return "".join(out), inserted


def _original_position(pos: int, inserted: list[int]) -> int:
    return pos - sum(1 for k in inserted if k < pos)


def _restore_positions(tree: Any, inserted: list[int]) -> None:
    stack = [tree]
    while stack:
        node = stack.pop()
        pos = getattr(node, "pos", None)
        if isinstance(pos, int):
            node.pos = _original_position(pos, inserted)
        stack.extend(node.children)


def compile_query(source: str, *, scope: bool = False, voting_suffix_warning: bool = False) -> Query:
    """Parse and compile a Lucene query string. Raises :class:`Invalid` with the position.

    ``scope=True`` compiles a scope: only run and file fields are allowed.
    ``voting_suffix_warning=True`` (for elastic-recheck query files without
    ``allow-nonvoting``) warns when elastic-recheck's loader, which appended `` AND voting:1``
    to such queries from December 2015 on, changed what the query matched there: the
    appended AND makes the last top-level clause required (``a OR b AND voting:1`` is
    ``a +b +voting:1``). ciscope keeps the meaning of the query as written.
    """
    if not source or not source.strip():
        raise Invalid("the query is empty", hint='e.g. message:"some error" AND tags:"console"')
    text, inserted = _lucene_lexemes(source)
    try:
        tree = _luqum_parser.parse(text)
    except ParseError as exc:
        msg = str(exc)
        m = re.search(r"position (\d+)", msg)
        pos = _original_position(int(m.group(1)), inserted) if m else None
        if m:
            msg = msg.replace(m.group(0), f"position {pos}")
        raise Invalid(f"Lucene syntax error: {msg}", pos=pos,
                      hint="check quotes and parentheses; escape special characters with \\ "
                           '(e.g. \\( \\: \\")') from exc
    except Exception as exc:  # luqum raises plain errors for some illegal characters
        raise Invalid(f"Lucene syntax error: {exc}",
                      hint="check quotes and parentheses; escape special characters with \\") from exc
    if inserted:
        _restore_positions(tree, inserted)
    compiler = _Compiler(source, allow_line_fields=not scope)
    quotes = [_original_position(k, inserted) for k in inserted if text[k] == "\\"]
    if quotes:
        compiler.warnings.append(
            f"at character {quotes[0]}: single quotes do not make a phrase in Lucene: 'a b' is the two terms "
            "'a and b' (read so here, as Elasticsearch did); write double quotes for a phrase")
    clauses = compiler.clauses(tree, DEFAULT_FIELD)
    optional = sum(c.occur == "should" for c in clauses)
    required = any(c.occur == "must" for c in clauses)
    if voting_suffix_warning and clauses and clauses[-1].occur == "should" and (optional > 1 or required):
        suffixed = [_Clause(c.occur, c.node, c.text) for c in clauses]
        suffixed[-1].occur = "must"
        compiler.warnings.append(
            "elastic-recheck (since 2015-12) appended ' AND voting:1' to this query, which made its last "
            f"clause required there: it ran as {_render(suffixed)}; ciscope keeps the query as written "
            f"({_render(clauses)}). Put the alternatives in parentheses to make both read the same")
    root = _combine(clauses)
    if root is None:
        raise Invalid("the query has no clause left: every term and phrase in it is empty after analysis",
                      hint='put letters or digits in it, e.g. message:"some error"')
    return Query(source, root, frozenset(compiler.fields), tuple(compiler.warnings))
