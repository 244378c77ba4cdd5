"""Failure clustering: triage-style normalization, merging, stable ids, suggested fingerprints.

Real data: the 10 loghub-2k systems (``loghub-2k-templates`` in the shared data); their
EventId labels are the expected grouping. The floors below are the accuracies measured when
this was written (benchmarks/BENCHMARKS.md, "Failure clustering"), rounded down.
"""

from __future__ import annotations

import random
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ciscope.analysis.clusters import MAX_TEXT, Cluster, cluster, normalize, suggest_regex

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

GOLDEN = [
    # triage's own vector (text_test.go), with typed masks instead of UNIQ1, UNIQ2, UNIQ3
    ("0x1234 a 123.13.45.43 b 2e24e003-9ffd-4e78-852c-9dcb6cbef493-123", "<HEX> a <IP> b <UUID>"),
    # the time formats triage masks
    ("Mon, 12 January 2017 11:34:35 -0700 boom", "<TIME> boom"),
    ("Jan  1 00:00:00.000 boom", "<TIME> boom"),
    ("2006-01-02T15:04:05.000Z boom", "<TIME> boom"),
    ("I0102 15:04:05.000123 1234 reflector.go:138] boom", "<TIME> <NUM> reflector.go:<NUM>] boom"),
    ("12/10/25 13:52:29.244 boom", "<TIME> boom"),
    # more times: ctime with year, log4j comma millis, compact, bare clock
    ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child", "[<TIME>] [error] mod_jk child"),
    ("2015-10-18 18:01:47,978 INFO [main] created", "<TIME> INFO [main] created"),
    ("20171224-0:2:31:74|Step_LSC|30002312|onStandStepChanged 3579", "<TIME>|Step_LSC|<NUM>|onStandStepChanged <NUM>"),
    ("at 15:04:05 it broke", "at <TIME> it broke"),
    # addresses and ports
    ("dial tcp 10.0.3.7:6443: connect: connection refused", "dial tcp <IP>:<PORT>: connect: connection refused"),
    ("listen on [fe80::1ff:fe23:4567:890a]:443 and ::1", "listen on [<IP>]:<PORT> and <IP>"),
    ("std::vector and Foo::Bar stay", "std::vector and Foo::Bar stay"),
    ("GET localhost:34567/healthz", "GET localhost:<PORT>/healthz"),
    # node and pod names
    ("node gke-c-default-pool-1a2b3c4d-x9zq not ready", "node gke-c-default-pool-<NODE> not ready"),
    ("on ip-10-0-1-23.ec2.internal and i-0abcdef1234567890 and kind-worker2",
     "on <NODE> and <NODE> and <NODE>"),
    ("pod coredns-5d78c9869d-x2x4z crashed; ns e2e-tests-kubectl-8xq2v", "pod coredns-<POD> crashed; ns e2e-tests-kubectl-<POD>"),
    ("statefulset web-0 and web-12", "statefulset web-<NUM> and web-<NUM>"),
    # durations, numbers, hex, temporary paths
    ("took 1m30.5s, then 250ms, then 3 seconds", "took <DURATION>, then <DURATION>, then <DURATION>"),
    ("commit a1b2c3d4e5 deadbeef x86_64 k8s e2e sha256 build12345 python3.11 v1.2.3 3.14",
     "commit <HEX> deadbeef x86_<NUM> k8s e2e sha256 build<NUM> python3.11 v1.2.3 <NUM>"),
    ("open /tmp/pytest-of-ci/pytest-3/test_x0/data.json: no such file", "open <PATH>: no such file"),
    (r"C:\Users\ci\AppData\Local\Temp\abc123\x.log missing", "<PATH> missing"),
    ('File "/usr/lib/python3.11/site-packages/foo.py", line 123, in bar',
     'File "/usr/lib/python3.11/site-packages/foo.py", line <NUM>, in bar'),
    # Go maps are printed in random order: sorted
    ("map[b:2 a:1 c:0x12]", "map[a:<NUM> b:<NUM> c:<HEX>]"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_normalize_golden(text, expected):
    assert normalize(text) == expected


def test_normalize_shortens_long_texts_like_triage():
    repeated = "same line\n" * 5_000 + "the end"
    assert normalize(repeated) == "same line\nthe end"
    long = "".join(f"line {chr(97 + k % 26) * 30}\n" for k in range(2_000))
    out = normalize(long)
    assert len(out) == MAX_TEXT + len("\n...[truncated]...\n")
    assert out.startswith(long[:100]) and out.endswith(long[-100:]) and "\n...[truncated]...\n" in out


def failures(texts, **keys):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [{"text": text, "run": f"r{k}", "job": keys.get("job", "j"), "test": f"t{k % 3}",
             "time": t0 + timedelta(hours=k)} for k, text in enumerate(texts)]


TIMEOUT = "timed out after {d} waiting for pod etcd-{pod} in namespace e2e-{n} to become ready on {ip}"
ASSERT = "AssertionError: expected {n} replicas of the console deployment to be available, got {m}"


def varied(template, count, seed=1):
    rng = random.Random(seed)
    pods = "bcdfghjklmnpqrstvwxz2456789"
    return [template.format(d=f"{rng.randint(1, 600)}s", pod="".join(rng.choices(pods, k=9)) + "-" + "".join(rng.choices(pods, k=5)),
                            n=rng.randint(0, 9999), m=rng.randint(0, 9), ip=f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
            for _ in range(count)]


def test_cluster_merges_near_duplicates_and_separates_templates():
    texts = varied(TIMEOUT, 20) + varied(ASSERT, 10, seed=2)
    # a near-duplicate (a few characters changed) joins its template's cluster
    texts.append(texts[0].replace("waiting for", "waiting on"))
    clusters = cluster(failures(texts))
    assert [c.size for c in clusters] == [21, 10]
    assert clusters[0].normalized == ("timed out after <DURATION> waiting for pod etcd-<POD> in namespace "
                                      "e2e-<NUM> to become ready on <IP>")
    assert clusters[0].variants == 2
    assert (clusters[0].runs, clusters[0].tests, clusters[0].jobs) == (21, 3, 1)
    assert clusters[0].first_seen < clusters[0].last_seen
    assert clusters[0].example == texts[0]  # the representative group's earliest failure


def test_short_texts_merge_only_when_identical_after_normalization():
    clusters = cluster(failures(["exit status 1", "exit status 2", "exit status x"]))
    assert sorted(c.size for c in clusters) == [1, 2]  # 10 % of 13 characters is 1: no fuzzy merge


def test_ids_are_stable_across_input_order():
    texts = varied(TIMEOUT, 15) + varied(ASSERT, 15, seed=3) + ["something else entirely broke here"]
    first = cluster(failures(texts))
    shuffled = failures(texts)
    random.Random(9).shuffle(shuffled)
    second = cluster(shuffled)
    assert [(c.id, c.size, c.normalized, c.example, c.suggested_fingerprint) for c in first] == \
           [(c.id, c.size, c.normalized, c.example, c.suggested_fingerprint) for c in second]
    assert re.fullmatch(r"[0-9a-f]{16}", first[0].id)


def test_cluster_json_shape_and_record_types():
    class Record:  # objects with attributes work as well as mappings
        def __init__(self, text):
            self.text, self.run, self.job, self.test, self.time = text, "r1", "j", "t", None

    (only,) = cluster([Record("Error: boom 42")])
    assert isinstance(only, Cluster)
    assert list(only.to_dict()) == ["id", "size", "runs", "tests", "jobs", "first_seen", "last_seen", "example",
                                    "normalized", "suggested_fingerprint"]
    assert only.first_seen is None and only.members == [("r1", "j", "t", None)]
    stamped = cluster(failures(["Error: boom 42"]))[0].to_dict()
    assert stamped["first_seen"] == datetime(2026, 1, 1, tzinfo=timezone.utc)  # the JSON writer adds the Z
    assert cluster([]) == []


def test_suggested_fingerprints_match_members_only():
    texts = varied(TIMEOUT, 20) + varied(ASSERT, 10, seed=2)
    clusters = cluster(failures(texts))
    for c in clusters:
        pattern = c.suggested_fingerprint
        assert pattern is not None and len(pattern) >= 16
        own = set(c.members)
        for record in failures(texts):
            key = (record["run"], record["job"], record["test"], record["time"])
            assert bool(re.search(pattern, record["text"])) == (key in own), (pattern, record["text"])


def test_suggest_regex_is_readable_and_anchors_when_needed():
    members = ["dial tcp 10.0.0.7:6443: connect: connection refused", "dial tcp 10.1.2.3:443: connect: connection refused"]
    assert suggest_regex(members) == r"dial tcp [0-9a-fA-F:.]+:\d+: connect: connection refused"
    # a non-member that extends the members' text is told apart by anchoring at the end
    anchored = suggest_regex(members, ["dial tcp 10.0.0.7:6443: connect: connection refused (retrying)"])
    assert anchored is not None and anchored.endswith(r"\s*$")
    # impossible: a non-member identical to a member
    assert suggest_regex(members, [members[0]]) is None
    assert suggest_regex([]) is None


WORDS = st.sampled_from("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split())
VALUES = st.one_of(st.integers(0, 99999).map(str), st.ip_addresses(v=4).map(str), st.uuids().map(str),
                   st.integers(1, 600).map(lambda n: f"{n}ms"))


@settings(max_examples=60, deadline=None)
@given(template=st.lists(st.one_of(WORDS, st.just("{}")), min_size=3, max_size=12),
       members=st.lists(st.lists(VALUES, min_size=12, max_size=12), min_size=1, max_size=5),
       others=st.lists(st.lists(st.one_of(WORDS, VALUES), min_size=1, max_size=12).map(" ".join), max_size=5))
def test_suggest_regex_property(template, members, others):
    texts = [" ".join(values[k] if part == "{}" else part for k, part in enumerate(template)) for values in members]
    others = [o for o in others if o not in texts]
    pattern = suggest_regex(texts, others)
    if pattern is not None:
        assert len(pattern) >= 16
        assert all(re.search(pattern, t) for t in texts)
        assert not any(re.search(pattern, o) for o in others)


# --- real data -------------------------------------------------------------------------------

# Grouping accuracy measured on loghub-2k (benchmarks/BENCHMARKS.md), rounded down: floors.
LOGHUB_FLOOR = {"ga_raw": 0.58, "ga_content": 0.73}


@pytest.fixture(scope="module")
def loghub(shared_data):
    from bench_clusters import loghub_systems

    if not (shared_data / "loghub-2k-templates").is_dir():
        pytest.skip("loghub-2k-templates not in the shared data")
    return loghub_systems(shared_data)


def test_loghub_grouping_accuracy_floor(loghub):
    from bench_clusters import cluster_labels, grouping_scores

    assert len(loghub) == 10
    means = {}
    for mode, column in (("raw", 0), ("content", 1)):
        scores = [grouping_scores(data[2], cluster_labels(data[column])) for data in loghub.values()]
        means[f"ga_{mode}"] = sum(ga for ga, _ in scores) / len(scores)
        assert all(purity > 0.85 for _, purity in scores)
    assert means["ga_raw"] >= LOGHUB_FLOOR["ga_raw"]
    assert means["ga_content"] >= LOGHUB_FLOOR["ga_content"]
    # Apache's 6 templates are recovered exactly
    apache = loghub["Apache"]
    assert grouping_scores(apache[2], cluster_labels(apache[0])) == (1.0, 1.0)
