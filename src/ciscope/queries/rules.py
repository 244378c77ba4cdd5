"""The status rules as SQL: which outcomes count as failed, flaky, counted, unfinished.

The values are the enums of :mod:`ciscope.status` and the groupings its tuples
(``FAILED_VERDICTS``, ``FAILED_RUN_STATUSES``, …); this module writes them as SQL
conditions, so that no query spells a status itself. The Ibis expressions of
:mod:`.verdicts` filter on the value tuples here (``.isin(FAILED_VERDICTS)``), the SQL of
every other query module on the fragments.

Every function takes the column to test (qualified as the query needs: ``"v.verdict"``) and
returns a condition, or an expression for :func:`verdict_counts`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .. import status as _s
from ..store.sqltext import sql_string

__all__ = ["FAILED_RUN", "FAILED_RUN_STATUSES", "FAILED_STATUSES", "FAILED_VERDICTS", "FLAKY", "PASSED",
           "PASSING_VERDICTS", "RETRIGGER", "SKIPPED", "TRIED_RETRIGGERS", "TROUBLED_VERDICTS", "UNENDED_RUN_STATUSES",
           "UNFINISHED_RUN_STATUSES", "counted_verdict", "failed_run", "failed_status", "failed_verdict",
           "flaky_verdict", "run_status_is", "sql_in", "sql_is", "troubled_verdict", "verdict_counts"]


def _values(members: Iterable[enum.Enum]) -> tuple[str, ...]:
    return tuple(str(m.value) for m in members)


#: verdict values
PASSED, FLAKY, SKIPPED = _s.Verdict.PASSED.value, _s.Verdict.FLAKY.value, _s.Verdict.SKIPPED.value
#: the decision of a retrigger made
RETRIGGER = _s.RetriggerDecision.RETRIGGER.value
#: the groupings of :mod:`ciscope.status` as plain values (Ibis literals, SQL)
FAILED_STATUSES = _values(_s.FAILED_STATUSES)
FAILED_VERDICTS = _values(_s.FAILED_VERDICTS)
TROUBLED_VERDICTS = _values(_s.TROUBLED_VERDICTS)
PASSING_VERDICTS = _values(_s.PASSING_VERDICTS)
FAILED_RUN_STATUSES = _values(_s.FAILED_RUN_STATUSES)
UNENDED_RUN_STATUSES = _values(_s.UNENDED_RUN_STATUSES)
UNFINISHED_RUN_STATUSES = _values(_s.UNFINISHED_RUN_STATUSES)
TRIED_RETRIGGERS = _values(_s.TRIED_RETRIGGERS)


def sql_in(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')``."""
    return f"{column} IN ({', '.join(sql_string(v) for v in values)})"


def sql_is(column: str, value: str) -> str:
    """``column = 'a'``."""
    return f"{column} = {sql_string(value)}"


def failed_verdict(column: str = "verdict") -> str:
    """The test failed in the run: verdict ``failed`` or ``error``."""
    return sql_in(column, FAILED_VERDICTS)


def troubled_verdict(column: str = "verdict") -> str:
    """The test failed or flaked in the run (what a known bug can explain)."""
    return sql_in(column, TROUBLED_VERDICTS)


def flaky_verdict(column: str = "verdict") -> str:
    """The test flaked in the run."""
    return sql_is(column, FLAKY)


def counted_verdict(column: str = "verdict") -> str:
    """The test ran in the run (a verdict other than ``skipped``): ``runs.tests`` counts it."""
    return f"{column} <> {sql_string(SKIPPED)}"


def failed_status(column: str = "status") -> str:
    """The attempt failed or errored (``test_results.status``)."""
    return sql_in(column, FAILED_STATUSES)


def failed_run(column: str = "status") -> str:
    """The run failed: status ``failure`` or ``error`` (``runs.status``)."""
    return sql_in(column, FAILED_RUN_STATUSES)


def run_status_is(column: str, value: _s.RunStatus) -> str:
    """The run's status is ``value``."""
    return sql_is(column, value.value)


def verdict_counts(column: str = "verdict") -> str:
    """The four verdict counts of a group, as columns ``passed``, ``failed`` (``error``
    included), ``flaked`` and ``skipped``."""
    return ", ".join(f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {name}" for name, cond in (
        ("passed", sql_is(column, PASSED)), ("failed", failed_verdict(column)),
        ("flaked", flaky_verdict(column)), ("skipped", sql_is(column, SKIPPED))))


#: the failed runs of the ``runs`` table aliased ``r``
FAILED_RUN = failed_run("r.status")
