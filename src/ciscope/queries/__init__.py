"""Queries over the store: the one home of the concepts every analysis shares.

- :mod:`.explained` — what "explained by a known bug" means (one definition);
- :mod:`.window` — which runs an analysis reads (job, time, branch, variants, tests) and
  what "now" is (one rule);
- :mod:`.verdicts` — the history analyses' aggregations as Ibis expressions, executed by the
  store's engine (DuckDB, PostgreSQL, Spark, chDB) and compiled for BigQuery, Trino and
  Snowflake by :mod:`.sqldoc` (docs/sql/);
- :mod:`.triage` — the reads of the known-failure reports (``triage``, ``bugs``,
  ``unclassified``, ``clusters``), in SQL.

These modules name tables and columns; analyses call them instead of writing their own
WHERE clauses. (Issue 9 moves the remaining SQL of the analyses here, as Ibis expressions: flaky and
regressions are done; the known-failure reports' SQL is here, not yet as Ibis expressions.)
"""
