"""The ``ciscope`` command group, its shared options and output helpers. Thin: parse arguments, call one library function, render.

Data goes to stdout (a table, JSON, CSV or Markdown: ``--format``, rendered from the report's
column spec in :mod:`ciscope.report.reports`); messages and progress to stderr, never hard-wrapped.

Exit codes: 0 success; 1 unexpected error; 2 usage error (bad option, unknown engine, an output
file that cannot be written); 3 some input was refused (the rest was stored; each refusal is
listed); 4 store error (no store, locked past --wait, schema too old, not writable);
130 interrupted (Ctrl-C).

Read commands open the store read-only (:attr:`Context.store`: it must exist, is never created
nor migrated); only ingest, demo, reclassify and db migrate write (:attr:`Context.writable_store`).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from .. import __version__
from ..errors import CiscopeError, UsageError
from ..report.table import FORMATS, View, print_table, write_csv, write_markdown
from ..store import DEFAULT_URL

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ..store.base import Store



class _Stderr:
    """The console for messages on stderr, made on first use: importing rich costs about a
    third of a ``ciscope --help`` that never prints through it (issue 13)."""

    _console: Console | None = None

    def console(self) -> Console:
        if _Stderr._console is None:
            from rich.console import Console

            # soft_wrap: a message is one line however long (a path is never split across lines)
            _Stderr._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return _Stderr._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console(), name)


stderr: Console = cast("Console", _Stderr())
DEFAULT_WAIT = 60.0
F = TypeVar("F", bound=Callable[..., Any])


def _out() -> Console:
    """Console for data on stdout. Piped output gets a wide page instead of rich's 80
    columns, so tables stay readable in files and pipes (COLUMNS still wins)."""
    from rich.console import Console
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console = Console(highlight=False, soft_wrap=True, width=240)
    return console


def emit_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
    )
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(label: str) -> Iterator[Any]:
    """A progress bar on stderr; yields a callback(done, total)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=cast(_Stderr, stderr).console(),
        transient=False,
        disable=not stderr.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


class Context:
    """What every command gets: the store (read-only or writable), the fingerprint directory,
    and the output format chosen with ``--format``/``--json``."""

    def __init__(self, db: str, fingerprints: str | None = None, fingerprints_from_env: bool = False,
                 wait: float = DEFAULT_WAIT) -> None:
        self.db = db
        self.fingerprints = fingerprints
        self.fingerprints_from_env = fingerprints_from_env  # errors then name CISCOPE_FINGERPRINTS
        self.wait = wait
        self.format = "table"
        self._store: Store | None = None
        self._writable: Store | None = None

    def fingerprint_dir(self) -> Path | None:
        """--fingerprints, else CISCOPE_FINGERPRINTS, else ./fingerprints when it exists."""
        from ..analysis.known import fingerprint_dir

        return fingerprint_dir(None if self.fingerprints_from_env else self.fingerprints)

    @staticmethod
    def _waiting(message: str) -> None:
        stderr.print(message, markup=False)

    @property
    def store(self) -> Store:
        """The store for reading: it must exist (else "no store at …", exit 4); a DuckDB file
        is opened read-only; no migration runs. The writable store when one is open."""
        if self._writable is not None:
            return self._writable
        if self._store is None:
            # pyarrow and numpy: imported only by commands that use the store
            from ..store.engine import connect

            self._store = connect(self.db, read_only=True, wait=self.wait, on_wait=self._waiting)
        return self._store

    @property
    def writable_store(self) -> Store:
        """The store for writing: created (with its folder) when missing, migrated."""
        if self._writable is None:
            if self._store is not None:  # DuckDB: one process opens a file one way only
                self._store.close()
                self._store = None
            from ..store.engine import connect

            self._writable = connect(self.db, wait=self.wait, on_wait=self._waiting, writable_lake=True)
        return self._writable

    def close(self) -> None:
        for store in (self._store, self._writable):
            if store is not None:
                store.close()
        self._store = self._writable = None

    def output(self, value: Any, view: Callable[[Any], View]) -> None:
        """A read command's answer: ``value`` as JSON (``--json``/``--format json``), else the
        report ``view(value)`` in the chosen format."""
        if self.format == "json":
            emit_json(value)
        else:
            self.show(view(value))

    def show(self, view: View) -> None:
        """Write a report's view to stdout in the chosen format (table, csv or markdown)."""
        if self.format == "csv":
            write_csv(view, sys.stdout)
        elif self.format == "markdown":
            write_markdown(view, sys.stdout)
        else:
            print_table(view, _out())
        sys.stdout.flush()


setup_tests_option = click.option(
    "--setup-tests", metavar="REGEX", envvar="CISCOPE_SETUP_TESTS", show_envvar=True,
    default=None, help="Tests that set the job up: a run where one failed is an infrastructure failure, left out "
    "('' turns the rule off). Default: Sippy's install/infrastructure tests (see docs/flakes.md).")
json_option = click.option("--json", "as_json", is_flag=True, help="Write JSON to stdout instead of a table.")
job_option = click.option("--job", help="Only this job.")


def format_option(command: F) -> F:
    """``--format table|json|csv|markdown`` and ``--json`` (the alias of ``--format json``).
    The command still receives ``as_json``; the format is in :attr:`Context.format`, which
    :meth:`Context.show` follows."""

    @click.option("--format", "output_format", type=click.Choice(FORMATS), default=None,
                  help="Output: table (default), json, csv (the main table) or markdown.")
    @click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
    @functools.wraps(command)
    def wrapper(*args: Any, output_format: str | None, as_json: bool, **kwargs: Any) -> Any:
        if as_json and output_format not in (None, "json"):
            raise UsageError(f"--json and --format {output_format} contradict each other: give one")
        chosen = "json" if as_json else output_format or "table"
        context = click.get_current_context().find_object(Context)
        if context is not None:
            context.format = chosen
        return command(*args, as_json=chosen == "json", **kwargs)

    return wrapper  # type: ignore[return-value]


