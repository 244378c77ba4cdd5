"""Failure clusters: group failure texts nobody has explained yet, Kubernetes-triage style.

Three steps, each usable alone:

1. :func:`normalize` masks what changes from run to run (times, IPs, UUIDs, hex, pod and node
   names, ports, durations, temporary paths, numbers) so that the same failure gives the same
   text. It follows triage's ``summarize/text.go`` in rules and order — times first, then the
   noise, then long texts shortened — with typed masks (``<IP>``, ``<NUM>``, …) instead of
   triage's ``UNIQ1``, ``UNIQ2`` renaming, so a mask can later be turned back into a pattern.
2. :func:`cluster` groups failures by normalized text, mines token templates (Drain-like:
   texts of the same token count whose tokens agree in 80 % of the positions share a
   template, ``<*>`` where they differ, so that one failure family naming different
   components, hosts or objects is one cluster), then merges templates whose representative
   texts are within an edit distance of 10 % of their mean length (triage's rule, checked
   exactly with rapidfuzz among the candidates an index of word pairs proposes).
3. :func:`suggest_regex` proposes a fingerprint for a cluster: a regex (openQA ``regex:`` /
   auto-review style, PCRE-compatible) that matches every member's raw text and no other text
   it is given, or ``None``.

See ``docs/clusters.md`` for the rules, the JSON shape and the measured accuracy.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq, Levenshtein

__all__ = ["Cluster", "Variable", "cluster", "cluster_key", "normalize", "suggest_regex"]

MAX_TEXT = 10_000  # triage's max_cluster_text_length
TRUNCATED = "\n...[truncated]...\n"
_PRECUT = 100_000  # raw texts longer than this keep their first and last half of it (cost bound)

# --- normalization ---------------------------------------------------------------------------

_B = r"(?<![0-9A-Za-z])"  # not in the middle of a word or number
_E = r"(?![0-9A-Za-z])"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_WDAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?"
_CLOCK = r"\d\d?:\d\d:\d\d(?:[.,:]\d+)?"
_ZONE = r"(?:\s?(?:Z|[-+]\d\d:?\d\d|UTC|GMT|[ECMP][SD]T|CES?T)(?![A-Za-z]))?"
_POD = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet: no vowels, no 0 1 3

# One alternation, scanned once; at a given position the first alternative wins, so the order
# below is the priority order: times (triage step 1) before everything that eats digits.
# Speed (Python's engine tries every alternative at every position it starts from): every mask
# starts after a character that is not a letter or digit and the pattern consumes that
# character (and gives it back), so the engine skips the inside of words at C speed; then the
# next character picks the few alternatives that can start with it.
_HEX4 = "[0-9a-fA-F]{1,4}"
_UUID = rf"[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}(?:-\d+)?{_E}"
_IP6 = (rf"(?<![_:.])(?=[0-9a-fA-F]{{0,4}}:[0-9a-fA-F:])(?:(?:{_HEX4}:){{7}}{_HEX4}|(?:{_HEX4}:){{1,6}}:"
        rf"(?:{_HEX4}(?::{_HEX4}){{0,5}})?|::(?:{_HEX4}(?::{_HEX4}){{0,6}})?)(?![\w:])")
_HEXRUN = rf"(?=[0-9a-fA-F]{{7}})(?=[a-fA-F]*+\d)[0-9a-fA-F]*?[a-fA-F][0-9a-fA-F]*+{_E}"
_TMP = r"[^\s'\"`<>()\[\]{},;:]*"
_DIGIT_FIRST = [
    # the times, behind one cheap look-ahead: a short digit run and a date or clock separator
    ("TIMES", (rf"(?=\d{{1,8}}[-/.: T]\d|\d\d?\s+[A-Z])(?:"
              # "12 January 2017 11:34:35 -0700"
              rf"(?P<TIME1>\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\s+{_CLOCK}{_ZONE})"
              # "2006-01-02T15:04:05.000Z", "2015-10-18 18:01:47,978", "2016/9/27:20:30:31.455", "2005.06.03",
              # BGL's "2005-06-03-15.42.50.363779"
              rf"|(?P<TIME3>\d{{4}}(?P<sep>[-/.])\d\d?(?P=sep)\d\d?(?:-\d\d\.\d\d\.\d\d(?:\.\d+)?"
              rf"|[T ,:/-]+{_CLOCK}{_ZONE})?(?!\d))"
              # "20171223-22:15:29:606", "12/10/25 13:52:29.244", "15:04:05"
              rf"|(?P<TIME4>(?:\d{{8}}[-T ]?\d\d?:\d\d?:\d\d?(?:[.,:]\d+)?|(?:\d\d?/\d\d?/\d{{2,4}},?\s+)?{_CLOCK})"
              rf"{_ZONE}(?!\d)))")),
    ("UUID", _UUID),
    ("HEX", r"0x[0-9a-fA-F]+\b"),
    ("IP", r"\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)(?::\d{1,5}(?!\d))?"),
    ("IP6", _IP6),
    ("HEXRUN", _HEXRUN),
    # numbers, and durations when a unit follows: "30s", "1m30.5s", "250ms", "3 seconds"
    ("NUM", (rf"(?<!\d\.)\d+(?:\.\d+)*(?P<unit>(?:ns|us|µs|ms|s|m|h|d)(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))*"
            r"|\s?(?:(?:nano|micro|milli)?seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)\b)?"
            rf"{_E}")),
]
_HEX_LETTER_FIRST = [("UUID2", _UUID), ("IP62", _IP6), ("HEXRUN2", _HEXRUN)]
_LETTER_FIRST = [
    # "Jan  1 00:00:00.000", "Sun Dec 04 04:47:44 2005", "Mon, 12 January 2017 11:34:35 -0700"
    ("TIMES2", (rf"(?=[JFMASONDTWS][a-z])(?:(?P<TIME2>{_WDAY}{_MONTH}\s+\d{{1,2}},?\s+(?:\d{{4}}\s+)?{_CLOCK}{_ZONE}"
               rf"(?:\s+\d{{4}}(?!\d))?)|(?P<TIME5>{_WDAY}\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\s+{_CLOCK}{_ZONE}))")),
    # klog "I0102 15:04:05.000000"
    ("TIME6", rf"(?=[IWEF]\d)[IWEF]\d{{4}}\s+{_CLOCK}(?!\d)"),
    ("PATH", rf"(?=[A-Za-z]:\\)(?<![_.-])[A-Za-z]:\\(?:[^\\\s]+\\)*?(?:Temp|TEMP|tmp)\\{_TMP}"),
    # AWS "i-0abc…", "ip-10-0-1-2.ec2.internal", kind "kind-worker2", kops "nodes-us-east-1a-xxxx"
    ("NODE", (r"(?=[ikn])(?<![-_])(?:i-[0-9a-f]{8,17}|ip(?:-\d{1,3}){4}(?:\.[a-z0-9-]+)*\.internal|ip(?:-\d{1,3}){4}"
             r"|kind-(?:worker|control-plane)\d*|nodes-[a-z0-9-]*?-[a-z0-9]{4})(?![\w-])")),
    # GCE "minion-group-xxxx" / "default-pool-xxxx" (triage; the random part only)
    ("GCENODE", r"(?:minion-group|default-pool)-[-0-9a-z]{4,}"),
    ("GLUED", rf"[A-Za-z]++\d{{4,}}{_E}"),  # long digit runs ending a word: "build12345"
]
# generated pod-name suffixes: "coredns-5d78c9869d-x2x4z" -> "coredns-<POD>"
_POD_SUFFIX = rf"(?<=[a-z0-9]-)(?=[{_POD}-]{{0,15}}[a-z])(?:[{_POD}]{{6,10}}-)?[{_POD}]{{5}}(?![\w-])"


def _group(alternatives: list[tuple[str, str]]) -> str:
    return "|".join(f"(?P<{name}>{pattern})" for name, pattern in alternatives)


_NOISE = re.compile(
    rf"[^0-9A-Za-z](?:(?P<POD>{_POD_SUFFIX})|(?=\d)(?:{_group(_DIGIT_FIRST)})|(?=[a-fA-F:])(?:{_group(_HEX_LETTER_FIRST)})"
    rf"|(?=[A-Za-z])(?:{_group(_LETTER_FIRST)})"
    rf"|(?P<PATH2>(?<![_.-])/(?:private/var/folders|var/folders|var/tmp|tmp|dev/shm)[/\\]{_TMP}))")

_MASK = {"TIME1": "<TIME>", "TIME2": "<TIME>", "TIME3": "<TIME>", "TIME4": "<TIME>", "TIME5": "<TIME>",
         "TIME6": "<TIME>", "UUID": "<UUID>", "UUID2": "<UUID>", "PATH": "<PATH>", "PATH2": "<PATH>", "HEX": "<HEX>",
         "HEXRUN": "<HEX>", "HEXRUN2": "<HEX>", "IP": "<IP>", "IP6": "<IP>", "IP62": "<IP>", "NODE": "<NODE>",
         "POD": "<POD>", "DURATION": "<DURATION>"}


def _mask(m: re.Match[str]) -> str:
    kind = m.lastgroup
    found = m.group()
    if kind == "TIMES" or kind == "TIMES2":
        return found[0] + "<TIME>"
    if kind == "NUM":
        if m.group("unit"):
            return found[0] + "<DURATION>"
        if found[0] == ":" and (found[-1] != "]" and m.string.endswith(("localhost", "]"), 0, m.start())):
            return ":<PORT>"
        return found[0] + "<NUM>"
    if kind == "IP" and ":" in found[1:]:
        return found[0] + "<IP>:<PORT>"
    if kind == "GCENODE":
        return found[:14] + "<NODE>"
    if kind == "GLUED":
        return found[: len(found.rstrip("0123456789"))] + "<NUM>"
    if kind in ("IP6", "IP62") and not any(c.isdigit() for c in found):
        return found  # "dead::beef" and friends: not an address
    return found[0] + _MASK[kind]  # type: ignore[index]


_MAP = re.compile(r"map\[([^][]*)\]")


def _sort_map(m: re.Match[str]) -> str:
    return "map[" + " ".join(sorted(m.group(1).split(" "))) + "]"


def _drop_repeated_lines(text: str) -> str:
    lines = text.split("\n")
    kept = [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]
    return "\n".join(kept)


def normalize(text: str) -> str:
    """The text with its run-specific parts masked, as triage's ``normalize`` does.

    In order: times and dates → ``<TIME>``; UUIDs, temporary paths, hex, IPv4/IPv6 (with
    port), ports, node names, pod-name suffixes, durations, numbers → typed masks, in one
    pass; the items of each innermost Go ``map[...]`` sorted; then, when the result is longer
    than 10,000 characters, consecutive duplicate lines dropped and the middle cut out
    (first 5,000 + ``"\\n...[truncated]...\\n"`` + last 5,000).

    >>> normalize("dial tcp 10.0.3.7:6443: i/o timeout after 30s (pod etcd-7d9f8c6b5-x2x4z)")
    'dial tcp <IP>:<PORT>: i/o timeout after <DURATION> (pod etcd-<POD>)'
    """
    if len(text) > _PRECUT:
        text = text[: _PRECUT // 2] + "\n" + text[-_PRECUT // 2:]
    text = _NOISE.sub(_mask, " " + text)[1:]
    if "map[" in text:
        text = _MAP.sub(_sort_map, text)
    if len(text) > MAX_TEXT:
        text = _drop_repeated_lines(text)
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT // 2] + TRUNCATED + text[-(MAX_TEXT // 2):]
    return text


# --- clustering ------------------------------------------------------------------------------

Member = tuple[Any, Any, Any, Any]  # (run, job, test, time), as given


def cluster_key(text: str) -> str:
    """The id a failure text's group gets: 16 hex digits of the SHA-256 of :func:`normalize`."""
    return hashlib.sha256(normalize(text).encode()).hexdigest()[:16]


