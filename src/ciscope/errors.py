"""The exceptions ciscope raises. Every message says what failed, the bad value or place,
and what is accepted.

    CiscopeError
     ├── InputError            a file or folder given to ingest cannot be used
     │    ├── ReportError      a test report (JUnit XML, subunit …) is malformed
     │    ├── HostileInputError  refused for safety: DTD/entities (XXE, bombs), absurd size
     │    └── RunFolderError   a run folder's metadata (started.json, finished.json …) is wrong
     ├── StoreError            the database refused or cannot be reached
     │    └── UnknownEngineError  a --db URL names an engine ciscope does not have
     └── UsageError            arguments that do not fit together
          └── NotFoundError    a named job, run or test is not in the store
"""

from __future__ import annotations


class CiscopeError(Exception):
    """Base of every error ciscope raises on purpose."""

    exit_code = 1


class InputError(CiscopeError):
    """An input file cannot be used. Carries the file, the place in it, and the reason."""

    exit_code = 3

    def __init__(self, file: str, reason: str, *, line: int | None = None, place: str | None = None):
        self.file = str(file)
        self.reason = reason
        self.line = line
        self.place = place
        where = self.file
        if line is not None:
            where += f":{line}"
        if place:
            where += f" ({place})"
        super().__init__(f"{where}: {reason}")


class ReportError(InputError):
    """A test report is malformed: bad XML, truncated, wrong root element, bad values."""


class HostileInputError(InputError):
    """Input refused for safety: a DTD or entity declaration (XXE, entity bomb), or a size
    beyond the configured limit. Never expanded, never fetched."""


class RunFolderError(InputError):
    """A run folder's metadata is unusable (malformed started.json/finished.json …)."""


class StoreError(CiscopeError):
    """The store failed: cannot connect, cannot migrate, or refused a write."""

    exit_code = 4


class UnknownEngineError(StoreError):
    """A database URL names an engine that is not available."""

    exit_code = 2


class UsageError(CiscopeError):
    """Options that do not fit together, or a missing required one."""

    exit_code = 2


class NotFoundError(UsageError):
    """A job, run or test named by the user is not in the store (HTTP 404 in the API)."""
