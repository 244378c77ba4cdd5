"""Bare console logs as runs: which files are logs, how the run ended, when it started.

elastic-recheck's case: a job left a console log and no test report. ``ciscope ingest
build.log --job J`` stores a run whose only content is that log, so fingerprints match it and
``triage`` can show its failure lines (:func:`log_reason`).

Names taken as logs (as upstream CI systems write them): ``job-output.txt`` (Zuul),
``console.log`` / ``console.html`` (Jenkins, old Zuul), ``build-log.txt`` (Prow),
``*-log.txt`` (openQA's ``autoinst-log.txt``), any ``*.log``, and ``*.log`` / ``*.txt``
compressed with gzip, xz or bzip2. A file named on the command line is a log also when it
ends in ``.txt``.

How the run ended (:func:`log_status`) is read from the log's closing lines, where the runner
says it:

=========================  ==================================================================
runner                     line
=========================  ==================================================================
Jenkins                    ``Finished: SUCCESS|UNSTABLE|FAILURE|ABORTED|NOT_BUILT``
Zuul                       ``RESULT: SUCCESS|FAILURE|POST_FAILURE|TIMED_OUT|…``,
                           ``[Zuul] Job complete, result: …``, ``RUN END RESULT_TIMED_OUT``
Ansible (Zuul's playbooks) ``PLAY RECAP`` host lines: ``failed=N`` / ``unreachable=N`` (also
                           Zuul's ``failed: N``); any non-zero count is a failure
GitHub Actions             ``Process completed with exit code N`` (N ≠ 0: failure)
GitLab                     ``Job succeeded`` / ``Job failed: exit code N``
Travis CI                  ``Done. Your build exited with N.``
Taskcluster                ``Successful task run with exit code: 0`` / ``Unsuccessful task run …``,
                           ``[taskcluster:error] exit status N`` / ``… Task aborted …``
openQA (os-autoinst)       ``Result: passed|softfailed|failed|incomplete|died|setup failure|…``
=========================  ==================================================================

The last such line in the final :data:`TAIL_LINES` lines decides; Ansible recaps decide only
when no other runner line does.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InputError
from ..fingerprints.reader import open_log
from ..model import RunStatus

__all__ = ["LogStatus", "is_log", "log_reason", "log_started", "log_status", "main_log", "read_tail"]

_COMPRESSED = r"(?:\.(?:gz|xz|bz2))"
#: log names found when walking a folder
LOG_NAME = re.compile(
    rf"^(?:job-output\.txt|console\.(?:log|html)|build-log\.txt|.*-log\.txt){_COMPRESSED}?$"
    rf"|\.log{_COMPRESSED}?$|\.txt{_COMPRESSED}$",
    re.IGNORECASE,
)
#: a file given by name is a log also when it ends in .txt
EXPLICIT_LOG_NAME = re.compile(rf"\.txt{_COMPRESSED}?$", re.IGNORECASE)
#: the main log of a run, in order of preference (the others are kept for matching)
MAIN_LOGS = ("build-log.txt", "job-output.txt", "console.log", "console.html", "autoinst-log.txt")
TAIL_LINES = 2000
#: most bytes of one log read for its status and its failure lines (the end is kept)
MAX_TEXT_BYTES = 32 << 20


def is_log(path: str | os.PathLike[str], *, explicit: bool = False) -> bool:
    """Whether a file is a console log (``explicit``: it was named on the command line)."""
    name = Path(path).name
    return bool(LOG_NAME.search(name) or (explicit and EXPLICIT_LOG_NAME.search(name)))


def main_log(logs: list[str]) -> str | None:
    """The log a reader looks at first: a runner's console log by name, else the first."""
    if not logs:
        return None
    by_name = {Path(rel).name.split(".gz")[0].split(".xz")[0].lower(): rel for rel in logs}
    for name in MAIN_LOGS:
        if name in by_name:
            return by_name[name]
    return logs[0]


@dataclass(frozen=True, slots=True)
class LogStatus:
    """How a run ended according to its log: the status, the runner that said it, and where."""

    status: RunStatus
    runner: str
    line: int  # 1-based line number in the log
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status.value, "runner": self.runner, "line": self.line, "text": self.text}


