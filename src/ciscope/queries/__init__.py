"""Queries over the store: the one home of the concepts every analysis shares.

- :mod:`.rules` — the status rules as SQL (failed verdict, failed attempt, failed run, the
  verdict counts, …), built from the enums and groupings of :mod:`ciscope.status`: no query
  spells a status literal itself;
- :mod:`.explained` — what "explained by a known bug" means (one definition);
- :mod:`.window` — which runs an analysis reads (job, time, branch, variants, tests) and
  what "now" is (one rule);
- :mod:`.verdicts` — the history analyses' aggregations as Ibis expressions, executed by the
  store's engine (DuckDB, PostgreSQL, Spark, chDB) and compiled for BigQuery, Trino and
  Snowflake by :mod:`.sqldoc` (docs/sql/);
- the reads of single reports, in portable SQL: :mod:`.grid` (TestGrid grids and imported tab
  summaries), :mod:`.runs` (the run list, per-test counts), :mod:`.history` (one test's
  history, every test's durations), :mod:`.triage` (the known-failure reports: ``triage``,
  ``bugs``, ``unclassified``, ``clusters``), :mod:`.disruption` (disruption and alert
  baselines, the runs with such data, ``disruption record``'s writes), :mod:`.timing`,
  :mod:`.failure_reasons`, and :mod:`.facts` (small facts: row counts, the stored jobs,
  whether a job has runs, which run a reference names);
- the reads and writes of the analyses that change the store (the writes run in the caller's
  transaction): :mod:`.known` (known-bug classification: fingerprint definitions, matches,
  explanations and reasons, rewritten by ``reclassify``) and :mod:`.retrigger` (retrigger
  candidates, bounds and the ``retriggers`` log).

These modules name tables and columns; analyses call them instead of writing their own
WHERE clauses. (Issue 9 moves the SQL of the analyses here: flaky and regressions (as Ibis
expressions), the grid, runs, tests, test-history, slowdown, known-failure and disruption
reports, known-bug classification and retriggers are done, and the web's reports hold none;
``tests/test_layering.py`` keeps them so.)
"""
