"""Failure reasons: the lines of a failed CI log that most likely say why it failed.

:func:`extract_reason` scores every line of a log with error keywords (``error:``,
``FAILED``, ``Exception``, ``Traceback``, ``fatal:``, ``BUILD FAILURE``, ``npm ERR!``,
non-zero exit codes, …), joins scored lines that are close together — stack-trace frames
included — into blocks, and picks the block with the best score weighted by its position:
failures are explained near the end of a log, above the runner's closing lines ("The command
… exited with 1.", "##[error]Process completed with exit code 1.", "Finished: FAILURE").

Given the log of a passing run of the same job, error lines that also occur there (compared
after :func:`ciscope.analysis.clusters.normalize`) cannot be the reason — CiDiff's idea: they
carry no weight (they may still sit inside a block).

Lines are numbered from 1 and end at ``\\r\\n``, ``\\n`` or a lone ``\\r`` (Java's
``readLine``, as CiDiff's ground truth counts them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .clusters import normalize

__all__ = ["Reason", "extract_reason"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[=>NOM78c])")
# GitHub Actions and Jenkins timestamp prefixes
_STAMP = re.compile(r"^(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?|\[\d{4}-\d\d-\d\dT[\d:.]+Z?\] ?)")

# (weight, pattern, signal name); a line's score is the sum of the weights of the patterns it
# matches, each signal counted once.
_SIGNAL_PATTERNS = [
    (4, r"Traceback \(most recent call last\)", "traceback"),
    (3, r"(?:Exception|Error|Failure)(?:[:)\]]|$| in )", "exception"),
    (3, r"\bBUILD FAIL(?:URE|ED)\b|\bFAILURE\b|\bFAILED\b|\bFAIL\b|\bFailed\b|\bERROR\b|(?i:\[error\])|\bFATAL\b", "failed"),
    (3, r"(?i:\berror(?:\[\w+\])?:)|\bfatal:|\bpanic:|npm ERR!|\bERR!|rake aborted|\*\*\* \[|make(?:\[\d+\])?: \*\*\*", "error"),
    (2, r"\bAssertion\w*|\bassert(?:ion)?\b|\bexpected\b[^\n]*?\b(?:but|got|was|to)\b|\bExpected\b", "assertion"),
    (2, r"✖|✗|❌|\u00d7 |\[-\]|:-\(", "cross"),
    (2, r"\b[1-9]\d* (?:failing|failed|failures?|errors?|broken)\b|\b(?:Failures|Errors): [1-9]|\bfailing\b", "count"),
    (2, r"\bSegmentation fault\b|\bcore dumped\b|\bAddressSanitizer\b|\bKilled\b|\bOut of memory\b", "crash"),
    (2, r"\bcommand not found\b|No such file or directory|\bcannot (?:find|open|access|stat|load)\b|\bnot found\b"
        r"|\bNo \w+ found\b|\bundefined (?:reference|method|local variable)\b|\bnot defined\b|\b[Cc]ould not\b"
        r"|\b[Uu]nable to\b|\bpermission denied\b|\bdoes not exist\b|\bnot allowed\b", "missing"),
    (1, r"\berror\b|\berrors\b|\bfailed\b|\bfailure\b|\bException\b|\bdenied\b|\brefused\b|\btimed? ?out\b"
        r"|\babort(?:ed)?\b|\binvalid\b|\bunexpected\b|\bmissing\b", "word"),
]
_SIGNALS = [(weight, re.compile(pattern), name) for weight, pattern, name in _SIGNAL_PATTERNS]
# every signal contains one of these (lower-cased): a cheap test before the patterns
_KEYWORDS = ("error", "fail", "exception", "traceback", "fatal", "panic", "err!", "abort", "assert", "expected",
             "✖", "✗", "❌", "\u00d7", "[-]", ":-(", "segmentation", "core dumped", "sanitizer", "killed",
             "out of memory", "found", "no such file", "cannot", "undefined", "not defined", "could not", "unable to",
             "denied", "does not exist", "not allowed", "refused", "timed out", "timeout", "invalid", "unexpected",
             "missing", "broken", "***")
_KEYWORD = re.compile("|".join(re.escape(keyword) for keyword in _KEYWORDS))
_NOT_ERRORS = re.compile(r"\b0 (?:errors?|failures?|failed|failing)\b|\b(?:Errors|Failures|Failed): 0\b|-W(?:no-)?error"
                         r"|\berror_reporting\b|\bon_error\b|\bignore[_-]?errors?\b|^\s*\[warn(?:ing)?\]|\bwarning:", re.I)
# Summaries and wrappers: they repeat that something failed above; the details win over them
_SUMMARY = re.compile(r"^npm ERR!|^\s*Tests?:\s+\d+ failed|^\s*Test Suites:|\b\d+ (?:tests?|examples?|specs?)(?: completed)?, \d+ fail"
                      r"|Failed \d+/\d+ test|^Result: FAIL|\*\*\* \d+ TESTS? FAILED|\[error\] (?:Failed: Total|Failed tests:|\(.*\) sbt)"
                      r"|FAILURE: Build failed|Execution failed for task|What went wrong:|There were failing tests"
                      r"|make(?:\[\d+\])?: \*\*\*|\bBUILD FAIL(?:URE|ED)\b|^\[ERROR\] (?:BUILD FAILURE|Failed to execute goal|Tests run:.*Fail)"
                      r"|^\s*\d+ failing\b|One or more (?:errors|tests) (?:occurred|failed)|error Command failed with exit code"
                      r"|An error occurred when executing task|exited with (?:code|status) [1-9]|returned non-zero exit status"
                      r"|^FAILED \((?:failures|errors)=|^=+ .*\b\d+ failed\b.* in [\d.]+s|Tests (?:run|failed): \d+.*(?:Failures|Errors): [1-9]"
                      r"|\btests? failed\b|\bTest failed\b|\bfailed tests?\b|\bFAILED TESTS\b|See above for"
                      r"|aborting due to|\bprevious errors?\b|Could not compile|^(?:error|ERROR): build failed|For more information about"
                      r"|^\*\* [A-Z ]+ FAILED \*\*|Command failed with|^FAILURE!|\bFailed \d+ tests?\b|\d+ errors? found|Errors? occurred", re.I)
# Continuation lines: stack frames and the detail under an error line
_FRAME = re.compile(r"^\s+(?:at |File \"|from |in |#\d+ |\.\.\. \d+ more|Caused by|stacktrace:|Stack Trace:)"
                    r"|^\s*(?:Caused by|\tat )|^\s*\S+\.(?:java|py|go|rb|js|ts|cs|ex|exs|c|cc|cpp|h|rs|php|pl|scala|kt)"
                    r"(?::\d+|\(\d+(?:,\d+)?\))|^\s*\S+:\d+:in `|^\s*[\^~]+\s*$|^\s*(?:Expected|Actual|But was|got):")
# Runner lines closing a failed log: they say *that* it failed, not why
_TRAILER = re.compile(r"^(?:The command \".*\" (?:exited with|failed)|Done\. Your build exited with|travis_\w+:|"
                      r"##\[error\]Process completed with exit code|Process completed with exit code|Finished: (?:FAILURE|FAILED|ABORTED)"
                      r"|Build step '.*' marked build as failure|\[Pipeline\] |Post job cleanup|Cleaning up orphan processes"
                      r"|Your build has been stopped|Error: Process completed with exit code|script returned exit code"
                      r"|ERROR: script returned exit code|/\S+/job_stages: line \d+|\$ )")

# A runner saying a step failed: the failure is explained just above the first such line
_STEP_FAILED = re.compile(r"^(?:The command \".*\" (?:exited with [1-9]\d*|failed)|##\[error\]Process completed with exit code [1-9]"
                          r"|(?:ERROR: )?Job failed: exit code [1-9]|(?:ERROR: )?script returned exit code [1-9]"
                          r"|Build step '.*' marked build as failure)")

GAP = 2  # lines without a signal allowed inside a block
MAX_LINES = 30
TAIL = 5  # last lines before the runner's closing lines: a candidate block of their own ...
TAIL_STRENGTH = 1.0  # ... as strong as a line with one weak keyword
DECAY = 40.0  # a block this many non-empty lines above the end counts half
SUMMARY_WEIGHT = 1.0  # what a summary line ("3 tests failed", "npm ERR! ...") is worth


@dataclass(frozen=True, slots=True)
class Reason:
    """Lines ``start``..``end`` (1-based, inclusive) of a log, with their text (ANSI codes
    removed), a score (0: nothing looked like an error, the last lines were taken) and the
    names of the signals found."""

    start: int
    end: int
    text: str
    score: float
    signals: tuple[str, ...] = ()


def split_lines(text: str) -> list[str]:
    """Lines as Java's ``readLine`` sees them: ``\\r\\n``, ``\\n`` and a lone ``\\r`` all end one."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()
    return lines