_JENKINS = re.compile(r"(?:^|\s)Finished: (SUCCESS|UNSTABLE|FAILURE|FAILED|ABORTED|NOT_BUILT)\s*$")
_ZUUL = re.compile(r"(?:\bRESULT:\s*|\bJob complete, result:\s*|RUN END RESULT_)"
                   r"(SUCCESS|FAILURE|POST_FAILURE|RETRY_LIMIT|TIMED_OUT|NODE_FAILURE|ERROR|ABORTED|SKIPPED"
                   r"|MERGER_FAILURE|DISK_FULL|UNREACHABLE)\b")
_GITHUB = re.compile(r"(?:##\[error\]|Error: )?Process completed with exit code (\d+)")
_GITLAB = re.compile(r"(?:^|\s)(?:Job succeeded|(?:ERROR: )?Job failed: exit code (\d+))\s*$")
_TRAVIS = re.compile(r"^Done\. Your build exited with (\d+)\.")
_TASKCLUSTER = re.compile(r"\b(Successful|Unsuccessful) task run with exit code: (\d+)")
_TASKCLUSTER_ERROR = re.compile(r"^\[taskcluster:error\] (?:exit status (\d+)|Task aborted\b)")
_OPENQA = re.compile(r"\bResult: (passed|softfailed|failed|incomplete|died|setup failure|timeout_exceeded"
                     r"|user_cancelled|user_restarted|skipped|obsoleted|parallel_failed)\b")
_RECAP = re.compile(r"\b(?:failed|unreachable)(?:=|: )(\d+)\b")
_RECAP_HOST = re.compile(r"\bok(?:=|: )\d+\s+changed(?:=|: )\d+")

_JENKINS_STATUS = {"SUCCESS": RunStatus.SUCCESS, "UNSTABLE": RunStatus.FAILURE, "FAILURE": RunStatus.FAILURE,
                   "FAILED": RunStatus.FAILURE, "ABORTED": RunStatus.ABORTED, "NOT_BUILT": RunStatus.ABORTED}
_ZUUL_STATUS = {"SUCCESS": RunStatus.SUCCESS, "SKIPPED": RunStatus.SUCCESS, "ABORTED": RunStatus.ABORTED,
                "NODE_FAILURE": RunStatus.ERROR, "MERGER_FAILURE": RunStatus.ERROR, "DISK_FULL": RunStatus.ERROR,
                "UNREACHABLE": RunStatus.ERROR, "RETRY_LIMIT": RunStatus.ERROR, "ERROR": RunStatus.ERROR}
_OPENQA_STATUS = {"passed": RunStatus.SUCCESS, "softfailed": RunStatus.SUCCESS, "failed": RunStatus.FAILURE,
                  "parallel_failed": RunStatus.FAILURE, "skipped": RunStatus.ABORTED, "obsoleted": RunStatus.ABORTED,
                  "user_cancelled": RunStatus.ABORTED, "user_restarted": RunStatus.ABORTED}
# anything else openQA reports (incomplete, died, setup failure, timeout_exceeded) is an
# infrastructure error: the test could not run to the end


def _exit(code: str) -> RunStatus:
    return RunStatus.SUCCESS if int(code) == 0 else RunStatus.FAILURE


def _runner_status(line: str) -> tuple[str, RunStatus] | None:
    """(runner, status) when ``line`` is a runner saying how the run ended."""
    text = line.strip()
    if not text:
        return None
    if "Finished: " in text and (m := _JENKINS.search(text)):
        return "jenkins", _JENKINS_STATUS[m.group(1)]
    if ("RESULT" in text or "result:" in text) and (m := _ZUUL.search(text)):
        return "zuul", _ZUUL_STATUS.get(m.group(1), RunStatus.FAILURE)
    if "exit code" in text or "exited with" in text:
        if m := _GITHUB.search(text):
            return "github", _exit(m.group(1))
        if m := _TASKCLUSTER.search(text):
            return "taskcluster", RunStatus.SUCCESS if m.group(1) == "Successful" else RunStatus.FAILURE
        if m := _TRAVIS.search(text):
            return "travis", _exit(m.group(1))
    if text.startswith("[taskcluster:error]") and (m := _TASKCLUSTER_ERROR.search(text)):
        return "taskcluster", _exit(m.group(1) or "1")
    if "Job " in text and (m := _GITLAB.search(text)):
        return "gitlab", _exit(m.group(1) or "0")
    if "Result: " in text and (m := _OPENQA.search(text)):
        return "openqa", _OPENQA_STATUS.get(m.group(1), RunStatus.ERROR)
    return None


