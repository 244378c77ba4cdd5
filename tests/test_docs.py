"""The docs stay true: the CLI reference is generated from the commands and must be current."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_current():
    import difflib

    from ciscope._clidoc import render

    current, rendered = (DOCS / "cli.md").read_text(), render()
    diff = "\n".join(difflib.unified_diff(current.splitlines(), rendered.splitlines(), lineterm="", n=1))
    assert current == rendered, f"docs/cli.md is stale (python -m ciscope._clidoc > docs/cli.md):\n{diff[:3000]}"


def test_every_docs_page_is_linked_from_the_readme():
    readme = (DOCS.parent / "README.md").read_text()
    missing = [p.name for p in DOCS.glob("*.md") if f"docs/{p.name}" not in readme]
    assert not missing, f"pages not linked from README.md: {missing}"


def test_compiled_sql_is_current():
    """docs/sql/ holds the main queries compiled for BigQuery, Trino and Snowflake from the Ibis
    expressions: regenerated, they must be the checked-in files (and no other file is there)."""
    from ciscope.queries.sqldoc import files

    expected = files()
    root = DOCS / "sql"
    present = {p.relative_to(root).as_posix() for p in root.rglob("*.sql")}
    assert present == set(expected), "python -m ciscope.queries.sqldoc docs/sql"
    stale = [path for path, text in expected.items() if (root / path).read_text() != text]
    assert not stale, f"docs/sql is stale (python -m ciscope.queries.sqldoc docs/sql): {stale}"