SIMILARITY = 0.8  # share of token positions that must agree for a text to join a template


@dataclass(slots=True)
class Variable:
    """A wildcard of a cluster's template: its token position, up to five example values (the
    most common first, as normalized tokens) and how many distinct values the cluster has there."""

    position: int
    examples: list[str]
    distinct: int

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "examples": self.examples, "distinct": self.distinct}


@dataclass(slots=True)
class Cluster:
    """Failures whose normalized texts share a template or are nearly the same.

    ``id`` is the first 16 hex digits of the SHA-256 of ``normalized``, the normalized text of
    the cluster's representative: its largest group of identical normalized texts (ties:
    the lexically smallest text). It does not depend on input order and stays the same on a
    re-run as long as that group stays the largest. ``members`` holds ``(run, job, test,
    time)`` per failure, in input order; ``example`` is the raw text of the representative's
    earliest failure (ties: lexically smallest text). ``template`` is the representative's
    template (``<*>`` where its texts differ) and ``variables`` the values seen at each
    ``<*>``.
    """

    id: str
    size: int
    runs: int
    tests: int
    jobs: int
    first_seen: Any
    last_seen: Any
    example: str
    normalized: str
    suggested_fingerprint: str | None
    members: list[Member] = field(default_factory=list, repr=False)
    variants: int = 1  # distinct normalized texts merged into this cluster
    group_ids: list[str] = field(default_factory=list)  # cluster_key of every merged group, id first
    template: str = ""  # the representative's template: its normalized tokens, <*> where its texts differ
    variables: list[Variable] = field(default_factory=list)  # per <*> of the template: the values seen there

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (``members`` left out). Times stay as they are (datetimes from the
        store, naive UTC): the JSON writer renders them as ISO 8601 with ``Z`` like every other
        time, and tables format them."""
        return {"id": self.id, "size": self.size, "runs": self.runs, "tests": self.tests, "jobs": self.jobs,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "example": self.example,
                "normalized": self.normalized, "template": self.template,
                "variables": [v.to_dict() for v in self.variables],
                "suggested_fingerprint": self.suggested_fingerprint}


def _variables(template: list[str], keys: list[tuple[list[str], int]], examples: int = 5) -> list[Variable]:
    """Per wildcard of ``template``: the most common values of its keys there (weighted by
    failures; ties: lexical order), at most ``examples``, and how many distinct values."""
    out = []
    for position, token in enumerate(template):
        if token != WILDCARD:
            continue
        counts: dict[str, int] = defaultdict(int)
        for tokens, weight in keys:
            counts[tokens[position]] += weight
        common = sorted(counts, key=lambda v: (-counts[v], v))[:examples]
        out.append(Variable(position=position, examples=common, distinct=len(counts)))
    return out


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def cluster(failures: Iterable[Any], /, *, max_distance: float = 0.10, similarity: float = SIMILARITY,
            suggest: bool = True) -> list[Cluster]:
    """Group failure texts into clusters, largest first (ties by id).

    Each failure is a mapping or an object with ``text`` and, optionally, the opaque keys
    ``run``, ``job``, ``test`` and ``time`` (anything comparable: first/last seen).

    Failures with the same :func:`normalize` text form a group. Groups are then visited
    largest first (ties: lexical order of the text). Each joins the template of its bucket
    (same token count and first token) with which at least ``similarity`` of its token
    positions agree, or starts one; each template's first group then joins the nearest
    cluster representative already chosen whose edit distance to it is below
    ``int(max_distance · (len(a) + len(b)) / 2)`` — triage's rule, which never merges texts
    when that limit is 1 or less — or becomes a new representative. ``similarity=1.0``
    leaves templates out (only identical token sequences share one). ``suggest=False``
    skips the fingerprints (the slowest step).
    """
    texts: list[str] = []
    members: list[Member] = []
    for record in failures:
        if isinstance(record, dict):
            get = record.get
            texts.append(get("text") or "")
            members.append((get("run"), get("job"), get("test"), get("time")))
        else:
            texts.append(_field(record, "text") or "")
            members.append((_field(record, "run"), _field(record, "job"), _field(record, "test"), _field(record, "time")))
    normalized: dict[str, str] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        key = normalized.get(text)
        if key is None:
            key = normalized[text] = normalize(text)
        groups[key].append(i)
    keys = sorted(groups, key=lambda k: (-len(groups[k]), k))
    leader, tokens, template_of, miner = _merge(keys, max_distance, similarity)
    parts: dict[int, list[int]] = defaultdict(list)  # leader position -> key positions
    for position, lead in enumerate(leader):
        parts[lead].append(position)

    def earliest(i: int) -> tuple[bool, Any, str]:
        time = members[i][3]
        return (time is None, 0 if time is None else time, texts[i])

    pool = _Pool()
    if suggest:
        for position, key in enumerate(keys):
            raw = {texts[i] for i in groups[key]}
            for text in {min(raw), max(raw)}:  # a sample of every group, for the "no non-member" check
                pool.add(text, leader[position])
    out = []
    for lead, positions in parts.items():
        indexes = sorted(i for p in positions for i in groups[keys[p]])
        times = [members[i][3] for i in indexes if members[i][3] is not None]
        fingerprint = None
        if suggest:
            fingerprint = _suggest([keys[p] for p in positions], sorted({texts[i] for i in indexes}), pool, lead)
        rep = keys[lead]
        template = [WILDCARD if wild else token for token, wild in zip(tokens[lead], miner.wildcards(template_of[lead]))]
        out.append(Cluster(
            id=hashlib.sha256(rep.encode()).hexdigest()[:16], size=len(indexes),
            runs=len({members[i][0] for i in indexes if members[i][0] is not None}),
            tests=len({members[i][2] for i in indexes if members[i][2] is not None}),
            jobs=len({members[i][1] for i in indexes if members[i][1] is not None}),
            first_seen=min(times) if times else None, last_seen=max(times) if times else None,
            example=texts[min(groups[rep], key=earliest)], normalized=rep, suggested_fingerprint=fingerprint,
            members=[members[i] for i in indexes], variants=len(positions),
            group_ids=[hashlib.sha256(keys[p].encode()).hexdigest()[:16] for p in sorted(positions, key=lambda p: p != lead)],
            template=_render(template),
            variables=_variables(template, [(tokens[p], len(groups[keys[p]])) for p in positions
                                            if template_of[p] == template_of[lead]])))
    out.sort(key=lambda c: (-c.size, c.id))
    return out


def _merge(keys: list[str], max_distance: float, similarity: float
           ) -> tuple[list[int], list[list[str]], list[int], _Templates]:
    """Cluster ``keys`` (already in their visiting order): the position of each key's
    representative, each key's tokens, each key's template and the mined templates.

    1. Templates (:class:`_Templates`): keys of the same token count whose tokens agree in at
       least ``similarity`` of the positions share a template; the first key of a template is
       its representative.
    2. The edit-distance floor (triage's rule): each template's representative joins the
       nearest earlier cluster representative within ``max_distance`` (Levenshtein, exact),
       else it is a cluster representative itself. Only representatives of similar length
       that share one of its rarer word pairs are compared (an inverted index; see
       :data:`_PROBES`), so a text that merges with nothing costs a bounded number of look-ups.
    """
    miner = _Templates(similarity)
    tokens = [_tokens(key) for key in keys]
    ids = [miner.ids(words) for words in tokens]
    template_of = [miner.add(row, words) for row, words in zip(ids, tokens)]
    first: dict[int, int] = {}
    for position, template in enumerate(template_of):
        first.setdefault(template, position)
    leader = list(range(len(keys)))
    heads = sorted(first.values())
    features = {p: _features(ids[p]) for p in heads}
    frequency: dict[int, int] = defaultdict(int)
    for found in features.values():
        for feature in found:
            frequency[feature] += 1
    postings: dict[int, list[int]] = defaultdict(list)  # feature -> cluster representatives having it
    for position in heads:
        key = keys[position]
        size = len(key)
        # |la - lb| <= distance < max_distance * (la + lb) / 2 bounds lb around la
        low = int(size * (1 - max_distance / 2) / (1 + max_distance / 2)) - 1
        high = int(size * (1 + max_distance / 2) / (1 - max_distance / 2)) + 1
        cutoff = int(max_distance * (size + high) / 2) - 1
        best: tuple[int, int] | None = None
        if cutoff >= 1:
            probes = sorted((frequency[f], f) for f in features[position] if frequency[f] > 1)[:_PROBES]
            hits: dict[int, int] = defaultdict(int)
            for _, f in probes:
                for p in postings.get(f, ())[:_SCAN]:
                    if low <= len(keys[p]) <= high:
                        hits[p] += 1
            # the representatives sharing most of its rare pairs (ties: the earliest)
            candidates = sorted(sorted(hits, key=lambda p: (-hits[p], p))[:_CANDIDATES])
            if candidates:
                near = process.extract(key, [keys[p] for p in candidates], scorer=Levenshtein.distance,
                                       score_cutoff=cutoff, limit=None)
                for _, distance, index in near:
                    p = candidates[index]
                    limit = int(max_distance * (size + len(keys[p])) / 2)
                    if limit > 1 and distance < limit and (best is None or (distance, p) < best):
                        best = (int(distance), p)
        if best is None:
            for feature in features[position]:
                postings[feature].append(position)
        else:
            leader[position] = best[1]
    for position, template in enumerate(template_of):
        leader[position] = leader[first[template]]
    return leader, tokens, template_of, miner


# A representative is compared with the earlier representatives that have one of its _PROBES
# rarest word pairs (among those some other representative has too), at most _SCAN of them per
# pair (the earliest: the largest clusters), and of those with the _CANDIDATES that share most
# of these pairs. A near-duplicate shares most word pairs, rare ones included; a pair of texts
# within the edit distance whose every shared word pair is common elsewhere can be missed (the
# price of not comparing every pair: a bounded number of comparisons per representative).
_PROBES = 8
_SCAN = 32
_CANDIDATES = 16


def _features(ids: list[int]) -> set[int]:
    """Word pairs of a key (single words too when it has fewer than three), as integers."""
    out = {a * 1_000_003 + b for a, b in pairwise(ids)}
    if len(ids) < 3:
        out.update(-1 - a for a in ids)
    return out


# --- template mining -------------------------------------------------------------------------

WILDCARD = "<*>"
_WORD = re.compile(r"[^\s]+|\n")
# A token that looks variable is never a bucket's prefix: a digit or a mask in it (Drain's rule),
# or a dotted, slashed, quoted or key=value name ("storage.(*Controller).sync", '"web-0"').
_VARIABLE = re.compile(r"[\d<./\\\"'=@]|:.")
# the typed masks of normalize(): compared as one kind of variable (a hex run and a number at
# the same place are the same template: "iar 00106570 dear 0245a1c8")
_ANY_MASK = re.compile("<(?:TIME|UUID|PATH|HEX|IP|PORT|NODE|POD|DURATION|NUM)>")


def _tokens(key: str) -> list[str]:
    """Whitespace-separated tokens of a normalized text; line breaks are tokens too."""
    return _WORD.findall(key)


class _Bucket:
    """Templates of one token count and prefix: token ids as rows of a growing matrix (-1: a wildcard)."""

    __slots__ = ("count", "matrix", "templates")

    def __init__(self, width: int) -> None:
        self.matrix = np.empty((4, width), dtype=np.int32)
        self.count = 0
        self.templates: list[int] = []

    def append(self, ids: np.ndarray, template: int) -> int:
        if self.count == len(self.matrix):
            self.matrix = np.concatenate([self.matrix, np.empty_like(self.matrix)])
        self.matrix[self.count] = ids
        self.templates.append(template)
        self.count += 1
        return self.count - 1


class _Templates:
    """Drain-like template mining (He et al., ICWS 2017), deterministic for a given visiting
    order. A key's bucket is its token count and first ``depth`` tokens (a token that looks
    variable, :data:`_VARIABLE`, counts as a wildcard there); the key joins the bucket's template with most equal
    positions when they are at least ``similarity`` of its tokens (ties: the oldest template),
    and the positions where they differ become wildcards; otherwise it starts a template. One
    vectorised comparison per key against all templates of its bucket."""

    def __init__(self, similarity: float, depth: int = 1) -> None:
        self.similarity = similarity
        self.depth = depth
        self.vocabulary: dict[str, int] = {}
        self.buckets: dict[tuple[Any, ...], _Bucket] = {}
        self.where: list[tuple[_Bucket, int]] = []  # per template: its bucket and row
        self._known: dict[str, int] = {}  # token -> id of its canonical form

    def ids(self, tokens: list[str]) -> list[int]:
        """Token ids for comparison: every typed mask is the same variable (``<IP>:<PORT>`` and
        ``<NUM>:<NUM>`` are one token)."""
        vocabulary, known = self.vocabulary, self._known
        out = []
        for token in tokens:
            found = known.get(token)
            if found is None:
                canonical = _ANY_MASK.sub(WILDCARD, token) if "<" in token else token
                found = known[token] = vocabulary.setdefault(canonical, len(vocabulary))
            out.append(found)
        return out

    def add(self, ids: list[int], tokens: list[str]) -> int:
        """The template of a key given its :meth:`ids` and tokens (for the bucket's prefix)."""
        prefix = tuple(WILDCARD if _VARIABLE.search(t) else t for t in tokens[: self.depth])
        where = (len(tokens), *prefix)
        bucket = self.buckets.get(where)
        if bucket is None:
            bucket = self.buckets[where] = _Bucket(len(tokens))
        elif bucket.count:
            if not tokens:
                return bucket.templates[0]
            row_ids = np.array(ids, dtype=np.int32)
            rows = bucket.matrix[: bucket.count]
            same = (rows == row_ids).sum(axis=1)
            best = int(same.argmax())
            if same[best] >= math.ceil(self.similarity * len(tokens) - 1e-9):
                row = rows[best]
                row[row != row_ids] = -1
                return bucket.templates[best]
        template = len(self.where)
        self.where.append((bucket, bucket.append(np.array(ids, dtype=np.int32), template)))
        return template

    def wildcards(self, template: int) -> list[bool]:
        """Per token position of the template: whether its keys differ there."""
        bucket, row = self.where[template]
        return (bucket.matrix[row] < 0).tolist()


def _render(tokens: Sequence[str]) -> str:
    out: list[str] = []
    for token in tokens:
        if out and token != "\n" and out[-1] != "\n":
            out.append(" ")
        out.append(token)
    return "".join(out)


# --- suggested fingerprints ------------------------------------------------------------------

_MASK_PATTERNS = {  # permissive on purpose: the literal text around a mask anchors the match
    "<TIME>": r"[\w:.,/+ -]+?",
    "<UUID>": r"[0-9a-fA-F-]+",
    "<PATH>": r"\S+?",
    "<HEX>": r"[0-9a-fA-Fx]+",
    "<IP>": r"[0-9a-fA-F:.]+",
    "<PORT>": r"\d+",
    "<NODE>": r"[\w.-]+",
    "<POD>": r"[a-z0-9-]+",
    "<DURATION>": r"\d[\w. ]*?",
    "<NUM>": r"[\d.]+",
}
_TOKENS = re.compile("|".join(re.escape(m) for m in _MASK_PATTERNS) + r"|\w+|\s+|[^\w\s]")
_SPECIAL = set("\\.^$*+?{}[]|()")
_GAPS = {1: r"\S*", 2: r"[^\n]*", 3: r"[\S\s]*"}  # within a word, a line, across lines
MIN_REGEX = 16  # openQA's auto-review ignores shorter search terms


def _literal(token: str) -> str:
    if token.isspace():
        return " " if token == " " else r"\s+"
    out = []
    for char in token:
        if char in _SPECIAL:
            out.append("\\" + char)
        elif not char.isprintable():
            out.append(f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\x{{{ord(char):x}}}")
        else:
            out.append(char)
    return "".join(out)


def _skeleton(keys: Sequence[str]) -> tuple[list[str], list[int]]:
    """Tokens common to every key, in order (a longest-common-subsequence fold), and per token
    the gap before it (one more at the end): 0 none, 1 within a word, 2 within a line, 3
    across lines."""
    tokens = _TOKENS.findall(keys[0])
    gaps = [0] * (len(tokens) + 1)
    for key in keys[1:]:
        other = _TOKENS.findall(key)
        kept: list[str] = []
        kept_gaps: list[int] = []
        pending = 0
        for op in LCSseq.opcodes(tokens, other):
            if op.tag == "equal":
                for k in range(op.src_start, op.src_end):
                    kept.append(tokens[k])
                    kept_gaps.append(max(pending, gaps[k]) if k == op.src_start else gaps[k])
                    pending = 0
            else:
                lost = tokens[op.src_start:op.src_end] + other[op.dest_start:op.dest_end]
                kind = 3 if any("\n" in t for t in lost) else 2 if any(t.isspace() for t in lost) else 1 if lost else 0
                pending = max(pending, kind, *gaps[op.src_start:op.src_end + 1])
        kept_gaps.append(max(pending, gaps[len(tokens)]))
        tokens, gaps = kept, kept_gaps
        if not tokens:
            break
    return tokens, gaps


class _Pool:
    """Texts a fingerprint must not match, each with the cluster it belongs to (-1: none).
    Kept as one string so that a fingerprint's longest literal prefilters them at C speed."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.owners: list[int] = []
        self._hay: str | None = None
        self._starts: list[int] = []

    def add(self, text: str, owner: int) -> None:
        self.texts.append(text)
        self.owners.append(owner)
        self._hay = None

    def containing(self, literal: str, exclude: int) -> Iterable[str]:
        if self._hay is None:
            self._hay = "\x00".join(self.texts)
            self._starts, at = [], 0
            for text in self.texts:
                self._starts.append(at)
                at += len(text) + 1
        from bisect import bisect_right
        hay, seen, at = self._hay, -1, self._hay.find(literal)
        while at != -1:
            index = bisect_right(self._starts, at) - 1
            if index != seen:
                seen = index
                if self.owners[index] != exclude:
                    yield self.texts[index]
                at = self._starts[index + 1] if index + 1 < len(self._starts) else len(hay)
            at = hay.find(literal, at)


def suggest_regex(members_texts: Sequence[str], non_member_texts: Sequence[str] = ()) -> str | None:
    r"""A readable regex (at least 16 characters, Python and PCRE syntax) that matches every
    member's raw text and none of the non-member texts, or ``None`` when there is none.

    It is built from the longest common token sequence of the members' normalized texts:
    literal text stays literal, masks become permissive patterns (``<NUM>`` → ``[\d.]+``),
    and where members differ the gap becomes ``\S*`` (inside a word), ``[^\n]*`` (inside a
    line) or ``[\S\s]*`` (across lines). Candidates, first verified wins: the most
    distinctive single-line fragments (masks at their edges dropped), the last fragment
    anchored at the end (``\s*$``), pairs of fragments, the whole sequence.

    >>> print(suggest_regex(["timeout after 30s waiting for pod web-7d9f8c6b5-x2x4z",
    ...                      "timeout after 5m waiting for pod web-6c8f9d7b4-q8w2z"],
    ...                     ["timeout after 30s waiting for node n1"]))
    timeout after \d[\w. ]*? waiting for pod web-
    """
    members = sorted(set(members_texts))
    if not members:
        return None
    counts: dict[str, int] = defaultdict(int)
    for text in members:
        counts[normalize(text)] += 1
    keys = sorted(counts, key=lambda k: (-counts[k], k))
    pool = _Pool()
    for text in non_member_texts:
        pool.add(text, -1)
    return _suggest(keys, members, pool, -2)


def _suggest(keys: list[str], members: list[str], pool: _Pool, owner: int) -> str | None:
    tokens, gaps = _skeleton(keys)
    if not tokens:
        return None

    def render(first: int, last: int) -> str:
        return "".join((_GAPS[gaps[k]] if k > first and gaps[k] else "") + (_MASK_PATTERNS.get(tokens[k]) or _literal(tokens[k]))
                       for k in range(first, last + 1))

    # fragments: runs of tokens within one line and without a gap wider than a word
    spans: list[list[int]] = [[]]
    for k, token in enumerate(tokens):
        if gaps[k] > 1 or "\n" in token:
            spans.append([])
        if "\n" not in token:
            spans[-1].append(k)
    fragments = []  # (weight, first, last, pattern, longest literal)
    for span in spans:
        # masks and spaces at the edges add nothing to an unanchored search
        while span and (tokens[span[0]].isspace() or tokens[span[0]] in _MASK_PATTERNS):
            span = span[1:]
        while span and (tokens[span[-1]].isspace() or tokens[span[-1]] in _MASK_PATTERNS):
            span = span[:-1]
        if span:
            weight = sum(len(tokens[k]) for k in span if tokens[k] not in _MASK_PATTERNS and not tokens[k].isspace())
            fragments.append((weight, span[0], span[-1], render(span[0], span[-1]), _longest_literal(tokens, gaps, span)))
    best = sorted(fragments, key=lambda f: (-f[0], f[1]))[:8]
    candidates = [(f[3], f[4]) for f in best]
    if spans[-1] and not gaps[-1]:
        # the members all end the same way: anchoring tells them from longer look-alikes
        last = len(tokens) - 1 - _trailing_space(tokens)
        first = spans[-1][0]
        while first < last and tokens[first].isspace():
            first += 1
        if first <= last:
            candidates.append((render(first, last) + r"\s*$", _longest_literal(tokens, gaps, range(first, last + 1))))
    pairs = sorted(((a, b) for a in best for b in best if a[1] < b[1]), key=lambda ab: (-(ab[0][0] + ab[1][0]), ab[0][1]))
    for a, b in pairs[:12]:
        lines = any("\n" in t for t in tokens[a[2]:b[1]]) or any(g == 3 for g in gaps[a[2] + 1:b[1] + 1])
        candidates.append((a[3] + _GAPS[3 if lines else 2] + b[3], max(a[4], b[4], key=len)))
    if len(fragments) > 2:
        candidates.append((render(0, len(tokens) - 1), max((f[4] for f in fragments), key=len)))
    for pattern, literal in candidates:
        if len(pattern) >= MIN_REGEX and _verify(pattern, literal, members, pool, owner):
            return pattern
    return None


def _trailing_space(tokens: list[str]) -> int:
    count = 0
    while count < len(tokens) and tokens[-1 - count].isspace():
        count += 1
    return count


def _longest_literal(tokens: list[str], gaps: list[int], span: Iterable[int]) -> str:
    """The longest run of literal tokens in ``span`` (no mask, no gap): every match contains it."""
    best = run = ""
    for k in span:
        if tokens[k] in _MASK_PATTERNS or gaps[k]:
            best, run = max(best, run, key=len), ""
        if tokens[k] not in _MASK_PATTERNS:
            run += tokens[k]
    return max(best, run, key=len)


def _verify(pattern: str, literal: str, members: list[str], pool: _Pool, owner: int) -> bool:
    try:
        rx = re.compile(pattern)
    except re.error:
        return False
    texts = pool.containing(literal, owner) if literal else (t for t, o in zip(pool.texts, pool.owners) if o != owner)
    if any(rx.search(text) for text in texts):
        return False
    return all(rx.search(text) for text in members)