def status_of_lines(lines: list[str], first_line: int = 1) -> LogStatus | None:
    """How a run ended, from the last lines of its log (``first_line``: the number of
    ``lines[0]`` in the whole log). None when no runner line says it."""
    recap: LogStatus | None = None
    for k in range(len(lines) - 1, -1, -1):
        line = lines[k]
        found = _runner_status(line)
        if found is not None:
            return LogStatus(found[1], found[0], first_line + k, line.strip()[:1024])
        if _RECAP_HOST.search(line):
            failed = any(int(n) for n in _RECAP.findall(line))
            if recap is None or (failed and recap.status is RunStatus.SUCCESS):
                recap = LogStatus(RunStatus.FAILURE if failed else RunStatus.SUCCESS, "ansible", first_line + k,
                                  line.strip()[:1024])
    return recap


def _breaks(data: bytes) -> int:
    """Line ends in ``data`` as :func:`ciscope.analysis.reasons.split_lines` counts them
    (``\\r\\n``, ``\\n`` or a lone ``\\r``)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def read_tail(path: str | os.PathLike[str], *, max_bytes: int = MAX_TEXT_BYTES) -> tuple[str, int]:
    """The text of a log (decompressed), at most its last ``max_bytes`` bytes cut at a line
    start, and the 1-based number of its first line in the whole log."""
    try:
        fh = open_log(path)
    except OSError as exc:
        raise InputError(str(path), f"cannot read the log: {exc.strerror or exc}") from exc
    kept: deque[bytes] = deque()
    size = 0
    dropped = False
    dropped_lines = 0
    try:
        with fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    break
                kept.append(block)
                size += len(block)
                while size - len(kept[0]) >= max_bytes:
                    old = kept.popleft()
                    size -= len(old)
                    dropped = True
                    dropped_lines += _breaks(old)
    except (OSError, EOFError, ValueError) as exc:  # corrupt compressed data
        raise InputError(str(path), f"cannot read the log: {exc}") from exc
    data = b"".join(kept)
    if dropped or size > max_bytes:
        cut = data.find(b"\n", max(0, len(data) - max_bytes))
        if cut >= 0:
            dropped_lines += _breaks(data[:cut + 1])
            data = data[cut + 1:]
    return data.decode("utf-8", errors="replace"), dropped_lines + 1


def log_status(path: str | os.PathLike[str]) -> LogStatus | None:
    """How the run of this log ended, when its runner says so in the last lines."""
    from ..analysis.reasons import split_lines  # lines as extract_reason numbers them

    text, first = read_tail(path, max_bytes=4 << 20)
    lines = split_lines(text)
    skip = max(0, len(lines) - TAIL_LINES)
    return status_of_lines(lines[skip:], first + skip)


_STAMP = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?")


def log_started(path: str | os.PathLike[str]) -> datetime | None:
    """The first timestamp among a log's first 50 lines (GitHub, Zuul, Taskcluster and most
    runners prefix their lines with one); naive times are UTC. None when there is none."""
    try:
        with open_log(path) as fh:
            head = fh.read(64 << 10)
    except (OSError, EOFError, ValueError):
        return None
    for line in head.decode("utf-8", errors="replace").splitlines()[:50]:
        m = _STAMP.search(line)
        if m:
            zone = m.group(4) or ""
            try:
                value = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{(m.group(3) or '')[:7]}"
                                               + ("+00:00" if zone in ("", "Z") else zone))
            except ValueError:
                continue
            return value.astimezone(UTC)
    return None


def log_reason(base: str | os.PathLike[str] | None, logs: list[str]) -> dict[str, object] | None:
    """The failure lines of a run's main log (:func:`ciscope.analysis.reasons.extract_reason`):
    ``{file, start, end, text}`` with line numbers of the whole log; None when the run has no
    log that can still be read (``base``: the run's folder, as recorded at ingest)."""
    from ..analysis.reasons import extract_reason

    rel = main_log(logs)
    if rel is None or not base or not Path(base).is_dir():
        return None
    try:
        text, first = read_tail(Path(base) / rel)
    except InputError:
        return None
    reason = extract_reason(text)
    if not reason.end:
        return None
    return {"file": rel, "start": reason.start + first - 1, "end": reason.end + first - 1, "text": reason.text}
