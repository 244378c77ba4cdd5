"""Lucene query strings (elastic-recheck's fingerprints) compiled into our own matcher.

The query is parsed by luqum and the tree translated, node by node, into a small matcher
(:class:`Query`); no query string is ever handed to another engine. What each construct
means is documented in docs/fingerprints.md ("Supported Lucene subset"); in short:

- ``field:"a phrase"`` and ``field:word`` match when the field's value, cut into
  lower-cased words like Elasticsearch's standard analyzer does, contains the query's words
  contiguously and in order (case-insensitive, punctuation-insensitive).
- ``field:wo*d`` / ``field:w?rd`` match one word of the value against the wildcard.
- ``AND``, ``OR``, ``NOT``, ``+``/``-``, implicit operators (Lucene's default ``OR``),
  parentheses and ``field:(a OR b)`` groups; ``_exists_:field``; boosts are ignored.
- Rejected, with a hint: fuzzy ``~``, proximity ``"…"~n``, ranges, ``/regex/`` terms,
  ``&&``/``||``/``!``, unknown fields, unquoted multi-word terms, and ``AND``/``OR`` mixed
  without parentheses (Lucene's classic parser and boolean algebra disagree there).

Besides matching, a compiled query offers :meth:`Query.partial` (three-valued evaluation
with the line-level fields unknown, to skip files a query cannot match) and
:attr:`Query.anchors` (byte regexes a matching line must contain, for the prefilter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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
            if a is not None and (best is None or min(x.score for x in a) > min(x.score for x in best)):
                best = a
        return best

    def core(self) -> int:
        return max((c.core() for c in self.children), default=0)


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
        return min((c.core() for c in self.children), default=0)


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
    """Lucene's boolean query for implicit operators and ``+``/``-``: with required
    clauses, all of them must match; otherwise one optional clause must (if there are
    any); no prohibited clause may."""

    __slots__ = ("must", "should", "must_not", "_positive")

    def __init__(self, must: list[_Node], should: list[_Node], must_not: list[_Node]):
        self.must, self.should, self.must_not = must, should, must_not
        self._positive: _Node | None = _And(must) if must else (_Or(should) if should else None)

    def eval(self, doc: Doc) -> bool:
        if self._positive is not None and not self._positive.eval(doc):
            return False
        return not any(c.eval(doc) for c in self.must_not)

    def peval(self, ctx: Doc) -> bool | None:
        parts: list[_Node] = [_Not(c) for c in self.must_not]
        if self._positive is not None:
            parts.append(self._positive)
        return _And(parts).peval(ctx)

    def anchors(self) -> list[Anchor] | None:
        return None if self._positive is None else self._positive.anchors()

    def core(self) -> int:
        return 0 if self._positive is None else self._positive.core()


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
    __slots__ = ("field", "words", "text")

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
        self.rx = re.compile(body + r"\Z", re.S)

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

    __slots__ = ("source", "root", "fields", "anchors", "core")

    def __init__(self, source: str, root: _Node, fields: frozenset[str]):
        self.source = source
        self.root = root
        self.fields = fields
        #: byte regexes for the prefilter; None when a matching line needs no text (then
        #: every line of a file the query may apply to is checked).
        self.anchors: list[Anchor] | None = root.anchors()
        #: length of the shortest text a matching line must contain (0: none)
        self.core: int = root.core()

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
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


def _pos(node: Any) -> int | None:
    pos = getattr(node, "pos", None)
    return pos if isinstance(pos, int) else None


class _Compiler:
    def __init__(self, source: str, *, allow_line_fields: bool = True):
        self.source = source
        self.fields: set[str] = set()
        self.allow_line_fields = allow_line_fields

    def field(self, name: str, node: Any) -> str:
        if name == "_exists_":
            return name
        canon = canonical_field(name)
        if canon is None:
            raise Invalid(f"unknown field {name!r}", pos=_pos(node),
                          hint="supported fields: " + ", ".join(supported_fields())
                          + ", variant.<key>, meta.<key>, _exists_")
        if not self.allow_line_fields and canon in LINE_FIELDS:
            raise Invalid(f"field {name!r} describes a line; a scope may only name run and file fields",
                          pos=_pos(node), hint="put text conditions in the regex itself")
        self.fields.add(canon)
        return canon

    def compile(self, node: Any, field: str) -> _Node:
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
            return self.compile(node.expr, field)
        if isinstance(node, lq.Boost):
            return self.compile(node.expr, field)  # scoring only: no effect on matching
        if isinstance(node, lq.AndOperation):
            self._check_mix(node, (lq.OrOperation, lq.UnknownOperation), "AND")
            children: list[_Node] = []
            for c in node.children:
                if isinstance(c, lq.Prohibit):
                    children.append(_Not(self.compile(c.a, field)))
                elif isinstance(c, lq.Plus):
                    children.append(self.compile(c.a, field))
                else:
                    children.append(self.compile(c, field))
            return _And(children)
        if isinstance(node, lq.OrOperation):
            self._check_mix(node, (lq.AndOperation, lq.UnknownOperation), "OR")
            for c in node.children:
                if isinstance(c, (lq.Not, lq.Prohibit, lq.Plus)):
                    raise Invalid("NOT, - or + directly under OR is ambiguous", pos=_pos(c),
                                  hint='Lucene reads "a OR NOT b" as "a AND NOT b": write that, or use parentheses')
            return _Or([self.compile(c, field) for c in node.children])
        if isinstance(node, lq.UnknownOperation):
            self._check_mix(node, (lq.AndOperation, lq.OrOperation), "an implicit operator")
            must: list[_Node] = []
            should: list[_Node] = []
            must_not: list[_Node] = []
            for c in node.children:
                if isinstance(c, (lq.Not, lq.Prohibit)):
                    must_not.append(self.compile(c.a, field))
                elif isinstance(c, lq.Plus):
                    must.append(self.compile(c.a, field))
                else:
                    should.append(self.compile(c, field))
            return _Bool(must, should, must_not)
        if isinstance(node, (lq.Not, lq.Prohibit)):
            return _Not(self.compile(node.a, field))
        if isinstance(node, lq.Plus):
            return self.compile(node.a, field)
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

    def _check_mix(self, node: Any, others: tuple[type, ...], name: str) -> None:
        for c in node.children:
            if isinstance(c, others):
                raise Invalid(f"{name} mixed with another operator without parentheses", pos=_pos(c),
                              hint="add parentheses: Lucene's classic parser does not give AND precedence "
                                   'over OR ("a AND b OR c" makes only a required)')

    def phrase(self, node: Any, field: str) -> _Node:
        text = _unescape(node.value[1:-1])
        words = tuple(tokenize(text))
        if not words:
            raise Invalid(f"phrase {node.value} has no searchable words", pos=_pos(node),
                          hint="Elasticsearch drops such a clause silently; put letters or digits in it")
        self.fields.add(field)
        return _Phrase(field, words, text)

    def word(self, node: Any, field: str) -> _Node:
        raw = node.value
        if raw in ("&&", "||") or raw.startswith("!"):
            raise Invalid(f"operator {raw[:2]!r} is not supported", pos=_pos(node),
                          hint="write AND, OR, NOT (upper case)")
        self.fields.add(field)
        # wildcards are the unescaped * and ?
        pieces = re.findall(r"\\.|[*?]|[^\\*?]+", raw, flags=re.S)
        if any(p in ("*", "?") for p in pieces):
            glob = "".join(p if p in ("*", "?") else _unescape(p) for p in pieces).lower()
            bad = {ch for ch in glob if not (ch.isalnum() or ch in "_*?" or ch in _WORD_INNER)}
            if bad:
                chars = "".join(sorted(bad))
                raise Invalid(f"wildcard term {raw!r} contains {chars!r}, which never occurs inside a word",
                              pos=_pos(node), hint="wildcards match single words; use a phrase or a regex fingerprint")
            return _Wildcard(field, glob)
        text = _unescape(raw)
        words = tuple(tokenize(text))
        if not words:
            raise Invalid(f"term {raw!r} has no searchable words", pos=_pos(node),
                          hint="Elasticsearch drops such a clause silently; put letters or digits in it")
        if len(words) > 1:
            raise Invalid(f"unquoted term {raw!r} holds several words", pos=_pos(node),
                          hint=f'quote it: {field}:"{text}" (Elasticsearch would match any one of the words)')
        return _Phrase(field, words, text)


def compile_query(source: str, *, scope: bool = False) -> Query:
    """Parse and compile a Lucene query string. Raises :class:`Invalid` with the position.

    ``scope=True`` compiles a scope: only run and file fields are allowed.
    """
    if not source or not source.strip():
        raise Invalid("the query is empty", hint='e.g. message:"some error" AND tags:"console"')
    try:
        tree = _luqum_parser.parse(source)
    except ParseError as exc:
        msg = str(exc)
        m = re.search(r"position (\d+)", msg)
        raise Invalid(f"Lucene syntax error: {msg}", pos=int(m.group(1)) if m else None,
                      hint="check quotes and parentheses; escape special characters with \\ "
                           '(e.g. \\( \\: \\")') from exc
    except Exception as exc:  # luqum raises plain errors for some illegal characters
        raise Invalid(f"Lucene syntax error: {exc}",
                      hint="check quotes and parentheses; escape special characters with \\") from exc
    compiler = _Compiler(source, allow_line_fields=not scope)
    root = compiler.compile(tree, DEFAULT_FIELD)
    return Query(source, root, frozenset(compiler.fields))