def output_file(param: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback for an option naming a file to write: its folder must exist and be
    writable (checked before any work; a usage error, exit 2)."""

    def check(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        folder = os.path.dirname(os.path.abspath(value))
        if os.path.isdir(value):
            raise click.BadParameter(f"{value}: is a folder; give a file name", param_hint=param)
        if not os.path.isdir(folder):
            raise click.BadParameter(f"{value}: no folder {folder}", param_hint=param)
        if not os.access(folder, os.W_OK):
            raise click.BadParameter(f"{value}: folder {folder} is not writable", param_hint=param)
        return value

    return check


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    envvar="CISCOPE_DB",
    default=DEFAULT_URL,
    show_default=True,
    help="Store URL: duckdb:///PATH (relative), duckdb:////ABS/PATH, duckdb://:memory:, postgresql://USER@HOST:PORT/DB, "
         "or a Parquet lake read by parquet:///DIR (DuckDB), chdb:///DIR (embedded ClickHouse), "
         "clickhouse://HOST:8123/DATABASE?lake=DIR (a ClickHouse server; DIR as its file() sees it), "
         "spark://local[2]?lake=DIR or spark://HOST:PORT?lake=DIR (PySpark); ingest, reclassify and the other writing "
         "commands write a local lake through a DuckDB working copy; docs/store.md. Env: CISCOPE_DB.",
)
@click.option(
    "--fingerprints",
    envvar="CISCOPE_FINGERPRINTS",
    type=click.Path(path_type=str),
    help="Fingerprint directory (one YAML file per known bug). Env: CISCOPE_FINGERPRINTS. Default: ./fingerprints when it exists.",
)
@click.option(
    "--wait",
    envvar="CISCOPE_WAIT",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for a DuckDB store another process has open for writing (0: fail at once). "
         "`ciscope serve` shares one store between many clients. Env: CISCOPE_WAIT.",
)
@click.version_option(__version__, prog_name="ciscope")
@click.pass_context
def cli(ctx: click.Context, db: str, fingerprints: str | None, wait: float) -> None:
    """ciscope: is it me, a known bug, a flake, or a regression?

    Ingest CI job runs and test results, keep their history, and ask it questions.
    """
    context = Context(db, fingerprints, ctx.get_parameter_source("fingerprints") is click.core.ParameterSource.ENVIRONMENT,
                      wait)
    ctx.obj = context
    ctx.call_on_close(context.close)


def _variants(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        if "=" not in value:
            raise click.BadParameter(f"{value!r}: expected key=value, e.g. platform=aws", param_hint="--variant")
        key, _, val = value.partition("=")
        out[key.strip()] = val.strip()
    return out


def _datetime(value: str | None, option: str = "--started") -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected an ISO 8601 time such as 2026-11-01T12:00:00Z "
                                 "or 2026-11-01", param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def window_options(*, days: bool = True, job: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The filters every read command shares (one :class:`ciscope.queries.window.Window`,
    passed to the command as ``window``): --job, --days, --since, --until, --branch,
    --variant KEY=VALUE, --test REGEX."""
    from ..queries.window import Window

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name, None) for name in ("since", "until", "branch", "test_regex")}
            values["job"] = kwargs.pop("job", None) if job else None  # else the command's own JOB argument
            values["days"] = kwargs.pop("days", None) if days else None  # else the command's own --days
            variants = tuple(sorted(_variants(kwargs.pop("variant", ()) or ()).items()))
            kwargs["window"] = Window(job=values["job"], days=values["days"], since=_datetime(values["since"], "--since"),
                                      until=_datetime(values["until"], "--until"), branch=values["branch"],
                                      variants=variants, test=values["test_regex"])
            return command(*args, **kwargs)

        options = [
            *([click.option("--job", help="Only this job.")] if job else []),
            *([click.option("--days", type=click.FloatRange(min=0, min_open=True),
                            help="Only runs started in the N days before now (now: --until, else the newest run's start).")]
              if days else []),
            click.option("--since", metavar="TIME", help="Only runs started at or after TIME (ISO 8601; UTC unless a zone is given)."),
            click.option("--until", metavar="TIME", help="Only runs started before TIME; report windows end there (default: now)."),
            click.option("--branch", help="Only runs of this branch or release."),
            click.option("--variant", multiple=True, metavar="KEY=VALUE", help="Only runs with this variant (repeatable; all must hold)."),
            click.option("--test", "test_regex", metavar="REGEX", help="Only tests whose id matches REGEX (searched, not anchored)."),
        ]
        for option in reversed(options):
            run = option(run)
        return run

    return decorate



# helpers of the commands not yet written as report views (disruption, serve)
def _add_row(table: Table, *values: Any) -> None:
    """Add a row whose strings are data, not markup: test names like "[sig-network] …"
    would otherwise be eaten as rich markup tags."""
    from rich.text import Text
    table.add_row(*(value if isinstance(value, Text) else Text(str(value)) for value in values))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _fmt_time(value: datetime | str | None) -> str:
    if isinstance(value, str):  # an ISO 8601 time from a to_dict()
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def main() -> None:
    """Console entry point: render ciscope errors as one clear line and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:  # click turns Ctrl-C into Abort
        stderr.print("interrupted")
        sys.exit(130)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CiscopeError as exc:
        stderr.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise


