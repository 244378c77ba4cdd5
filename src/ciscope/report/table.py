"""One column spec per report, rendered by one renderer as a terminal table, CSV or Markdown.

A report is a :class:`View`: an optional heading line, one or more :class:`Section` (a title,
rows, and the :class:`Column` list that says how to show them) and notes. Each column names
its value once (``get``) and how a person reads it (``fmt``); the terminal table and Markdown
show ``fmt(value)``, CSV writes the value itself in a machine-readable form (ISO 8601 times
with ``Z``, plain numbers, empty for none). JSON is not rendered from the spec: commands emit
their result objects as they are (see docs/json.md).

Example::

    >>> import io
    >>> view = View([Section([Column("job", "job", lambda r: r["job"]),
    ...                       Column("pass_rate", "pass", lambda r: r["rate"], pct, right=True)],
    ...                      [{"job": "e2e", "rate": 0.5}])])
    >>> out = io.StringIO(); write_csv(view, out); out.getvalue().splitlines()
    ['job,pass_rate', 'e2e,0.5']
    >>> out = io.StringIO(); write_markdown(view, out); out.getvalue().splitlines()
    ['| job | pass |', '| --- | ---: |', '| e2e | 50.0% |']
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

FORMATS = ("table", "json", "csv", "markdown")


def text(value: Any) -> str:
    """A value as a person reads it: ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def when(value: datetime | None) -> str:
    """A time to the minute, UTC (stored times are naive UTC)."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M")


def iso(value: datetime) -> str:
    """ISO 8601 UTC with ``Z``, as the JSON output writes times (naive times are UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def short(width: int) -> Callable[[Any], str]:
    """Cut a long value (a commit, a long message) to ``width`` characters."""
    def fmt(value: Any) -> str:
        shown = text(value)
        return shown if len(shown) <= width else shown[: width - 1] + "…"
    return fmt


@dataclass(frozen=True, slots=True)
class Column:
    """``name``: the CSV header; ``header``: the table and Markdown header; ``get(row)``: the
    value; ``fmt(value)``: how a person reads it (a str, or a rich Text for coloured cells);
    ``right``: right-aligned (numbers); ``style(value)``: a rich style for the cell;
    ``nowrap``: never folded (the terminal folds the other columns first)."""

    name: str
    header: str
    get: Callable[[Any], Any]
    fmt: Callable[[Any], str | Text] = text
    right: bool = False
    style: Callable[[Any], str] | None = None
    nowrap: bool = False

    def cell(self, row: Any) -> Text:
        from rich.text import Text
        value = self.get(row)
        shown = self.fmt(value)
        if isinstance(shown, Text):
            return shown
        return Text(shown, style=self.style(value) if self.style else "")  # data, never markup


@dataclass(slots=True)
class Section:
    columns: Sequence[Column]
    rows: Sequence[Any]
    title: str | None = None


@dataclass(slots=True)
class View:
    """What a read command shows: the terminal and Markdown show the heading, every section
    and the notes; CSV (one table per file) writes ``csv``, by default the first section."""

    sections: list[Section]
    heading: str | None = None
    notes: list[str] = field(default_factory=list)
    csv: Section | None = None


def csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)) and not any(isinstance(v, (dict, list)) for v in value):
        return ";".join(str(csv_value(v)) for v in value)
    if isinstance(value, (dict, list, tuple)):
        import orjson

        return orjson.dumps(value, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z).decode()
    return value


def write_csv(view: View, out: IO[str]) -> None:
    section = view.csv or view.sections[0]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in section.columns])
    for row in section.rows:
        writer.writerow([csv_value(c.get(row)) for c in section.columns])


def _md(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def write_markdown(view: View, out: IO[str]) -> None:
    blocks: list[str] = []
    if view.heading:
        blocks.append(_md(view.heading))
    for section in view.sections:
        lines = [f"**{_md(section.title)}**", ""] if section.title else []
        lines.append("| " + " | ".join(_md(c.header) for c in section.columns) + " |")
        lines.append("| " + " | ".join("---:" if c.right else "---" for c in section.columns) + " |")
        for row in section.rows:
            lines.append("| " + " | ".join(_md(c.cell(row).plain) for c in section.columns) + " |")
        blocks.append("\n".join(lines))
    blocks.extend(_md(note) for note in view.notes)
    out.write("\n\n".join(blocks) + "\n")


def rich_table(section: Section) -> Table:
    from rich.table import Table
    table = Table(title=section.title, title_justify="left")
    for column in section.columns:
        table.add_column(column.header, overflow="fold", justify="right" if column.right else "left",
                         no_wrap=column.nowrap)
    for row in section.rows:
        table.add_row(*(column.cell(row) for column in section.columns))
    return table


def print_table(view: View, console: Console) -> None:
    from rich.text import Text
    parts: list[RenderableType] = []
    if view.heading:
        parts.append(Text(view.heading))
    parts.extend(rich_table(section) for section in view.sections)
    parts.extend(Text(note) for note in view.notes)
    for part in parts:
        console.print(part)
