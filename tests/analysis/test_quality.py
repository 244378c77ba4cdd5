"""Floors on detector quality against the demo's ground truth (one seed; the benchmark script
benchmarks/quality.py measures three and records them in benchmarks/BENCHMARKS.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quality(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.evaluate(1, tmp_path_factory.mktemp("quality"))


def test_flaky_with_retries(quality):
    f = quality["flaky"]["retries"]
    assert f["true"] >= 5
    assert f["precision"] >= 0.95 and f["recall"] >= 0.95, f


def test_flaky_without_retries(quality):
    f = quality["flaky"]["no_retries"]
    assert f["true"] >= 5
    assert f["precision"] >= 0.95 and f["recall"] >= 0.95, f


def test_flakes_with_a_known_cause_are_reported_with_their_bug(quality):
    """Issue 8: a test that flakes because of a known bug is reported, with the right bug."""
    k = quality["flaky"]["known_cause"]
    assert k["reported"] >= 3
    assert k["precision"] >= 0.95, k


def test_regressions(quality):
    r = quality["regressions"]
    assert r["true"] >= 5
    assert r["precision"] >= 0.9 and r["recall"] >= 0.9, r
    assert r["first_bad_build_exact"] >= 0.9, r


def test_known_bug_matches_per_failure(quality):
    k = quality["known_bugs"]
    assert k["true"] >= 100
    assert k["precision"] >= 0.98 and k["recall"] >= 0.98, k
    assert 0 < k["classification_rate"] < 1


def test_unexplained_clusters_are_pure(quality):
    c = quality["clusters"]
    assert c["clusters"] >= 5 and c["members"] >= 100
    assert c["purity"] >= 0.95, c
