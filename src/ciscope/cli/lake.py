"""`ciscope export --parquet DIR`: the store as a Hive-partitioned Parquet lake."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from .app import (
    Context,
    cli,
    emit_json,
    format_option,
    progress_bar,
    stderr,
    window_options,
)

if TYPE_CHECKING:
    from ..queries.window import Window


@cli.command("export")
@click.option("--parquet", "target", required=True, metavar="DIR", type=click.Path(path_type=str),
              help="Write a Parquet lake to DIR (replaced atomically; read it back with --db parquet:///DIR).")
@window_options()
@format_option
@click.pass_obj
def export(obj: Context, target: str, window: Window, as_json: bool) -> None:
    """Write every table of the store as Hive-partitioned Parquet (by day and job), atomically.

    Spark, Trino, BigQuery external tables and DuckDB read the lake as it is; `--db
    parquet:///DIR` runs every read command on it. With a window (--days, --job …) only the
    (day, job) partitions holding a selected run are rewritten, whole; the lake's other
    partitions are kept.
    """
    from ..report.reports import lake_export
    from ..store.parquet import export_parquet

    with progress_bar("export") as update:
        report = export_parquet(obj.store, target, window, progress=update)
    if as_json:
        emit_json(dataclasses.asdict(report))
        return
    obj.show(lake_export(report))
    stderr.print(f"lake at {report.path}: {report.rows:,} rows, {report.bytes:,} bytes, "
                 f"{report.partitions_written} partitions written, {report.partitions_kept} kept, {report.seconds:.1f} s",
                 markup=False)
