"""`ciscope db migrate|info`."""

from __future__ import annotations

import click

from .app import Context, cli, format_option, stderr


@cli.group()
def db() -> None:
    """Inspect and migrate the store."""


@db.command()
@click.pass_obj
def migrate(obj: Context) -> None:
    """Bring the schema up to date (ingest, demo and reclassify do this on connect; read
    commands never change the schema and ask for this command when it is older than the code)."""
    from ..store.engine import connect

    store = connect(obj.db, migrate=False, wait=obj.wait, on_wait=obj._waiting, writable_lake=True)
    try:
        applied = store.migrate()
        stderr.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
        stderr.print(f"schema version {store.schema_version()}")
    finally:
        store.close()


@db.command()
@format_option
@click.pass_obj
def info(obj: Context, as_json: bool) -> None:
    """Engine, schema version and row counts."""
    from ..report import reports
    store = obj.store
    from ..queries.facts import row_counts

    value = {"url": obj.db, "engine": store.name, "schema_version": store.schema_version(), "rows": row_counts(store)}
    obj.output(value, reports.db_info)
