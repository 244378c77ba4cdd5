"""openQA auto_review regexes: Perl-compatible patterns, run the way openQA runs them.

auto-review runs ``grep -qPzo "<regex>" autoinst-log.txt``: PCRE over the *whole file as one
record*. So, exactly as with grep 3.8 here:

- ``.`` does not match a newline; ``\\n``, ``\\s``, ``[\\S\\s]``, ``[^x]`` do, so a pattern
  can span lines;
- ``^`` and ``\\A`` match only at the start of the text, ``$`` and ``\\z`` only at its very
  end (PCRE2_DOLLAR_ENDONLY), ``\\Z`` at the end or before a final newline; ``(?m)`` makes
  ``^``/``$`` match at line starts/ends;
- matching is case-sensitive unless ``(?i)``; ``\\w``, ``\\d``, ``\\s``, ``\\b`` are ASCII.

The pattern is translated to Python's :mod:`re` syntax and compiled over **bytes** (the
text's UTF-8): Perl-only spellings are rewritten (``(?<name>…)``, ``\\z``, ``\\Z``, ``\\h``,
``\\R``, ``\\Q…\\E``, ``\\x{…}``, ``[[:alpha:]]`` …); constructs Python cannot run
(recursion, ``\\K``, ``\\G``, ``\\p{…}``, branch reset, verbs, options in mid-pattern) are
rejected with a hint. Non-ASCII characters match as their UTF-8 byte sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ciscope.fingerprints.model import Invalid

try:  # Python 3.11+: the regex parser lives in re._parser (sre_parse before)
    from re import _constants as _sre_c  # type: ignore[attr-defined]
    from re import _parser as _sre_p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_p  # type: ignore[no-redef]

_POSIX = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\x0b\x0c", "blank": r" \t", "punct": r"!-/:-@\[-`{-~", "xdigit": "0-9A-Fa-f",
    "word": r"\w", "cntrl": r"\x00-\x1f\x7f", "print": r" -~", "graph": r"!-~", "ascii": r"\x00-\x7f",
}
_META = set("\\.^$*+?{}[]|()#")
_PY_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@dataclass(frozen=True, slots=True, eq=False)
class Regex:
    """A compiled auto_review regex.

    ``python`` is the compiled bytes pattern that decides a match; ``body`` and ``flags``
    are its Python-syntax source without leading inline flags; ``engine_body`` is the same
    without end-of-text anchors (a superset, what the prefilter engines compile).
    ``multiline``: a match can contain a newline. ``needs_context``: anchors or
    look-arounds make the result depend on bytes outside the match. ``literal``: the
    longest literal every match contains (prefilter fallback), with ``caseless``.
    """

    source: str
    body: str
    engine_body: str
    flags: str
    python: re.Pattern[bytes]
    multiline: bool
    needs_context: bool
    literal: bytes
    caseless: bool

    def search(self, data: bytes, pos: int = 0) -> re.Match[bytes] | None:
        return self.python.search(data, pos)


class _Translator:
    def __init__(self, src: str, *, engine: bool = False):
        self.src = src
        self.engine = engine  # True: drop end-of-text anchors (a superset, for prefilters)
        self.i = 0
        self.out: list[str] = []
        self.multiline_stack: list[bool] = []
        self.multiline = False

    def fail(self, reason: str, hint: str, pos: int | None = None) -> Invalid:
        return Invalid(reason, pos=self.i if pos is None else pos, hint=hint)

    def emit_char(self, ch: str) -> None:
        """A literal character outside a class."""
        if ch.isascii():
            self.out.append("\\" + ch if ch in _META else ch)
        else:
            # several bytes in a bytes pattern: group them so a quantifier applies to all
            self.out.append("(?:" + ch + ")")

    def run(self) -> tuple[str, str]:
        src = self.src
        flags = ""
        m = re.match(r"(?:\(\?([a-zA-Z]+)\))+", src)
        if m:
            for fm in re.finditer(r"\(\?([a-zA-Z]+)\)", m.group()):
                for f in fm.group(1):
                    if f not in _PY_FLAGS:
                        raise self.fail(f"inline option (?{f}) is not supported", "supported options: i m s x",
                                        fm.start())
                    flags += f if f not in flags else ""
            self.i = m.end()
        self.multiline = "m" in flags
        n = len(src)
        while self.i < n:
            ch = src[self.i]
            if ch == "\\":
                self.escape(in_class=False)
            elif ch == "[":
                self.char_class()
            elif ch == "(":
                self.group()
            elif ch == ")":
                self.out.append(")")
                self.multiline = self.multiline_stack.pop() if self.multiline_stack else self.multiline
                self.i += 1
            elif ch == "$" and not self.multiline:
                self.out.append("" if self.engine else r"\Z")  # PCRE2_DOLLAR_ENDONLY, as grep -P sets it
                self.i += 1
            elif ch in "^$.|*+?{}":
                self.out.append(ch)
                self.i += 1
            else:
                if "x" in flags and ch in " \t\n#":
                    self.out.append(ch)
                    self.i += 1
                    continue
                self.emit_char(ch)
                self.i += 1
        return "".join(self.out), flags

    def group(self) -> None:
        src, i = self.src, self.i
        rest = src[i:]
        self.multiline_stack.append(self.multiline)
        if rest.startswith("(*"):
            raise self.fail("backtracking verbs (*…) are not supported", "remove the verb")
        if not rest.startswith("(?"):
            self.out.append("(")
            self.i += 1
            return
        m = re.match(r"\(\?(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|P<([A-Za-z_]\w*)>)", rest)
        if m:
            self.out.append(f"(?P<{m.group(1) or m.group(2) or m.group(3)}>")
            self.i += m.end()
            return
        for prefix in ("(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>", "(?#"):
            if rest.startswith(prefix):
                if prefix == "(?#":
                    end = src.find(")", i)
                    if end < 0:
                        raise self.fail("unterminated comment (?#", "close it with )")
                    self.multiline_stack.pop()
                    self.i = end + 1
                    return
                self.out.append(prefix)
                self.i += len(prefix)
                return
        m = re.match(r"\(\?P=([A-Za-z_]\w*)\)", rest)
        if m:
            self.multiline_stack.pop()
            self.out.append(m.group())
            self.i += m.end()
            return
        m = re.match(r"\(\?\((?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|([A-Za-z_]\w*|\d+))\)", rest)
        if m:
            name = m.group(1) or m.group(2) or m.group(3)
            if name in ("R", "DEFINE") or name.startswith("R"):
                raise self.fail(f"conditional (?({name})…) is not supported", "rewrite without recursion")
            self.out.append(f"(?({name})")
            self.i += m.end()
            return
        if re.match(r"\(\?(?:R|[+-]?\d+|&\w+|P>\w+)\)", rest):
            raise self.fail("recursion and subroutine calls are not supported", "spell the sub-pattern out")
        m = re.match(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?(:|\))", rest)
        if m:
            on, off, ending = m.group(1), m.group(2) or "", m.group(3)
            for f in on + off:
                if f not in _PY_FLAGS:
                    raise self.fail(f"inline option {f!r} is not supported", "supported options: i m s x")
            if ending == ")":
                raise self.fail("inline options are only supported at the start of the pattern",
                                f"move (?{on}) to the start, or scope it: (?{on}:…)")
            if "m" in on:
                self.multiline = True
            if "m" in off:
                self.multiline = False
            self.out.append(m.group())
            self.i += m.end()
            return
        if rest.startswith("(?|"):
            raise self.fail("branch reset (?|…) is not supported", "use a plain group (?:…)")
        if rest.startswith("(?C"):
            raise self.fail("callouts (?C…) are not supported", "remove the callout")
        raise self.fail(f"unknown group syntax {rest[:4]!r}", "use (…), (?:…), look-arounds or named groups")

    def escape(self, *, in_class: bool) -> None:
        src, i = self.src, self.i
        if i + 1 >= len(src):
            raise self.fail("pattern ends with a backslash", "escape it: \\\\")
        c = src[i + 1]
        self.i = i + 2
        out = self.out
        if c == "Q":
            end = src.find("\\E", self.i)
            end = len(src) if end < 0 else end
            for ch in src[self.i:end]:
                if in_class:
                    if not ch.isascii():
                        raise self.fail("non-ASCII character inside [...]", "use an alternation (é|è)")
                    out.append(re.escape(ch))
                else:
                    self.emit_char(ch)
            self.i = end + 2
            return
        if c == "E":
            return
        if c == "x" and self.i < len(src) and src[self.i] == "{":
            end = src.find("}", self.i)
            if end < 0:
                raise self.fail("unterminated \\x{", "write \\x{HH}")
            code = int(src[self.i + 1:end] or "0", 16)
            self.i = end + 1
            self._codepoint(code, in_class)
            return
        if c == "o" and self.i < len(src) and src[self.i] == "{":
            end = src.find("}", self.i)
            code = int(src[self.i + 1:end] or "0", 8)
            self.i = end + 1
            self._codepoint(code, in_class)
            return
        if c == "c" and self.i < len(src):
            code = ord(src[self.i].upper()) ^ 0x40
            self.i += 1
            self._codepoint(code, in_class)
            return
        simple = {"h": r"[ \t]" if not in_class else r" \t", "H": r"[^ \t]",
                  "v": r"[\n\x0b\x0c\r]" if not in_class else r"\n\x0b\x0c\r", "V": r"[^\n\x0b\x0c\r]",
                  "e": r"\x1b", "N": r"[^\n]", "R": r"(?:\r\n|[\n\x0b\x0c\r])"}
        if c in simple:
            if in_class and c in "HVNR":
                raise self.fail(f"\\{c} is not supported inside [...]", "list the characters instead")
            if c == "N" and self.i < len(src) and src[self.i] == "{":
                raise self.fail("\\N{name} is not supported", "write the character or \\x{HH}")
            out.append(simple[c])
            return
        if not in_class:
            if c == "z":
                out.append("" if self.engine else r"\Z")
                return
            if c == "Z":
                out.append("" if self.engine else r"(?=\n?\Z)")
                return
            if c in "gk":
                m = re.match(r"\{(-?\d+|[A-Za-z_]\w*)\}|<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|(\d+)", src[self.i:])
                if not m:
                    raise self.fail(f"bad back-reference \\{c}", "write \\1 or \\k<name>")
                ref = next(g for g in m.groups() if g is not None)
                self.i += m.end()
                if ref.startswith("-"):
                    raise self.fail("relative back-references are not supported", "use \\N with the group number")
                out.append(f"\\{ref}" if ref.isdigit() else f"(?P={ref})")
                return
        if c == "s" and self.engine:
            # spelled out: RE2's \s lacks \v, and a prefilter must not miss what Python matches
            out.append(r"\t-\r " if in_class else r"[\t-\r ]")
            return
        if c in "pPX":
            raise self.fail(f"Unicode property \\{c} is not supported",
                            "list the characters instead (matching is on bytes)")
        if c in "KG":
            raise self.fail(f"\\{c} is not supported", "rewrite the pattern without it")
        if c.isascii() and not c.isalnum():
            out.append("\\" + c)
            return
        out.append("\\" + c)  # \d \w \s \b \n \t \1 … (Python rejects unknown letters)

    def _codepoint(self, code: int, in_class: bool) -> None:
        if code < 0x80:
            self.out.append(f"\\x{code:02x}")
        elif in_class:
            raise self.fail("non-ASCII character inside [...]", "use an alternation (é|è)")
        else:
            self.emit_char(chr(code))

    def char_class(self) -> None:
        src = self.src
        out = self.out
        start = self.i
        self.i += 1
        out.append("[")
        if self.i < len(src) and src[self.i] == "^":
            out.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(src):
                raise self.fail("unterminated character class [", "close it with ]", start)
            ch = src[self.i]
            if ch == "]" and not first:
                out.append("]")
                self.i += 1
                return
            first = False
            if ch == "[":
                m = re.match(r"\[:(\^?)([a-z]+):\]", src[self.i:])
                if m:
                    if m.group(2) not in _POSIX:
                        raise self.fail(f"unknown POSIX class [:{m.group(2)}:]", "e.g. [[:alpha:]] [[:digit:]]")
                    if m.group(1):
                        raise self.fail("negated POSIX classes are not supported", "negate the whole class [^…]")
                    out.append(_POSIX[m.group(2)])
                    self.i += m.end()
                    continue
                out.append(r"\[")
                self.i += 1
                continue
            if ch == "\\":
                self.escape(in_class=True)
                continue
            if not ch.isascii():
                raise self.fail("non-ASCII character inside [...]", "use an alternation (é|è)")
            out.append(ch if ch not in "&~|" else "\\" + ch)  # Python warns on set operations
            self.i += 1


# --------------------------------------------------------------------------- analysis

_NL = 10


def _class_has_newline(items: list) -> bool:
    negate = False
    hit = False
    for op, av in items:
        if op is _sre_c.NEGATE:
            negate = True
        elif op is _sre_c.LITERAL:
            hit |= av == _NL
        elif op is _sre_c.RANGE:
            hit |= av[0] <= _NL <= av[1]
        elif op is _sre_c.CATEGORY:
            hit |= av in (_sre_c.CATEGORY_SPACE, _sre_c.CATEGORY_NOT_WORD, _sre_c.CATEGORY_NOT_DIGIT,
                          _sre_c.CATEGORY_LINEBREAK)
        else:  # CHARSET / BIGCHARSET: be safe
            hit = True
    return hit != negate


_CONTEXT_ATS = None


def _analyse(sub, dotall: bool, state: dict) -> None:
    """Walk a parsed pattern: can it match a newline, and does it look outside its match."""
    global _CONTEXT_ATS
    if _CONTEXT_ATS is None:
        _CONTEXT_ATS = {_sre_c.AT_BEGINNING, _sre_c.AT_BEGINNING_STRING, _sre_c.AT_END,
                        _sre_c.AT_END_STRING, _sre_c.AT_END_LINE, _sre_c.AT_BOUNDARY,
                        _sre_c.AT_NON_BOUNDARY}
    for op, av in sub:
        if op is _sre_c.LITERAL:
            state["nl"] |= av == _NL
        elif op is _sre_c.NOT_LITERAL:
            state["nl"] |= av != _NL
        elif op is _sre_c.ANY:
            state["nl"] |= dotall
        elif op is _sre_c.IN:
            state["nl"] |= _class_has_newline(av)
        elif op is _sre_c.AT:
            state["ctx"] |= av in _CONTEXT_ATS
        elif op is _sre_c.BRANCH:
            for branch in av[1]:
                _analyse(branch, dotall, state)
        elif op is _sre_c.SUBPATTERN:
            add, rm = av[1], av[2]
            d = (dotall or bool(add & re.DOTALL)) and not (rm & re.DOTALL)
            _analyse(av[3], d, state)
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) or op is getattr(_sre_c, "POSSESSIVE_REPEAT", None):
            _analyse(av[2], dotall, state)
        elif op is getattr(_sre_c, "ATOMIC_GROUP", None):
            _analyse(av, dotall, state)
        elif op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            state["ctx"] = True
            _analyse(av[1], dotall, state)
        elif op is _sre_c.GROUPREF_EXISTS:
            state["ctx"] = True
            _analyse(av[1], dotall, state)
            if av[2] is not None:
                _analyse(av[2], dotall, state)
        elif op is _sre_c.GROUPREF:
            state["nl"] = True  # a back-reference repeats whatever its group matched
        elif op is _sre_c.CATEGORY:
            state["nl"] |= av in (_sre_c.CATEGORY_SPACE, _sre_c.CATEGORY_NOT_WORD, _sre_c.CATEGORY_NOT_DIGIT)


def _required_literals(sub, caseless: bool, out: list[tuple[bytes, bool]]) -> None:
    """Collect literal byte runs that every match of this sequence contains."""
    run = bytearray()

    def flush() -> None:
        if run:
            out.append((bytes(run), caseless))
            run.clear()

    for op, av in sub:
        if op is _sre_c.LITERAL:
            run.append(av)
            continue
        flush()
        if op is _sre_c.SUBPATTERN:
            add, rm = av[1], av[2]
            ci = (caseless or bool(add & re.IGNORECASE)) and not (rm & re.IGNORECASE)
            _required_literals(av[3], ci, out)
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) or op is getattr(_sre_c, "POSSESSIVE_REPEAT", None):
            if av[0] >= 1:
                _required_literals(av[2], caseless, out)
        elif op is getattr(_sre_c, "ATOMIC_GROUP", None):
            _required_literals(av, caseless, out)
    flush()


def compile_regex(source: str) -> Regex:
    """Translate and compile an auto_review regex. Raises :class:`Invalid` with a hint."""
    if not source:
        raise Invalid("the regex is empty", hint='e.g. regex: "backend died: .*VNC.*(timeout|timed out)"')
    translator = _Translator(source)
    body, flags = translator.run()
    pyflags = 0
    for f in flags:
        pyflags |= _PY_FLAGS[f]
    try:
        compiled = re.compile(body.encode("utf-8"), pyflags)
    except re.error as exc:
        raise Invalid(f"regex does not compile: {exc.msg}", pos=None,
                      hint="auto_review regexes are Perl-compatible; Python's re runs them "
                           "(look-behind must have a fixed width)") from exc
    except (OverflowError, RecursionError) as exc:
        raise Invalid(f"regex does not compile: {exc}", hint="simplify the pattern") from exc
    if compiled.search(b"") is not None:
        raise Invalid("regex matches the empty text, so it matches every log",
                      hint="make part of it mandatory (avoid a pattern made only of x* or x?)")
    parsed = _sre_p.parse(body.encode("utf-8"), pyflags)
    state = {"nl": False, "ctx": False}
    _analyse(parsed, bool(pyflags & re.DOTALL), state)
    lits: list[tuple[bytes, bool]] = []
    _required_literals(parsed, bool(pyflags & re.IGNORECASE), lits)
    literal, caseless = max(lits, key=lambda x: len(x[0]), default=(b"", False))
    engine_body, _ = _Translator(source, engine=True).run()
    return Regex(source=source, body=body, engine_body=engine_body, flags=flags, python=compiled, multiline=state["nl"],
                 needs_context=state["ctx"], literal=literal, caseless=caseless)


def parse_subject(subject: str) -> tuple[str, bool, str | None]:
    """The regex, retry flag and force_result of an openQA ticket subject.

    As os-autoinst/scripts reads it: the regex is the text after the first ``"`` up to the
    last ``"``; ``retry`` is set when ``":retry`` follows the opening quote's text;
    ``force_result`` is the word after ``:force_result:`` following the closing quote.
    """
    marker = 'auto_review:"'
    at = subject.find(marker)
    if at < 0:
        raise Invalid('no auto_review:"<regex>" in the subject',
                      hint='openQA subjects look like: title auto_review:"regex"[:retry][:force_result:softfailed]')
    first = subject.find('"')
    if first < at + len(marker) - 1:
        raise Invalid('a double quote comes before auto_review:"', pos=first,
                      hint="openQA takes the regex from the first double quote: remove the earlier one")
    last = subject.rfind('"')
    if last <= first:
        raise Invalid("the auto_review regex has no closing double quote", pos=first,
                      hint='close it: auto_review:"regex"')
    regex = subject[first + 1:last]
    after_first = subject[first + 1:]
    retry = '":retry' in after_first
    m = re.search(r":force_result:([a-z_]+)", subject[last:])
    return regex, retry, (m.group(1) if m else None)
