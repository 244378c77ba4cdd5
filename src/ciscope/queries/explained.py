"""The one definition of "explained by a known bug".

A failed test of a run is **explained** by bug B when

- B's fingerprint matched that test's own failure text in that run (evidence with ``test``), or
- B's fingerprint matched one of the run's logs (evidence without ``test``) and lists the test
  in its ``test_ids`` (compared without tempest-style attributes, see
  :func:`ciscope.model.plain_test_id`). A log match of a fingerprint without ``test_ids``
  classifies the run (elastic-recheck counts runs) but explains no particular test.

:func:`explain` applies the rule to one run's evidence. Its answers are stored in the
``explanations`` table (run_id, test, bug) when a run is written and whenever stored matches
change (``reclassify``), so every reader — reasons, triage, flakes, regressions, clusters,
the grid — asks the table the same question and never re-derives it: :func:`explained_sql`
in SQL, :func:`explained_pairs` as an Ibis expression, :func:`explained_pair_set`,
:func:`explaining_bugs` and :func:`explained_tests` read into memory (without loading Ibis:
triage, clusters, the reasons ``reclassify`` rewrites).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..model import Evidence, plain_test_id

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from ..store.base import Store

__all__ = ["explain", "explained_pair_set", "explained_pairs", "explained_sql", "explained_tests", "explaining_bugs"]


def explain(failing: Iterable[str], evidence: Iterable[Evidence],
            scoped: Mapping[str, Iterable[str]] | None = None) -> dict[str, set[str]]:
    """Per failing test (test ids of ``failing``), the bugs that explain it.

    ``scoped`` gives each bug's ``test_ids`` for log evidence whose ``explains`` is empty
    (evidence read back from the store carries none); evidence found at ingest carries its
    fingerprint's test_ids in ``explains``. Tests nothing explains are left out."""
    direct: dict[str, set[str]] = {}
    by_plain: dict[str, set[str]] = {}
    for e in evidence:
        if e.test is not None:
            direct.setdefault(e.test, set()).add(e.bug)
            continue
        tests = e.explains or (tuple(scoped.get(e.bug, ())) if scoped else ())
        for t in tests:
            by_plain.setdefault(plain_test_id(t), set()).add(e.bug)
    out: dict[str, set[str]] = {}
    for test in failing:
        bugs = set(direct.get(test, ()))
        if by_plain:
            bugs |= by_plain.get(plain_test_id(test), set())
        if bugs:
            out[test] = bugs
    return out


def explained_sql(run_id: str, test: str) -> str:
    """SQL condition: the failure of ``test`` (a column) in run ``run_id`` (a column) is
    explained by some known bug."""
    return f"EXISTS (SELECT 1 FROM explanations x WHERE x.run_id = {run_id} AND x.test = {test})"


def explained_pairs(table: Callable[[str], ir.Table]) -> ir.Table:
    """(run_id, test) of every failure some known bug explains, once each: anti-join a
    selection on both columns to leave the explained failures out."""
    x = table("explanations")
    return x.select("run_id", "test").distinct()


def explained_pair_set(store: Store) -> set[tuple[int, str]]:
    """(run_id, test) of every failure some known bug explains: the pairs of
    :func:`explained_pairs`."""
    return {(rid, test) for rid, test in store.query("SELECT DISTINCT run_id, test FROM explanations")}


def explaining_bugs(store: Store, run_id: int) -> dict[str, set[str]]:
    """Per failed test of run ``run_id`` that some known bug explains, the bugs that explain it."""
    out: dict[str, set[str]] = {}
    for test, bug in store.query("SELECT test, bug FROM explanations WHERE run_id = ?", (run_id,)):
        out.setdefault(test, set()).add(bug)
    return out


def explained_tests(store: Store, run_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per run of ``run_ids`` with an explained failure, the tests some known bug explains."""
    out: dict[int, set[str]] = {}
    for rid, test in store.query_in("SELECT DISTINCT run_id, test FROM explanations WHERE run_id IN ({marks})",
                                    list(run_ids)):
        out.setdefault(rid, set()).add(test)
    return out
