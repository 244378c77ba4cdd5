"""The one-pass scanner: every backend finds exactly what a line-by-line reference finds."""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
import re

import pytest

from ciscope.errors import InputError
from ciscope.fingerprints import Fingerprint, Match, Scanner, available_backends, breadth, load_fingerprints
from ciscope.fingerprints.fields import FileContext, LineDoc
from ciscope.fingerprints.lucene import _Phrase
from ciscope.fingerprints.scan import admits as _admits
from ciscope.model import Run, RunStatus

BACKENDS = available_backends()

REGEXES = {
    "vnc": r"backend died: .*VNC.*(timeout|timed out|refused)",
    "quota": r"(?m)^ERROR: .*quota exceeded$",
    "trace": r"Traceback \(most recent call last\):\n(?:  .*\n)+\w*Error: disk full",
    "segv": r"(?i)segmentation fault[\S\s]{0,300}core dumped",
    "lookbehind": r"(?<=Result: )died",
    "backref": r"(\w+) failed, \1 retrying",
    "tail": r"exit code \d+$",
}


def message_phrases(node):
    if isinstance(node, _Phrase):
        return [node.text] if node.field == "message" else []
    out = []
    for attr in ("children", "must", "should"):
        for child in getattr(node, attr, ()) or ():
            out += message_phrases(child)
    child = getattr(node, "child", None)
    return out + (message_phrases(child) if child is not None and attr != "child" else [])


WORDS = "the of and to request instance volume server network port failed ok done retry waiting".split()


