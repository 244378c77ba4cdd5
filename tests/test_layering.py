"""Issue 9, one query layer: ``ciscope.queries`` is the only package that writes SQL; the
analyses it has been moved out of call its query functions and never the store's query
methods, and so does the web layer's one door to them (``WEB_MODULES``). Add a module to
``PURE_ANALYSES`` once its SQL has moved."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

PURE_ANALYSES = [
    "ciscope.analysis.triage",
    "ciscope.analysis.slowdowns",
    "ciscope.analysis.stats",
    "ciscope.analysis.summary",
    "ciscope.analysis.test_history",
    "ciscope.analysis.known",
    "ciscope.analysis.retrigger",
    "ciscope.analysis.disruption_store",
]

#: web modules that call analyses and queries, never the store's query methods
WEB_MODULES = [
    "ciscope.web.reports",
]

# the store's query methods, a raw statement, or SQL text
FORBIDDEN = re.compile(r"store\.query|query_arrow|query_dicts|query_in\b|query_columns|\.execute\(|\bSELECT\s")


def source(module: str) -> str:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return Path(spec.origin).read_text(encoding="utf-8")


@pytest.mark.parametrize("module", PURE_ANALYSES + WEB_MODULES)
def test_module_holds_no_sql(module: str) -> None:
    found = [f"line {number}: {line.strip()}" for number, line in enumerate(source(module).splitlines(), 1)
             if FORBIDDEN.search(line)]
    assert found == [], f"{module} queries the store itself; move the query to ciscope.queries"


def test_the_guard_sees_sql() -> None:
    """The pattern catches what it is meant to (a guard that matches nothing proves nothing)."""
    for line in ['rows = store.query("SELECT 1")', "table = s.query_arrow(sql)", "store.query_in(sql, ids)",
                 'x.execute("DELETE FROM runs")', '"SELECT job FROM jobs"']:
        assert FORBIDDEN.search(line), line
    assert not FORBIDDEN.search("from ..queries.runs import window_runs")
