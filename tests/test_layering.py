"""Issue 9, one query layer: ``ciscope.store`` (the engines, the schema, the writes) and
``ciscope.queries`` (every read and write an analysis or command asks for) are the only
packages that write SQL or call the store's query methods. The analyses, the command line,
the server, ingest, the demo and the reports call query functions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ciscope

PACKAGE = Path(ciscope.__file__).parent
#: where SQL belongs
SQL_HOMES = ("store", "queries")
#: modules that may not hold SQL: every other module of the package (``_clidoc`` and the
#: like included), found on disk so that a new module is covered without being listed
GUARDED = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in SQL_HOMES)

# the store's query methods, a raw statement, or SQL text
FORBIDDEN = re.compile(r"store\.query|query_arrow|query_dicts|query_in\b|query_columns|\.execute\(|\bSELECT\s")


def test_the_guarded_modules_are_found() -> None:
    assert {"analysis/triage.py", "analysis/known.py", "web/reports.py", "web/tokens.py", "cli/app.py",
            "demo/score.py", "ingest/batch.py"} <= set(GUARDED)
    assert not any(m.startswith(SQL_HOMES) for m in GUARDED)


@pytest.mark.parametrize("module", GUARDED)
def test_module_holds_no_sql(module: str) -> None:
    found = [f"line {number}: {line.strip()}" for number, line in
             enumerate((PACKAGE / module).read_text(encoding="utf-8").splitlines(), 1) if FORBIDDEN.search(line)]
    assert found == [], f"{module} queries the store itself; move the query to ciscope.queries: {found}"


def test_the_guard_sees_sql() -> None:
    """The pattern catches what it is meant to (a guard that matches nothing proves nothing)."""
    for line in ['rows = store.query("SELECT 1")', "table = s.query_arrow(sql)", "store.query_in(sql, ids)",
                 'x.execute("DELETE FROM runs")', '"SELECT job FROM jobs"']:
        assert FORBIDDEN.search(line), line
    assert not FORBIDDEN.search("from ..queries.runs import window_runs")