def corpus(seed: int, queries: list[Fingerprint], lines: int = 6000) -> bytes:
    rnd = random.Random(seed)
    phrases = [(fp, message_phrases(fp.query.root)) for fp in queries]
    out = []
    for i in range(lines):
        r = rnd.random()
        ts = f"2019-11-{1 + i % 28:02d} 12:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}"
        if r < 0.03:
            fp, ps = rnd.choice(phrases)
            ps = [p.upper() if rnd.random() < 0.2 else p for p in ps]
            if rnd.random() < 0.15:  # words at the gap bound (32 bytes), or past it
                ps = [p.replace(" ", rnd.choice([" " * 32, " :" + "-" * 29 + " ", " " * 33, " \u2013" * 11]), 1)
                      for p in ps]
            if rnd.random() < 0.3 and len(ps) > 1:
                ps = ps[:1]  # a partial hit: a false candidate
            out.append(f"{ts} | " + " -- ".join(ps))
        elif r < 0.035:
            out.append(f"{ts} backend died: Error connecting to VNC server {rnd.choice(['timeout', 'ok', 'refused'])}")
        elif r < 0.04:
            out.append(f"ERROR: volume {i} quota exceeded" + (" " if rnd.random() < 0.3 else ""))
        elif r < 0.043:
            out.append("Traceback (most recent call last):")
            for _ in range(rnd.randint(1, 4)):
                out.append(f'  File "x.py", line {i}, in f')
            out.append(rnd.choice(["OSError: disk full", "ValueError: nope"]))
        elif r < 0.046:
            out.append("Segmentation Fault")
            out.extend(f"  frame {k}" for k in range(rnd.randint(0, 6)))
            out.append("(core dumped)")
        elif r < 0.05:
            out.append(rnd.choice(["ccc Result: died", "Result:  died", "test died early"]))
        elif r < 0.054:
            w = rnd.choice(["mount", "sync", "fetch"])
            out.append(f"{w} failed, {w if rnd.random() < 0.5 else 'other'} retrying")
        else:
            out.append(f"{ts} {rnd.randint(1000, 9999)} INFO nova.compute.manager [req-{i:06x}] "
                       + " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 15))))
    return ("\r\n".join(out[:50]) + "\r\n" + "\n".join(out[50:]) + "\nexit code 3").encode()


def reference(fingerprints, data: bytes, file: str, run_meta=None, limit=None) -> list[Match]:
    """Line by line in plain Python: each Lucene query on each line; each regex over the text."""
    ctx = FileContext(file, run_meta)
    raw_lines = data.split(b"\n")
    starts = [0]
    for ln in raw_lines[:-1]:
        starts.append(starts[-1] + len(ln) + 1)
    found = []
    active = [fp for fp in fingerprints if _admits(fp, ctx)]
    docs = [LineDoc(ctx, ln.rstrip(b"\r").decode("utf-8", "replace")) for ln in raw_lines]
    for order, fp in enumerate(fingerprints):
        if fp not in active:
            continue
        hits = []
        if fp.query is not None:
            hits = [(n + 1, raw_lines[n]) for n, doc in enumerate(docs) if fp.query.match(doc)]
        else:
            pos = 0
            while True:
                m = fp.regex.search(data, pos)
                if m is None:
                    break
                line = data.count(b"\n", 0, m.start()) + 1
                if fp.regex.multiline:
                    hits.append((line, m.group()))
                    pos = m.end()
                else:
                    hits.append((line, raw_lines[line - 1]))
                    pos = starts[line] if line < len(starts) else len(data) + 1
        for line, text in hits[:limit]:
            t = text.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
            found.append((line, order, Match(fp.id, file, line, t[:1024], None)))
    return [m for _, _, m in sorted(found, key=lambda x: (x[0], x[1]))]


@pytest.fixture(scope="module")
def er_queries(shared_data):
    fps, rejections = load_fingerprints(shared_data / "elastic-recheck" / "queries")
    assert not rejections
    return fps


@pytest.fixture(scope="module")
def fingerprints(er_queries):
    return er_queries + [Fingerprint.from_regex(r, id=name) for name, r in REGEXES.items()]


@pytest.fixture(scope="module")
def log_data(er_queries):
    return corpus(7, er_queries)


@pytest.fixture(scope="module")
def expected(fingerprints, log_data):
    exp = reference(fingerprints, log_data, "job-output.txt")
    assert len({m.fingerprint for m in exp}) > 40 and len(exp) > 150
    assert {"vnc", "quota", "trace", "segv", "lookbehind", "backref", "tail"} <= {m.fingerprint for m in exp}
    return exp


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_agree_with_reference(backend, fingerprints, log_data, expected, tmp_path):
    scanner = Scanner(fingerprints, backend=backend, chunk_size=20_000, window=4096)
    assert scanner.backend == backend
    assert scanner.scan_text(log_data, file="job-output.txt", limit=None) == expected
    path = tmp_path / "job-output.txt"
    path.write_bytes(log_data)
    assert scanner.scan_file(path, file="job-output.txt", limit=None) == expected
    # first match only, per fingerprint
    first = {}
    for m in expected:
        first.setdefault(m.fingerprint, m)
    assert scanner.scan_file(path, file="job-output.txt") == sorted(
        first.values(), key=lambda m: (m.line, [fp.id for fp in fingerprints].index(m.fingerprint)))


def test_compressed_logs(fingerprints, log_data, expected, tmp_path):
    scanner = Scanner(fingerprints, chunk_size=50_000)
    for name, opener in (("a.txt.gz", gzip.open), ("b.txt.xz", lzma.open), ("c.txt.bz2", bz2.open)):
        with opener(tmp_path / name, "wb") as fh:
            fh.write(log_data)
        got = scanner.scan_file(tmp_path / name, file="job-output.txt.gz", limit=None)
        assert [(m.fingerprint, m.line, m.text) for m in got] == [(m.fingerprint, m.line, m.text) for m in expected]


def test_scope_of_tags_and_filenames(er_queries, log_data):
    scanner = Scanner(er_queries)
    console = {m.fingerprint for m in scanner.scan_text(log_data, file="job-output.txt")}
    other = {m.fingerprint for m in scanner.scan_text(log_data, file="logs/screen-n-cpu.txt")}
    assert "1400905" in console and "1400905" not in other  # tags:console
    assert "1706377" in other and "1706377" not in console  # tags:"screen-n-cpu.txt"


@pytest.mark.parametrize("backend", BACKENDS)
def test_multi_line_match_across_chunk_boundaries(backend, tmp_path):
    fp = Fingerprint.from_regex(r"BEGIN[^\n]*\n(?:.*\n){0,40}.*END of the incident", id="x")
    filler = b"".join(b"line %05d of filler text\n" % i for i in range(3000))
    incident = b"BEGIN incident\n" + b"".join(b"  detail %d\n" % i for i in range(30)) + b"END of the incident\n"
    for cut in (100, 20_000, 40_000, 60_011):
        data = filler[:cut] + b"\n" + incident + filler
        path = tmp_path / "log.txt"
        path.write_bytes(data)
        want_line = data[:data.index(b"BEGIN")].count(b"\n") + 1
        got = Scanner([fp], backend=backend, chunk_size=4096, window=2048).scan_file(path)
        assert [(m.fingerprint, m.line) for m in got] == [("x", want_line)], cut
        assert got[0].text.startswith("BEGIN incident\n  detail 0") and got[0].text.endswith("END of the incident")
    # longer than the window: not found by scan_file, found by scan_text (whole text)
    data = filler[:5000] + incident + filler
    path.write_bytes(data)
    assert Scanner([fp], backend=backend, chunk_size=4096, window=64).scan_file(path) == []
    assert len(Scanner([fp], backend=backend, window=64).scan_text(data)) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_anchors_see_the_real_neighbours(backend, tmp_path):
    end = Fingerprint.from_regex(r"final words$", id="end")
    start = Fingerprint.from_regex(r"\Afirst words", id="start")
    lines = b"".join(b"final words\nfirst words\n" for _ in range(400))
    path = tmp_path / "log.txt"
    for data, want in ((lines, []), (b"first words\n" + lines + b"final words", ["start", "end"])):
        path.write_bytes(data)
        got = Scanner([end, start], backend=backend, chunk_size=4096).scan_file(path)
        assert [m.fingerprint for m in got] == want


def test_line_numbers_max_bytes_and_long_lines(tmp_path):
    fp = Fingerprint.from_query('message:"needle in the haystack"', id="n")
    data = b"".join(b"hay %d\n" % i for i in range(100_000)) + b"x" * 5000 + b" needle in the haystack\n"
    data += b"needle in the haystack again\n"
    path = tmp_path / "log.txt"
    path.write_bytes(data)
    scanner = Scanner([fp], chunk_size=65_536)
    got = scanner.scan_file(path, limit=None)
    assert [m.line for m in got] == [100_001, 100_002]
    assert len(got[0].text.encode()) == 1024 and got[0].text.startswith("xxx")
    assert scanner.scan_file(path, max_bytes=len(data) - 30) == got[:1]
    assert scanner.scan_file(path, max_bytes=100_000) == []


def test_failure_text_is_one_document():
    fp = Fingerprint.from_query('message:"Timeout waiting for" AND message:"vm_state error" AND tags:console', id="t")
    text = "Traceback:\n  Timeout waiting for network-vif-plugged\n  for instance with vm_state error\n"
    scanner = Scanner([fp])
    assert scanner.scan_text(text, file="job-output.txt") == []  # a log: line by line
    [m] = scanner.scan_text(text, file="junit.xml", test="pkg.Test.test_boot")
    assert (m.fingerprint, m.line, m.test) == ("t", 2, "pkg.Test.test_boot")


def test_run_admission_voting_test_ids_scope():
    fp = Fingerprint.from_query('message:"disk quota exceeded here"', id="q")
    nonvoting_ok = Fingerprint.from_query('message:"disk quota exceeded here"', id="nv", allow_nonvoting=True)
    gated = Fingerprint.from_query('message:"disk quota exceeded here"', id="ids", test_ids=["pkg.T.test_a"])
    scoped = Fingerprint.from_regex(r"disk quota exceeded here", id="rx",
                                    scope='build_name:"e2e-aws" AND NOT variant.arch:arm64')
    scanner = Scanner([fp, nonvoting_ok, gated, scoped])
    text = "x\ndisk quota exceeded here\n"

    def ids(**run_meta):
        return [m.fingerprint for m in scanner.scan_text(text, file="build-log.txt", run_meta=run_meta)]

    assert ids(job="e2e-aws") == ["q", "nv", "rx"]
    assert ids(job="e2e-aws", voting=False) == ["nv"]  # every kind skips non-voting runs by default
    assert ids(job="e2e-aws", failed_tests=["pkg.T.test_a[id-1,smoke]"]) == ["q", "nv", "ids", "rx"]
    assert ids(job="e2e-gcp", failed_tests=["pkg.T.test_b"]) == ["q", "nv"]
    assert ids(job="e2e-aws", variants={"arch": "arm64"}) == ["q", "nv"]
    run = Run(job="e2e-aws", build="1", status=RunStatus.FAILURE, metadata={"voting": True})
    assert [m.fingerprint for m in scanner.scan_text(text, file="build-log.txt", run_meta=run)] == ["q", "nv", "rx"]


def test_query_without_text_checks_every_line():
    fp = Fingerprint.from_query('build_name:"nova-next" AND NOT message:"ok"', id="s")
    got = Scanner([fp]).scan_text("ok\nok\nbad\n", file="job-output.txt", run_meta={"job": "nova-next"})
    assert [(m.line, m.text) for m in got] == [(3, "bad")]


def test_breadth():
    broad = Fingerprint.from_query('message:"error" AND tags:console', id="b")
    narrow = Fingerprint.from_regex(r"error 42 found in the frobnicator", id="n")
    texts = ["an error here", "error 42 found in the frobnicator", "fine", "ERROR!"]
    assert breadth(broad, texts) == 0.75
    assert breadth(narrow, texts) == 0.25
    assert breadth(broad, []) == 0.0


def test_unknown_backend():
    with pytest.raises(ValueError, match="available"):
        Scanner([], backend="grep")


def test_patterns_are_exposed_for_inspection(er_queries):
    pats = Scanner(er_queries[:3]).patterns
    assert [p["fingerprint"] for p in pats] == ["1260311", "1260654", "1269940"]
    assert all(p["flags"] == "i" and not p["multiline"] for p in pats)
    assert re.compile(pats[0]["pattern"].encode(), re.I).search(b"java.io.InterruptedIOException")


def test_empty_truncated_and_missing_files(tmp_path):
    fp = Fingerprint.from_query('message:"needle in the haystack"', id="n")
    scanner = Scanner([fp])
    (tmp_path / "empty.txt").write_bytes(b"")
    assert scanner.scan_file(tmp_path / "empty.txt") == []
    good = gzip.compress(b"hay\n" * 100_000 + b"needle in the haystack\n")
    (tmp_path / "cut.txt.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="cannot read the log"):
        scanner.scan_file(tmp_path / "cut.txt.gz")
    with pytest.raises(InputError):
        scanner.scan_file(tmp_path / "missing.txt")
