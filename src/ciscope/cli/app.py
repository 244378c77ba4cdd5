"""The ``ciscope`` command group, its shared options and output helpers. Thin: parse arguments, call one library function, render.

Data goes to stdout (tables, or JSON with ``--json``); messages and progress to stderr.

Exit codes: 0 success; 1 unexpected error; 2 usage error (bad option, unknown engine);
3 some input was refused (the rest was stored; each refusal is listed); 4 store error.
"""

from __future__ import annotations

import functools
import os
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click
import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from .. import __version__
from ..errors import CiscopeError
from ..store import DEFAULT_URL

if TYPE_CHECKING:
    from ..store.base import Store

stderr = Console(stderr=True, highlight=False)


def _out() -> Console:
    """Console for data on stdout. Piped output gets a wide page instead of rich's 80
    columns, so tables stay readable in files and pipes (COLUMNS still wins)."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console = Console(highlight=False, soft_wrap=True, width=240)
    return console


def emit_json(value: Any) -> None:
    sys.stdout.buffer.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
    )
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(label: str) -> Iterator[Any]:
    """A progress bar on stderr; yields a callback(done, total)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
        disable=not stderr.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


class Context:
    def __init__(self, db: str, fingerprints: str | None = None, fingerprints_from_env: bool = False) -> None:
        self.db = db
        self.fingerprints = fingerprints
        self.fingerprints_from_env = fingerprints_from_env  # errors then name CISCOPE_FINGERPRINTS
        self._store: Store | None = None

    def fingerprint_dir(self) -> Path | None:
        """--fingerprints, else CISCOPE_FINGERPRINTS, else ./fingerprints when it exists."""
        from ..analysis.known import fingerprint_dir

        return fingerprint_dir(None if self.fingerprints_from_env else self.fingerprints)

    @property
    def store(self) -> Store:
        if self._store is None:
            # pyarrow and numpy: imported only by commands that use the store
            from ..store.base import connect

            self._store = connect(self.db)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


setup_tests_option = click.option(
    "--setup-tests", metavar="REGEX", envvar="CISCOPE_SETUP_TESTS", show_envvar=True,
    default=None, help="Tests that set the job up: a run where one failed is an infrastructure failure, left out "
    "('' turns the rule off). Default: Sippy's install/infrastructure tests (see docs/flakes.md).")
json_option = click.option("--json", "as_json", is_flag=True, help="Write JSON to stdout instead of a table.")
job_option = click.option("--job", help="Only this job.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    envvar="CISCOPE_DB",
    default=DEFAULT_URL,
    show_default=True,
    help="Store URL: duckdb:///PATH (relative), duckdb:////ABS/PATH, duckdb://:memory:, or postgresql://USER@HOST:PORT/DB. Env: CISCOPE_DB.",
)
@click.option(
    "--fingerprints",
    envvar="CISCOPE_FINGERPRINTS",
    type=click.Path(path_type=str),
    help="Fingerprint directory (one YAML file per known bug). Env: CISCOPE_FINGERPRINTS. Default: ./fingerprints when it exists.",
)
@click.version_option(__version__, prog_name="ciscope")
@click.pass_context
def cli(ctx: click.Context, db: str, fingerprints: str | None) -> None:
    """ciscope: is it me, a known bug, a flake, or a regression?

    Ingest CI job runs and test results, keep their history, and ask it questions.
    """
    context = Context(db, fingerprints, ctx.get_parameter_source("fingerprints") is click.core.ParameterSource.ENVIRONMENT)
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


def window_options(*, days: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The filters every read command shares (one :class:`ciscope.queries.window.Window`,
    passed to the command as ``window``): --job, --days, --since, --until, --branch,
    --variant KEY=VALUE, --test REGEX."""
    from ..queries.window import Window

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name, None) for name in ("job", "since", "until", "branch", "test_regex")}
            values["days"] = kwargs.pop("days", None) if days else None  # else the command's own --days
            variants = tuple(sorted(_variants(kwargs.pop("variant", ()) or ()).items()))
            kwargs["window"] = Window(job=values["job"], days=values["days"], since=_datetime(values["since"], "--since"),
                                      until=_datetime(values["until"], "--until"), branch=values["branch"],
                                      variants=variants, test=values["test_regex"])
            return command(*args, **kwargs)

        options = [
            click.option("--job", help="Only this job."),
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



def _add_row(table: Table, *values: Any) -> None:
    """Add a row whose strings are data, not markup: test names like "[sig-network] …"
    would otherwise be eaten as rich markup tags."""
    table.add_row(*(value if isinstance(value, Text) else Text(str(value)) for value in values))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _fmt_time(value: datetime | str | None) -> str:
    if isinstance(value, str):  # an ISO 8601 time from a to_dict()
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _sparkline(counts: list[int], width: int) -> str:
    """Counts folded into ``width`` buckets, drawn with block characters."""
    if not counts:
        return ""
    step = max(1, -(-len(counts) // width))
    sums = [sum(counts[i:i + step]) for i in range(0, len(counts), step)]
    top = max(sums) or 1
    blocks = " ▁▂▃▄▅▆▇█"
    return "".join(blocks[min(8, -(-v * 8 // top))] for v in sums)


def main() -> None:
    """Console entry point: render ciscope errors as one clear line and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        stderr.print("aborted")
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CiscopeError as exc:
        stderr.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise


