"""auto_review regexes behave as openQA runs them: ``grep -qPzo REGEX autoinst-log.txt``."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ciscope.fingerprints import Fingerprint, Scanner
from ciscope.fingerprints.model import Invalid
from ciscope.fingerprints.regex import compile_regex, parse_subject

TEXTS = [
    b"[info] start\nbackend died: Error connecting to VNC server: timeout\nResult: died\n",
    b"api failure: 503\nfoo bar\napi failure\n",
    b"az network vnet peering create. something failed\n",
    b"first line\r\nsecond\tline  with  spaces\n\nLAST LINE",
    b"Download of x.qcow2 failed: 404 Not Found\nccc Result: setup failure\n",
    b"xa\nb c\nd\n",
]

PATTERNS = [
    r"backend died: .*VNC.*(timeout|timed out|refused)",
    r"(?m)api failure$",
    r"api failure$",
    r"api failure\n$",
    r"api failure\Z",
    r"api failure\n\z",
    r"^\[info\] start",
    r"(?m)^foo bar$",
    r"Download of .* failed: 404[\S\s]*Result: setup failure",
    r"Download of .* failed: 404.*Result: setup failure",
    r"(?s)Download of .* failed: 404.*Result: setup failure",
    r"az network vnet peering create.+failed",
    r"(?i)BACKEND DIED",
    r"second\h+line\h{2}with",
    r"first line\R",
    r"\Qvnet peering create.\E",
    r"[[:digit:]]{3} Not Found",
    r"(?<word>line)\s+\k<word>",
    r"(?<=Result: )died",
    r"(?<!Result: )died",
    r"a\nb",
    r"a\sb",
    r"a.b",
    r"LAST LINE\z",
    r"LAST LINE$",
    r"d\Z",
    r"\Ab c",
    r"(?m)^b c$",
    r"x\x{61}",
    r"(?x) api \  failure : \  503",
]


@pytest.mark.skipif(shutil.which("grep") is None, reason="grep not installed")
def test_same_answers_as_grep_pzo(tmp_path):
    probe = subprocess.run(["grep", "-qPz", "x"], input=b"x", capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"this grep has no -P: {probe.stderr.decode()[:100]}")
    files = []
    for i, text in enumerate(TEXTS):
        f = tmp_path / f"t{i}.txt"
        f.write_bytes(text)
        files.append(f)
    disagreements = []
    for pattern in PATTERNS:
        rx = compile_regex(pattern)
        for f, text in zip(files, TEXTS, strict=True):
            grep = subprocess.run(["grep", "-qPzo", pattern, str(f)], capture_output=True).returncode == 0
            ours = rx.search(text) is not None
            if grep != ours:
                disagreements.append((pattern, text[:30], grep, ours))
    assert disagreements == []


def test_multi_line_and_context_analysis():
    assert compile_regex(r"a[\S\s]*c").multiline
    assert compile_regex(r"a\nb").multiline
    assert compile_regex(r"a[^x]b").multiline  # a negated class matches a newline
    assert not compile_regex(r"a[^\n]*b").multiline
    assert not compile_regex(r"a.*b").multiline
    assert compile_regex(r"(?s)a.*b").multiline
    assert compile_regex(r"foo$").needs_context and compile_regex(r"\bfoo").needs_context
    assert not compile_regex(r"foo bar").needs_context
    r = compile_regex(r"(?i)Backend process died")
    assert r.literal == b"Backend process died" and r.caseless


@pytest.mark.parametrize("pattern,reason", [
    (r"\p{Lu}x", "Unicode property"),
    (r"(?|a|b)cd", "branch reset"),
    (r"(a(?R)?b)", "recursion"),
    (r"foo\Kbar", "is not supported"),
    (r"ab(?i)cd", "start of the pattern"),
    (r"[é]tat", "non-ASCII"),
    (r"(*UTF)abc", "verbs"),
    (r"(?<=a+)b", "does not compile"),
    (r"x?", "empty text"),
])
def test_rejected_perl_constructs(pattern, reason):
    with pytest.raises(Invalid, match=reason) as exc:
        compile_regex(pattern)
    assert exc.value.hint


def test_non_ascii_literals_match_as_utf8():
    rx = compile_regex("Zeitüberschreitung+")
    assert rx.search("… Zeitüberschreitungg\n".encode())


def test_subject_lines():
    assert parse_subject('[qe-sap] test fails auto_review:"az network vnet peering create.+failed"') == (
        "az network vnet peering create.+failed", False, None)
    assert parse_subject('x auto_review:"error 42 found":retry') == ("error 42 found", True, None)
    assert parse_subject('x auto_review:"com:a b failed":force_result:softfailed') == (
        "com:a b failed", False, "softfailed")
    assert parse_subject('x auto_review:"e":retry:force_result:softfailed') == ("e", True, "softfailed")
    assert parse_subject('Job incompletes auto_review:"(?m)api failure$" (and no further details)') == (
        "(?m)api failure$", False, None)
    with pytest.raises(Invalid, match="before auto_review"):
        parse_subject('a "quoted" word auto_review:"abc"')


def test_openqa_fixture_logs(shared_data):
    data = shared_data / "openqa" / "os-autoinst-scripts" / "test" / "data"
    peering = Fingerprint.from_subject(
        '[qe-sap] test fails in network_peering auto_review:"az network vnet peering create.+failed"', id="137420")
    died = Fingerprint.from_regex(r"Backend process died, backend errors are reported below[\S\s]*line3", id="1")
    setup = Fingerprint.from_regex(r"Download of .* failed: 404[\S\s]*Result: setup failure", id="2")
    api = Fingerprint.from_subject(
        'Job incompletes with reason auto_review:"(?m)api failure$" (and no further details)', id="73375")
    scanner = Scanner([peering, died, setup, api])
    got = {f.name: [(m.fingerprint, m.line) for m in scanner.scan_file(f, file="autoinst-log.txt")]
           for f in sorted(data.glob("0*.txt*"))}
    assert got["04-autoinst.txt"] == [("137420", 2)]
    assert got["01-os-autoinst.txt.1"] == [("1", 2)]
    assert got["01-os-autoinst.txt.3"] == [("2", 2)]
    assert got["01-os-autoinst.txt.2"] == []
    # the job's reason is appended to the log text (openQA does so) and matched too
    reason = "api failure"
    assert [m.fingerprint for m in scanner.scan_text("log text\n" + reason)] == ["73375"]
