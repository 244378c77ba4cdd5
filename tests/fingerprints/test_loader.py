"""Fingerprint files: the real elastic-recheck queries load; every bad file is a clear rejection."""

from __future__ import annotations

import json

import pytest

from ciscope.errors import InputError
from ciscope.fingerprints import Fingerprint, FingerprintError, check, load_fingerprint, load_fingerprints


def write(tmp_path, name, text, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_all_91_real_elastic_recheck_queries_load(shared_data):
    fps, rejections = load_fingerprints(shared_data / "elastic-recheck" / "queries")
    assert rejections == []
    assert len(fps) == 91
    by_id = {fp.id: fp for fp in fps}
    assert by_id["1708704"].allow_nonvoting
    assert by_id["1410969"].suppress_graph and by_id["1410969"].suppress_notification
    assert by_id["1775947"].test_ids == (
        "tempest.api.compute.servers.test_device_tagging.TaggedAttachmentsTest.test_tagged_attachment",)
    assert sum(fp.suppress_graph for fp in fps) == 7
    assert all(fp.kind == "query" and fp.query is not None and fp.query.anchors for fp in fps)
    # the three whose required text is shorter than 16 characters are flagged
    broad = sorted(fp.id for fp in fps if any("too broad" in w for w in fp.warnings))
    assert broad == ["1739482", "1813147", "1847759"]


def test_elastic_recheck_fixture_queries_load(shared_data):
    base = shared_data / "elastic-recheck" / "test-fixtures"
    for sub in ("queries", "queries_with_filters", "suppressed_queries"):
        fps, rejections = load_fingerprints(base / sub)
        assert rejections == [] and fps


def test_check_output_shape(shared_data, tmp_path):
    entries = check(shared_data / "elastic-recheck" / "queries")
    assert len(entries) == 91 and all(e["ok"] for e in entries)
    assert set(entries[0]) == {"file", "id", "ok", "error", "hint", "warnings"}
    json.dumps(entries)  # what `ciscope fingerprints check --json` prints
    write(tmp_path, "1.yaml", 'query: message:"disk full on the worker"\n')
    write(tmp_path, "2.yaml", "query: message:foo~2\n")
    out = check(tmp_path)
    assert [(e["id"], e["ok"]) for e in out] == [("1", True), ("2", False)]
    assert out[1]["error"].startswith("line 1, query") and "fuzzy" in out[1]["error"] and out[1]["hint"]


def test_missing_directory_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_fingerprints(tmp_path / "nope")


BAD = [
    ("bad-yaml.yaml", 'query: message:"a" AND\n  title: [unclosed\n', "YAML syntax error", "line"),
    ("empty.yaml", "", "empty", None),
    ("list.yaml", "- a\n- b\n", "holds a mapping", None),
    ("nothing.yaml", "title: no query here\n", "no query, regex or subject", None),
    ("both.yaml", 'query: message:"some error text"\nregex: "some error text"\n', "together", "line 2"),
    ("badregex.yaml", "regex: 'unbalanced (paren here'\n", "does not compile", None),
    ("emptyregex.yaml", "regex: 'x*'\n", "empty text", None),
    ("perlonly.yaml", r"regex: '\p{L}+ failed badly'" + "\n", "Unicode property", None),
    ("midflag.yaml", "regex: 'abc(?i)def and more'\n", "only supported at the start", None),
    ("fuzzy.yaml", "query: message:timeout~2\n", "fuzzy", "character"),
    ("proximity.yaml", 'query: message:"a b"~3\n', "proximity", None),
    ("range.yaml", "query: error_pr:[-1000 TO -10]\n", "range", None),
    ("range2.yaml", "query: build_patchset:[1 TO 5]\n", "range", None),
    ("lregex.yaml", "query: message:/time.*out/\n", "regular-expression term", None),
    ("ops.yaml", "query: message:a && message:b\n", "'&&'", None),
    ("nowords.yaml", 'query: message:"***" OR message:""\n', "no clause left", None),
    ("andand.yaml", 'query: message:"a b" AND AND tags:console\n', "syntax error", None),
    ("syntax.yaml", 'query: message:"unterminated AND tags:console\n', "syntax error", None),
    ("parens.yaml", 'query: (message:"abc def" AND tags:console\n', "syntax error", None),
    ("flag.yaml", 'query: message:"disk full here"\nsuppress-graph: "yes"\n', "true or false", "line 2"),
    ("testids.yaml", 'query: message:"disk full here"\ntest_ids: 3\n', "list of test ids", None),
    ("scopeq.yaml", 'query: message:"disk full here"\nscope: tags:console\n', "scope is for regex", None),
    ("scopeline.yaml", "regex: 'disk full on the worker'\nscope: message:foo\n", "scope may only name", None),
    ("subject.txt", "just a title without the marker\n", "no auto_review", None),
    ("noclose.txt", 'title auto_review:"abc def ghi jkl mno\n', "no closing double quote", None),
    ("latin1.yaml", b"query: message:\"caf\xe9 au lait\"\n", "not UTF-8", None),
]


@pytest.mark.parametrize("name,text,reason,place", BAD, ids=[b[0] for b in BAD])
def test_bad_files_are_rejections_with_reason_place_and_hint(tmp_path, name, text, reason, place):
    write(tmp_path, name, text, mode="wb" if isinstance(text, bytes) else "w")
    fps, rejections = load_fingerprints(tmp_path)
    assert fps == []
    [r] = rejections
    assert r["ok"] is False and r["file"].endswith(name)
    assert reason in r["error"], r["error"]
    assert r["hint"], r
    if place:
        assert place in r["error"], r["error"]
    with pytest.raises(FingerprintError):
        load_fingerprint(tmp_path / name)


def test_query_error_points_into_the_query(tmp_path):
    write(tmp_path, "9.yaml", 'title: x\nquery: >-\n  message:"disk full" AND\n  message:timeout~2\n')
    [r] = load_fingerprints(tmp_path)[1]
    assert r["error"].startswith("line 2, query, at character 32 (near ")
    assert "timeout~2" in r["error"] and "wildcard" in r["hint"]


def test_good_files_all_kinds(tmp_path):
    write(tmp_path, "100.yaml", "query: >\n  message:\"Connection refused to the database\"\n"
                                "  AND tags:console\ntitle: DB down\nurl: https://bugs/100\nretry: true\n")
    write(tmp_path, "101.yaml", "regex: 'backend died: .*VNC.*(timeout|timed out|refused)'\n"
                                "scope: 'tags:\"autoinst-log.txt\"'\nforce_result: softfailed\n")
    write(tmp_path, "102.yaml", "subject: '[qe-sap] test fails in network_peering "
                                "auto_review:\"az network vnet peering create.+failed\":retry'\n")
    write(tmp_path, "103.txt", 'Job incompletes auto_review:"(?m)api failure: 400 response$" (no details)\n')
    write(tmp_path, "README.md", "not a fingerprint\n")
    write(tmp_path, "README.txt", "not a fingerprint either\n")
    write(tmp_path, "notes.json", "{}\n")
    fps, rejections = load_fingerprints(tmp_path)
    assert rejections == []
    by_id = {fp.id: fp for fp in fps}
    assert sorted(by_id) == ["100", "101", "102", "103"]
    assert by_id["100"].retry and by_id["100"].title == "DB down" and by_id["100"].url == "https://bugs/100"
    assert by_id["101"].kind == "regex" and by_id["101"].scope is not None and by_id["101"].force_result == "softfailed"
    assert by_id["102"].retry and by_id["102"].source == "az network vnet peering create.+failed"
    assert by_id["102"].title == "[qe-sap] test fails in network_peering"
    assert by_id["103"].flags == "m" and not by_id["103"].retry


def test_warnings_unknown_keys_and_short_regex(tmp_path):
    write(tmp_path, "1.yaml", "regex: 'died: VNC'\nresolved_at: 2014-01-01\ncolour: red\n")
    [fp], _ = load_fingerprints(tmp_path)
    text = " | ".join(fp.warnings)
    assert "only 9 characters" in text and "resolved_at" in text and "'colour'" in text


def test_query_without_text_warns_slow(tmp_path):
    write(tmp_path, "1.yaml", 'query: build_name:"nova-live-migration" AND NOT message:"ok"\n')
    [fp], _ = load_fingerprints(tmp_path)
    assert any("every line" in w for w in fp.warnings)


def test_duplicate_ids_are_rejected(tmp_path):
    write(tmp_path, "7.yaml", "regex: 'some long enough regex'\n")
    write(tmp_path, "7.txt", 'x auto_review:"another long enough one"\n')
    fps, rejections = load_fingerprints(tmp_path)
    assert len(fps) == 1 and "duplicate id '7'" in rejections[0]["error"]


def test_constructors():
    fp = Fingerprint.from_query('message:"x y z"', id="q", allow_nonvoting=True, test_ids=["a.b"])
    assert fp.allow_nonvoting and fp.test_ids == ("a.b",)
    with pytest.raises(FingerprintError, match="fuzzy"):
        Fingerprint.from_query("message:nope~1")
    assert Fingerprint.from_subject('t auto_review:"abc":retry').retry
