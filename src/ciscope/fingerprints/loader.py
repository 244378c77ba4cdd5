"""Fingerprint files: one per bug, the file name (without extension) is the bug id.

``<id>.yaml`` / ``<id>.yml`` hold a mapping with exactly one of ``query`` (Lucene,
elastic-recheck's format), ``regex`` (openQA auto_review flavour) or ``subject`` (a whole
openQA ticket subject ``… auto_review:"<regex>"[:retry]``), plus optional keys (see
:data:`KEYS`). ``<id>.txt`` holds just an openQA ticket subject line. Files named
``README*`` and hidden files are skipped; every other file is loaded or rejected.

Loading never raises for a bad file: it becomes a *rejection* ``{file, ok, error, hint}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ciscope.fingerprints.lucene import Query, compile_query
from ciscope.fingerprints.model import MIN_LITERAL_CORE, Fingerprint, FingerprintError, Invalid
from ciscope.fingerprints.regex import compile_regex, parse_subject

#: Every key a fingerprint file may hold, with what it means.
KEYS: dict[str, str] = {
    "query": "Lucene query (elastic-recheck syntax) matched per line / failure text",
    "regex": "openQA auto_review regex (PCRE) matched over the whole text",
    "subject": 'openQA ticket subject holding auto_review:"<regex>"[:retry][:force_result:<r>]',
    "title": "short description of the bug",
    "url": "link to the bug",
    "retry": "a run failing with this bug may be retried automatically",
    "force_result": "openQA force_result label value (recorded, not applied)",
    "suppress-graph": "leave out of the top-bugs graph (persistent infrastructure issue)",
    "suppress-notification": "do not notify, but still count as classified",
    "allow-nonvoting": "also match non-voting runs (otherwise voting:0 runs are skipped)",
    "test_ids": "match only runs where one of these tests failed",
    "scope": "Lucene query over run/file fields limiting where a regex applies",
    "resolved_at": "historical elastic-recheck key; ignored",
}
_BOOL_KEYS = ("retry", "suppress-graph", "suppress-notification", "allow-nonvoting")
_EXTENSIONS = (".yaml", ".yml", ".txt")


def _near(source: str, pos: int | None) -> str:
    if pos is None:
        return ""
    snippet = source[max(0, pos - 10):pos + 20].replace("\n", " ")
    return f"at character {pos} (near {snippet!r})"


def _fail(file: str, field: str, exc: Invalid, line: int | None, source: str = "") -> FingerprintError:
    near = _near(source, exc.pos)
    place = f"{field}, {near}" if near else field
    return FingerprintError(file, exc.reason, line=line, place=place, hint=exc.hint)


def _bool(data: Mapping[str, Any], key: str, file: str, line: int | None) -> bool:
    value = data.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise FingerprintError(file, f"{key} must be true or false, not {value!r}", line=line, place=key,
                               hint=f"{key}: true")
    return value


def _text(data: Mapping[str, Any], key: str, file: str, line: int | None) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise FingerprintError(file, f"{key} must be text, not {type(value).__name__}", line=line, place=key,
                               hint=f"{key}: some text")
    return str(value).strip()


def from_mapping(data: Mapping[str, Any], *, id: str, file: str,
                 lines: Mapping[str, int] | None = None) -> Fingerprint:
    """Build a fingerprint from a parsed file. Raises :class:`FingerprintError`."""
    lines = lines or {}
    where = file or id
    if not isinstance(data, Mapping):
        raise FingerprintError(where, f"a fingerprint file holds a mapping, not {type(data).__name__}",
                               hint="write key: value lines, e.g. query: message:\"error\"")
    kinds = [k for k in ("query", "regex", "subject") if data.get(k) not in (None, "")]
    if not kinds:
        raise FingerprintError(where, "no query, regex or subject", hint="add query: (Lucene) or regex: (auto_review)")
    if len(kinds) > 1:
        raise FingerprintError(where, f"{' and '.join(kinds)} given together", line=lines.get(kinds[1]),
                               hint="one fingerprint has one of query, regex, subject; split it into two files")
    kind = kinds[0]
    warnings: list[str] = []
    for key in data:
        if key in ("suppress_graph", "suppress_notification", "allow_nonvoting", "test-ids"):
            continue
        if key == "resolved_at":
            warnings.append("resolved_at is a historical elastic-recheck key and is ignored")
        elif key not in KEYS:
            warnings.append(f"unknown key {key!r} ignored (known: {', '.join(KEYS)})")
    # accept underscore spellings of the dashed keys
    norm = dict(data)
    for dashed in ("suppress-graph", "suppress-notification", "allow-nonvoting"):
        under = dashed.replace("-", "_")
        if under in norm and dashed not in norm:
            norm[dashed] = norm.pop(under)
    if "test-ids" in norm and "test_ids" not in norm:
        norm["test_ids"] = norm.pop("test-ids")

    flags = {key: _bool(norm, key, where, lines.get(key)) for key in _BOOL_KEYS}
    title = _text(norm, "title", where, lines.get("title"))
    url = _text(norm, "url", where, lines.get("url"))
    force_result = _text(norm, "force_result", where, lines.get("force_result")) or None
    test_ids = norm.get("test_ids") or []
    if isinstance(test_ids, str):
        test_ids = [test_ids]
    if not isinstance(test_ids, list) or not all(isinstance(t, str) and t.strip() for t in test_ids):
        raise FingerprintError(where, "test_ids must be a list of test ids", line=lines.get("test_ids"),
                               place="test_ids", hint="test_ids:\n  - package.Class.test_name")

    raw = norm[kind]
    if not isinstance(raw, str):
        raise FingerprintError(where, f"{kind} must be text, not {type(raw).__name__}", line=lines.get(kind),
                               place=kind, hint=f"quote it: {kind}: '...'")
    query: Query | None = None
    scope: Query | None = None
    regex = None
    source = raw
    if kind == "query":
        if norm.get("scope") is not None:
            raise FingerprintError(where, "scope is for regex fingerprints", line=lines.get("scope"), place="scope",
                                   hint="put the conditions into the query with AND")
        try:
            query = compile_query(raw, voting_suffix_warning=not flags["allow-nonvoting"])
        except Invalid as exc:
            raise _fail(where, "query", exc, lines.get("query"), raw) from None
        warnings.extend(query.warnings)
        if query.never:
            warnings.append("the query can never match (see the warnings above): the fingerprint is useless")
        elif query.anchors is None:
            warnings.append("the query needs no text (no message phrase outside NOT), so every line of "
                            "the files it applies to is checked in Python: slow, and probably too broad")
        elif query.core < MIN_LITERAL_CORE:
            warnings.append(f"too broad? the text a matching line must contain is only {query.core} characters "
                            f"(under {MIN_LITERAL_CORE})")
    else:
        if kind == "subject":
            try:
                source, retry, forced = parse_subject(raw.strip())
            except Invalid as exc:
                raise _fail(where, "subject", exc, lines.get("subject"), raw) from None
            flags["retry"] = flags["retry"] or retry
            force_result = force_result or forced
            if not title:
                title = raw.split("auto_review:", 1)[0].strip()
        try:
            regex = compile_regex(source)
        except Invalid as exc:
            raise _fail(where, kind, exc, lines.get(kind), source) from None
        if len(source) < MIN_LITERAL_CORE:
            warnings.append(f"too broad? the regex is only {len(source)} characters; openQA ignores "
                            f"auto_review regexes under {MIN_LITERAL_CORE}")
        if norm.get("scope") is not None:
            if not isinstance(norm["scope"], str):
                raise FingerprintError(where, "scope must be a Lucene query string", line=lines.get("scope"),
                                       place="scope", hint='scope: tags:"autoinst-log.txt"')
            try:
                scope = compile_query(norm["scope"], scope=True)
            except Invalid as exc:
                raise _fail(where, "scope", exc, lines.get("scope"), norm["scope"]) from None
            warnings.extend(f"scope: {w}" for w in scope.warnings)
    return Fingerprint(
        id=id, kind="query" if kind == "query" else "regex", source=source, query=query, regex=regex,
        scope=scope, title=title, url=url, retry=flags["retry"], force_result=force_result,
        suppress_graph=flags["suppress-graph"], suppress_notification=flags["suppress-notification"],
        allow_nonvoting=flags["allow-nonvoting"], test_ids=tuple(t.strip() for t in test_ids),
        file=file, warnings=tuple(warnings),
    )


def _read_yaml(path: str, text: str) -> tuple[Any, dict[str, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FingerprintError(path, "the file is empty", hint='write e.g. query: message:"some error"')
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        place = f"column {mark.column + 1}" if mark else None
        reason = f"YAML syntax error: {exc.problem or exc.context}"
        hint = "quote the query with '…' or use a block scalar (query: >-) when it holds : \" or #"
        raise FingerprintError(path, reason, line=line, place=place, hint=hint) from None
    except yaml.YAMLError as exc:
        raise FingerprintError(path, f"YAML error: {exc}", hint="check the file is valid YAML") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines[str(key.value)] = key.start_mark.line + 1
    return data, lines


def load_fingerprint(path: str | os.PathLike[str]) -> Fingerprint:
    """Load one fingerprint file. Raises :class:`FingerprintError` (file, line, hint)."""
    p = Path(path)
    file = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FingerprintError(file, f"cannot read: {exc.strerror or exc}", hint="check the path") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FingerprintError(file, f"not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8") from None
    stem = p.stem
    if p.suffix.lower() == ".txt":
        subject = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        if not subject:
            raise FingerprintError(file, "the file is empty",
                                   hint='a .txt fingerprint holds an openQA subject: title auto_review:"regex"')
        return from_mapping({"subject": subject}, id=stem, file=file, lines={"subject": 1})
    data, lines = _read_yaml(file, text)
    return from_mapping(data, id=stem, file=file, lines=lines)


def _files(directory: str | os.PathLike[str]) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise FingerprintError(str(d), "not a directory", hint="give the folder holding one <bug>.yaml per bug")
    out = []
    for p in sorted(d.iterdir()):
        if p.name.startswith(".") or p.name.upper().startswith("README") or not p.is_file():
            continue
        if p.suffix.lower() in _EXTENSIONS:
            out.append(p)
    return out


def _rejection(exc: FingerprintError) -> dict[str, Any]:
    where = []
    if exc.line is not None:
        where.append(f"line {exc.line}")
    if exc.place:
        where.append(exc.place)
    error = (", ".join(where) + ": " if where else "") + exc.reason
    return {"file": exc.file, "ok": False, "error": error, "hint": exc.hint}


def load_fingerprints(directory: str | os.PathLike[str]) -> tuple[list[Fingerprint], list[dict[str, Any]]]:
    """Load every fingerprint file of a directory.

    Returns ``(fingerprints, rejections)``: fingerprints sorted by file name; one rejection
    ``{"file", "ok": False, "error", "hint"}`` per file that cannot be used. Only a missing
    directory raises (:class:`FingerprintError`).
    """
    fingerprints: list[Fingerprint] = []
    rejections: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in _files(directory):
        try:
            fp = load_fingerprint(path)
        except FingerprintError as exc:
            rejections.append(_rejection(exc))
            continue
        if fp.id in seen:
            rejections.append({"file": str(path), "ok": False,
                               "error": f"duplicate id {fp.id!r}: {seen[fp.id]} has it already",
                               "hint": "one file per bug: merge or rename one of them"})
            continue
        seen[fp.id] = str(path)
        fingerprints.append(fp)
    return fingerprints, rejections


def check(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Lint a fingerprint directory: one entry per file, in file-name order.

    Each entry is ``{"file", "id", "ok", "error", "hint", "warnings"}``; ``error`` and
    ``hint`` are None for a usable file, ``warnings`` lists non-fatal problems (too broad,
    unknown keys …). This is what ``ciscope fingerprints check DIR --json`` prints.
    """
    fingerprints, rejections = load_fingerprints(directory)
    entries: list[dict[str, Any]] = [
        {"file": fp.file, "id": fp.id, "ok": True, "error": None, "hint": None, "warnings": list(fp.warnings)}
        for fp in fingerprints
    ]
    for r in rejections:
        entries.append({"file": r["file"], "id": Path(r["file"]).stem, "ok": False, "error": r["error"],
                        "hint": r["hint"] or None, "warnings": []})
    entries.sort(key=lambda e: e["file"])
    return entries