def clean(line: str) -> str:
    """The line without ANSI escape sequences and runner timestamp prefixes."""
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    return _STAMP.sub("", line)


def line_score(line: str) -> tuple[float, tuple[str, ...]]:
    """Error score of one clean line and the signals behind it."""
    if not line.strip() or len(line) > 2000:
        return 0.0, ()
    if not _KEYWORD.search(line.lower()):
        return 0.0, ()
    score, names = 0.0, []
    for weight, pattern, name in _SIGNALS:
        if pattern.search(line):
            score += weight
            names.append(name)
    if score and _NOT_ERRORS.search(line) and not (set(names) & {"traceback", "exception", "error"}):
        return 0.0, ()
    if score and _SUMMARY.search(line):
        return SUMMARY_WEIGHT, (*names, "summary")
    return score, tuple(names)


def extract_reason(log_text: str, /, *, passing_log: str | None = None, max_lines: int = MAX_LINES) -> Reason:
    """The most likely failure lines of a failed CI log.

    With ``passing_log`` (a log of a passing run of the same job), error lines that also
    occur there after normalization carry no weight. At most ``max_lines`` lines are returned, around
    the block's strongest line. A log with no error signal gives its last non-empty lines
    before the runner's closing lines, with score 0.

    >>> reason = extract_reason("setup ok\\nrunning tests\\nE   assert 1 == 2\\nFAILED test_x.py::test_y\\nDone.")
    >>> (reason.start, reason.end, reason.signals)
    (3, 4, ('assertion', 'failed'))
    """
    if not log_text:
        return Reason(0, 0, "", 0.0)
    lines = [clean(line) for line in split_lines(log_text)]
    known: set[str] = set()
    if passing_log is not None:  # only lines with a keyword can match a scored line
        known = {normalize(line.strip()) for line in map(clean, split_lines(passing_log)) if _KEYWORD.search(line.lower())}
    end = _trailer_start(lines)
    scores: list[float] = []
    signals: list[tuple[str, ...]] = []
    carry = [False] * len(lines)  # lines that continue a block without strengthening it
    for k, line in enumerate(lines):
        score, names = line_score(line) if k < end else (0.0, ())
        if score and known and normalize(line.strip()) in known:
            score, names, carry[k] = 0.0, (), True  # an error the passing run printed too
        scores.append(score)
        signals.append(names)
    summary = ["summary" in names for names in signals]
    blocks = _blocks(lines, scores, summary, carry, end)
    # the last non-empty lines before the runner's closing lines are a candidate too: most
    # logs explain their failure right there, with or without a keyword
    tail = [k for k in range(end - 1, -1, -1) if lines[k].strip()][:TAIL]
    if tail:
        blocks.append((tail[-1], tail[0], TAIL_STRENGTH, True))
    if not blocks:
        return Reason(1, 1, lines[0], 0.0)
    nonblank = [0] * (len(lines) + 1)  # non-empty lines before index k
    for k, line in enumerate(lines):
        nonblank[k + 1] = nonblank[k] + (1 if line.strip() else 0)

    def value(block: tuple[int, int, float, bool]) -> tuple[float, int]:
        distance = nonblank[end] - nonblank[block[1] + 1]  # non-empty lines between block and end
        return block[2] / (1 + distance / DECAY), block[1]

    first, last, strength, is_tail = max(blocks, key=value)
    if last - first + 1 > max_lines:
        strongest = max(range(first, last + 1), key=lambda k: (scores[k], -k))
        first = max(first, strongest - max_lines // 3)
        last = min(last, first + max_lines - 1)
    names = tuple(dict.fromkeys(n for k in range(first, last + 1) for n in signals[k]))
    return Reason(first + 1, last + 1, "\n".join(lines[first:last + 1]), 0.0 if is_tail else strength, names)


def _trailer_start(lines: list[str]) -> int:
    """Index of the first runner line saying a step failed, else of the first of the runner's
    closing lines (len(lines) if none)."""
    for k, line in enumerate(lines):
        if line.startswith(("The command", "##[error]", "ERROR: ", "Job failed", "script returned", "Build step")) \
                and _STEP_FAILED.match(line):
            return k
    end = len(lines)
    k = end - 1
    while k >= 0 and (not lines[k].strip() or _TRAILER.match(lines[k].strip())):
        if lines[k].strip():
            end = k
        k -= 1
    return end


def _blocks(lines: list[str], scores: list[float], summary: list[bool], carry: list[bool],
            end: int) -> list[tuple[int, int, float, bool]]:
    """(first, last, strength, False) of each run of scored lines, stack frames (and ``carry``
    lines) and short gaps.
    The strength is the best line's score plus half a point per other scored line (at most 3);
    summary lines count only when nothing else is there."""
    blocks: list[tuple[int, int, float, bool]] = []
    first = last = -1
    best = 0.0
    count = gap = 0

    def close() -> None:
        blocks.append((first, last, best + 0.5 * min(count - 1, 6) if count else SUMMARY_WEIGHT, False))

    for k in range(end):
        line = lines[k]
        if not line.strip():
            continue
        if scores[k] > 0:
            if first < 0:
                first, best, count = k, 0.0, 0
            last, gap = k, 0
            if not summary[k]:
                best = max(best, scores[k])
                count += 1
        elif first >= 0 and (carry[k] or _FRAME.match(line)):
            last, gap = k, 0
        elif first >= 0:
            gap += 1
            if gap > GAP:
                close()
                first = -1
                gap = 0
    if first >= 0:
        close()
    return blocks
