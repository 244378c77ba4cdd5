"""subunit v1/v2 parsing: streams built here (with a tiny v2 encoder), then the real data."""

from __future__ import annotations

import gzip
import io
import lzma
import struct
import time
import zlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ciscope.errors import HostileInputError, InputError, ReportError
from ciscope.ingest.subunit import MAX_FAILURE_TEXT, SubunitRun, parse_subunit, split_test_id
from ciscope.model import Status, Verdict, verdict_of

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "pkg/tests/test_mod.py", line 10, in test_b\n'
    "    self.assertEqual(1, 2)\n"
    "testtools.matchers._impl.MismatchError: 1 != 2\n"
    "\n"
)

# --- a tiny v2 encoder, written from the protocol description -----------------------------

STATUSES = {None: 0, "exists": 1, "inprogress": 2, "success": 3, "uxsuccess": 4, "skip": 5, "fail": 6, "xfail": 7}


def varint(value: int) -> bytes:
    if value < 1 << 6:
        return bytes([value])
    if value < 1 << 14:
        return struct.pack(">H", value | 0x4000)
    if value < 1 << 22:
        return bytes([0x80 | value >> 16]) + struct.pack(">H", value & 0xFFFF)
    return struct.pack(">I", value | 0xC0000000)


def utf8(text: str) -> bytes:
    raw = text.encode()
    return varint(len(raw)) + raw


def packet(test_id: str | None = None, status: str | None = None, *, at: float | None = None,
           tags: list[str] | None = None, file: tuple[str, bytes] | None = None,
           mime: str | None = None, route: str | None = None, eof: bool = False) -> bytes:
    """One v2 packet; ``at`` is seconds after T0."""
    flags = 0x2000 | 0x0100 | STATUSES[status]
    body = b""
    if at is not None:
        flags |= 0x0200
        seconds = int(T0.timestamp() + at)
        nanos = round((T0.timestamp() + at - seconds) * 1e9)
        body += struct.pack(">I", seconds) + varint(nanos)
    if test_id is not None:
        flags |= 0x0800
        body += utf8(test_id)
    if tags is not None:
        flags |= 0x0080
        body += varint(len(tags)) + b"".join(utf8(t) for t in tags)
    if mime is not None:
        flags |= 0x0020
        body += utf8(mime)
    if file is not None:
        flags |= 0x0040
        body += utf8(file[0]) + varint(len(file[1])) + file[1]
    if route is not None:
        flags |= 0x0400
        body += utf8(route)
    if eof:
        flags |= 0x0010
    return framed(flags, body)


def framed(flags: int, body: bytes) -> bytes:
    """Signature, flags, length, body and CRC32 around a packet body."""
    base = 1 + 2 + 4 + len(body)  # the length field counts itself too
    length = next(base + size for size in (1, 2, 3) if len(varint(base + size)) == size)
    head = bytes([0xB3]) + struct.pack(">H", flags) + varint(length)
    return head + body + struct.pack(">I", zlib.crc32(head + body))


def a_test(test_id: str, status: str, start: float, stop: float, *, traceback: str | None = None,
           reason: str | None = None, worker: str = "worker-0", route: str | None = None) -> bytes:
    out = packet(test_id, "inprogress", at=start, route=route)
    if traceback is not None:
        out += packet(test_id, at=stop, file=("traceback", traceback.encode()), eof=True,
                      mime="text/x-traceback;charset=utf8;language=python", route=route)
    if reason is not None:
        out += packet(test_id, at=stop, file=("reason", reason.encode()), eof=True, mime="text/plain;charset=utf8",
                      route=route)
    return out + packet(test_id, status, at=stop, tags=[worker], route=route)


def by_name(run: SubunitRun):
    return {r.name: r for r in run.results}


# --- v2 ------------------------------------------------------------------------------------


def test_encoder_varint_sizes():
    assert [len(varint(v)) for v in (0, 63, 64, 16383, 16384, (1 << 22) - 1, 1 << 22)] == [1, 1, 2, 2, 3, 3, 4]


def test_v2_outcomes_names_durations_and_failure_fields():
    stream = (
        a_test("pkg.tests.test_mod.TestA.test_ok", "success", 0.0, 0.25)
        + a_test("pkg.tests.test_mod.TestA.test_b", "fail", 0.5, 1.5, traceback=TRACEBACK)
        + a_test("pkg.tests.test_mod.TestA.test_skip", "skip", 2.0, 2.0, reason="Not ready yet")
        + a_test("pkg.tests.test_mod.TestA.test_xfail", "xfail", 2.0, 2.5, traceback=TRACEBACK)
        + a_test("pkg.tests.test_mod.TestA.test_ux", "uxsuccess", 3.0, 3.5, worker="worker-1")
    )
    run = parse_subunit(stream, name="run.subunit")
    assert run.version == 2
    assert run.started_at == T0
    assert run.finished_at == datetime(2024, 5, 1, 12, 0, 3, 500000, tzinfo=UTC)
    assert run.tags == {"worker-0", "worker-1"}
    assert run.unfinished == []
    results = by_name(run)
    assert {n: r.status for n, r in results.items()} == {
        "test_ok": Status.PASSED,
        "test_b": Status.FAILED,
        "test_skip": Status.SKIPPED,
        "test_xfail": Status.PASSED,  # an expected failure counts as a pass
        "test_ux": Status.FAILED,
    }
    ok, failed = results["test_ok"], results["test_b"]
    assert (ok.classname, ok.suite, ok.file, ok.attempt) == ("pkg.tests.test_mod.TestA", "", "run.subunit", 0)
    assert ok.duration == pytest.approx(0.25)
    assert ok.failure_text is None and ok.failure_message is None
    assert failed.duration == pytest.approx(1.0)
    assert failed.failure_text == TRACEBACK
    assert failed.failure_message == "testtools.matchers._impl.MismatchError: 1 != 2"
    assert failed.failure_type == "testtools.matchers._impl.MismatchError"
    assert results["test_skip"].failure_message == "Not ready yet"
    assert results["test_skip"].duration == 0.0
    assert results["test_xfail"].failure_text is None
    assert results["test_ux"].failure_type == "UnexpectedSuccess"


def test_v2_retry_in_one_stream_is_a_second_attempt():
    stream = (
        a_test("pkg.mod.C.test_flaky", "fail", 0, 1, traceback=TRACEBACK)
        + a_test("pkg.mod.C.test_flaky", "success", 2, 3)
    )
    results = parse_subunit(stream).results
    assert [(r.attempt, r.status) for r in results] == [(0, Status.FAILED), (1, Status.PASSED)]
    assert verdict_of(r.status for r in results) is Verdict.FLAKY


def test_v2_test_that_never_finishes_has_no_result():
    stream = a_test("pkg.mod.C.test_a", "success", 0, 1) + packet("pkg.mod.C.test_hung", "inprogress", at=2)
    run = parse_subunit(stream)
    assert [r.name for r in run.results] == ["test_a"]
    assert run.unfinished == ["pkg.mod.C.test_hung"]
    assert run.finished_at == datetime(2024, 5, 1, 12, 0, 2, tzinfo=UTC)


def test_v2_exists_packets_and_stream_level_attachments_are_ignored():
    stream = (
        packet("pkg.mod.C.test_a", "exists")
        + packet(file=("stdout", b"noise from the runner\n"), mime="text/plain")
        + packet(tags=["global-tag"])
        + a_test("pkg.mod.C.test_a", "success", 0, 1)
    )
    run = parse_subunit(stream)
    assert [(r.name, r.status) for r in run.results] == [("test_a", Status.PASSED)]
    assert run.unfinished == []
    assert "global-tag" in run.tags


def test_v2_traceback_in_several_packets_is_joined():
    first, second = TRACEBACK[:40].encode(), TRACEBACK[40:].encode()
    stream = (
        packet("pkg.mod.C.test_b", "inprogress", at=0)
        + packet("pkg.mod.C.test_b", at=1, file=("traceback", first), mime="text/x-traceback")
        + packet("pkg.mod.C.test_b", at=1, file=("stdout", b"x" * 100), mime="text/plain", eof=True)
        + packet("pkg.mod.C.test_b", at=1, file=("traceback", second), eof=True)
        + packet("pkg.mod.C.test_b", "fail", at=1)
    )
    (result,) = parse_subunit(stream).results
    assert result.failure_text == TRACEBACK


def test_v2_route_codes_keep_interleaved_workers_apart():
    stream = (
        packet("pkg.mod.C.test_a", "inprogress", at=0, route="0")
        + packet("pkg.mod.C.test_a", "inprogress", at=1, route="1")
        + packet("pkg.mod.C.test_a", "success", at=3, route="0")
        + packet("pkg.mod.C.test_a", "fail", at=2, route="1")
    )
    results = parse_subunit(stream).results
    assert [(r.attempt, r.status, r.duration) for r in results] == [(0, Status.PASSED, 3.0), (1, Status.FAILED, 1.0)]


def test_v2_large_packets_use_longer_length_fields():
    traceback = "Traceback (most recent call last):\n" + "  frame\n" * 3000 + "ValueError: big\n"
    (result,) = parse_subunit(a_test("pkg.mod.C.test_big", "fail", 0, 1, traceback=traceback)).results
    assert result.failure_message == "ValueError: big"
    assert result.failure_type == "ValueError"


def test_failure_text_is_capped_keeping_head_and_tail():
    traceback = "Traceback (most recent call last):\n" + "  frame line\n" * 20000 + "KeyError: 'last'\n"
    stream = b"".join(
        packet("pkg.mod.C.test_b", at=0, file=("traceback", traceback.encode()[i : i + 60000]))
        for i in range(0, len(traceback), 60000)
    ) + packet("pkg.mod.C.test_b", "fail", at=1)
    (result,) = parse_subunit(stream).results
    assert len(result.failure_text) <= MAX_FAILURE_TEXT
    assert result.failure_text.startswith("Traceback (most recent call last):")
    assert result.failure_text.rstrip().endswith("KeyError: 'last'")
    assert "characters omitted" in result.failure_text
    assert result.failure_message == "KeyError: 'last'"


# --- naming --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test_id", "expected"),
    [
        ("package.module.Class.test_method", ("package.module.Class", "test_method")),
        ("tempest.api.compute.admin.test_agents.AgentsAdminTestJSON.test_create_agent"
         "[id-1fc6bdc8-0b6d-4cc7-9f30-9b04fabe5b90,smoke]",
         ("tempest.api.compute.admin.test_agents.AgentsAdminTestJSON", "test_create_agent")),
        ("setUpClass (tempest.api.data_processing.test_jobs.JobTest)",
         ("tempest.api.data_processing.test_jobs.JobTest", "setUpClass")),
        ("pkg.mod.Class.test_x(scenario v1.0)", ("pkg.mod.Class", "test_x(scenario v1.0)")),
        ("test_lonely", ("", "test_lonely")),
        ("pkg.networking-sfc.test_n_sfc.TestChainSFC.test_delete_chain",
         ("pkg.networking-sfc.test_n_sfc.TestChainSFC", "test_delete_chain")),
    ],
)
def test_split_test_id(test_id, expected):
    assert split_test_id(test_id) == expected


# --- v1 ------------------------------------------------------------------------------------

def chunked(*chunks: bytes) -> bytes:
    """An HTTP-chunked body as v1 multipart details carry it: hex length, CRLF, bytes; then 0."""
    return b"".join(b"%X\r\n" % len(chunk) + chunk for chunk in chunks) + b"0\r\n"


V1 = (
    b"time: 2017-10-16 17:47:40.000000Z\n"
    b"tags: worker-3\n"
    b"test: pkg.mod.C.test_ok\n"
    b"time: 2017-10-16 17:47:40.250000Z\n"
    b"successful: pkg.mod.C.test_ok [ multipart\n"
    b"]\n"
    b"tags: -worker-3\n"
    b"some output that leaked into the stream\n"
    b"progress: +3\n"
    b"test: pkg.mod.C.test_fail\n"
    b"time: 2017-10-16 17:47:41.000000Z\n"
    b"failure: pkg.mod.C.test_fail [ multipart\n"
    b"Content-Type: text/plain;charset=utf8\n"
    b"pythonlogging:''\n" + chunked(b"hello")
    + b"Content-Type: text/x-traceback;language=python,charset=utf8\n"
    b"traceback\n" + chunked(b"Traceback (most recent call last):\n  boom\n", b"AssertionError: 1 != 2\n")
    + b"]\n"
    b"test: pkg.mod.C.test_skip\n"
    b"skip: pkg.mod.C.test_skip [ multipart\n"
    b"Content-Type: text/plain;charset=utf8\n"
    b"reason\n" + chunked(b"Not ready yet")
    + b"]\n"
    b"test: pkg.mod.C.test_error\n"
    b"error: pkg.mod.C.test_error [\n"
    b"Traceback (most recent call last):\n"
    b" ] an escaped bracket line\n"
    b"RuntimeError: oops\n"
    b"]\n"
    b"testing pkg.mod.C.test_xfail\n"
    b"xfail pkg.mod.C.test_xfail\n"
    b"test: pkg.mod.C.test_ux\n"
    b"failure: some.other.test\n"
    b"uxsuccess: pkg.mod.C.test_ux\n"
)


def test_v1_outcomes_details_and_times():
    run = parse_subunit(V1, name="0")
    assert run.version == 1
    assert run.started_at == datetime(2017, 10, 16, 17, 47, 40, tzinfo=UTC)
    assert run.finished_at == datetime(2017, 10, 16, 17, 47, 41, tzinfo=UTC)
    assert run.tags == {"worker-3"}
    results = by_name(run)
    assert {n: r.status for n, r in results.items()} == {
        "test_ok": Status.PASSED,
        "test_fail": Status.FAILED,
        "test_skip": Status.SKIPPED,
        "test_error": Status.ERROR,
        "test_xfail": Status.PASSED,
        "test_ux": Status.FAILED,
    }
    assert results["test_ok"].duration == pytest.approx(0.25)
    assert results["test_ok"].classname == "pkg.mod.C"
    failed = results["test_fail"]
    assert failed.duration == pytest.approx(0.75)
    assert failed.failure_text == "Traceback (most recent call last):\n  boom\nAssertionError: 1 != 2\n"
    assert (failed.failure_type, failed.failure_message) == ("AssertionError", "AssertionError: 1 != 2")
    assert results["test_skip"].failure_message == "Not ready yet"
    error = results["test_error"]
    assert error.failure_text == "Traceback (most recent call last):\n] an escaped bracket line\nRuntimeError: oops\n"
    assert error.failure_message == "RuntimeError: oops"


def test_v1_started_test_without_outcome_has_no_result():
    run = parse_subunit(b"test: a.B.test_one\nsuccess: a.B.test_one\ntest: a.B.test_two\n")
    assert [r.name for r in run.results] == ["test_one"]
    assert run.unfinished == ["a.B.test_two"]


def test_empty_stream_is_an_empty_run():
    run = parse_subunit(b"")
    assert run.results == [] and run.started_at is None


# --- inputs and compression ------------------------------------------------------------------


def test_sources_path_file_object_and_compression(tmp_path):
    v2 = a_test("pkg.mod.C.test_a", "success", 0, 1)
    (tmp_path / "plain").write_bytes(v2)
    (tmp_path / "run.xz").write_bytes(lzma.compress(V1))
    (tmp_path / "run.gz").write_bytes(gzip.compress(v2[:20]) + gzip.compress(v2[20:]))  # two members
    assert parse_subunit(tmp_path / "plain").results[0].file == str(tmp_path / "plain")
    assert parse_subunit(str(tmp_path / "plain"), name="3").results[0].file == "3"
    assert len(parse_subunit(tmp_path / "run.xz").results) == 6
    assert len(parse_subunit(tmp_path / "run.gz").results) == 1
    with open(tmp_path / "plain", "rb") as handle:
        assert parse_subunit(handle).results[0].file == str(tmp_path / "plain")
    assert parse_subunit(io.BytesIO(v2)).results[0].file == ""


def test_text_mode_stream_is_refused():
    with pytest.raises(TypeError, match="mode 'rb'"):
        parse_subunit(io.StringIO("test: x\n"))  # type: ignore[arg-type]


# --- bad input ---------------------------------------------------------------------------------


def good_stream() -> bytes:
    return a_test("pkg.mod.C.test_a", "success", 0, 1) + a_test("pkg.mod.C.test_b", "fail", 1, 2, traceback=TRACEBACK)


def test_truncated_packet_names_file_offset_and_expectation():
    stream = good_stream()
    with pytest.raises(ReportError) as caught:
        parse_subunit(stream[:-3], name="cut.subunit")
    error = caught.value
    assert error.file == "cut.subunit"
    assert error.place is not None and error.place.startswith("byte ")
    offset = int(error.place.split()[1])
    assert stream[offset] == 0xB3 and offset > 0
    assert "truncated packet" in error.reason


def test_bad_crc():
    stream = bytearray(good_stream())
    second = stream.index(0xB3, 1)
    stream[second + 10] ^= 0xFF
    with pytest.raises(ReportError, match=r"bad CRC32") as caught:
        parse_subunit(bytes(stream), name="crc.subunit")
    assert caught.value.place == f"byte {second}"


def test_bad_signature_in_the_middle():
    first = packet("pkg.mod.C.test_a", "inprogress", at=0)
    with pytest.raises(ReportError, match=r"bad packet signature 0x42: expected 0xB3") as caught:
        parse_subunit(first + b"B" + first)
    assert caught.value.place == f"byte {len(first)}"
    assert str(caught.value).startswith("<bytes> (byte ")


@pytest.mark.parametrize(
    ("stream", "reason", "offset"),
    [
        (framed(0x3000, b""), "unsupported packet version 3: expected 2", 0),
        (b"\xb3\x20\x00\xc0\x00\x00\x10" + b"\x00" * 20, "packet length uses 4 bytes", 3),
        (framed(0x2800, b"\x05ab"), "the test id announces 5 bytes, only 2 remain", 5),
        (framed(0x2800, b"\x02\xff\xfe"), "the test id is not valid UTF-8", 5),
        (framed(0x2A00, b"\x00\x00"), "the timestamp runs past the end of its packet", 4),
        (framed(0x2040, b"\x01x\x3f"), "the file content announces 63 bytes", 7),
        (b"\xb3\x20\x00\x02", "shorter than its own header and CRC", 3),
    ],
)
def test_malformed_v2(stream, reason, offset):
    with pytest.raises(ReportError, match=reason) as caught:
        parse_subunit(stream, name="v2")
    assert caught.value.place == f"byte {offset}"
    assert caught.value.line is None


def test_garbage_is_refused():
    with pytest.raises(ReportError, match="not a subunit stream") as caught:
        parse_subunit(b"\x00\x01\x02 hello\nnot subunit at all\n", name="junk")
    assert caught.value.place == "byte 0"


MULTIPART_HEAD = b"test: a.B.c\nfailure: a.B.c [ multipart\nContent-Type: text/plain\ntraceback\n"


@pytest.mark.parametrize(
    ("stream", "reason", "bad"),
    [
        (b"test: a.B.c\nfailure: a.B.c [\nTraceback\n", "not closed by a ']' line", b"failure:"),
        (MULTIPART_HEAD + b"zz\r\n", "bad chunk length b'zz'", b"zz"),
        (MULTIPART_HEAD + b"10\r\nshort", "announces 16 bytes, only 5 remain", b"short"),
        (MULTIPART_HEAD + b"5\r\nhello", "ends before its closing '0' chunk", None),  # at the end
        (b"test: a.B.c\nfailure: a.B.c [ multipart\nX-Whatever: 1\n]\n", "expected a 'Content-Type", b"X-"),
        (b"time: yesterday\n", "bad time 'yesterday'", b"time"),
    ],
)
def test_malformed_v1(stream, reason, bad):
    """Each error names the line and the byte where the stream stops making sense."""
    offset = len(stream) if bad is None else stream.index(bad)
    with pytest.raises(ReportError, match=reason) as caught:
        parse_subunit(stream, name="v1")
    assert caught.value.place == f"byte {offset}"
    assert caught.value.line == stream[:offset].count(b"\n") + 1


def test_truncated_compression():
    with pytest.raises(ReportError, match="truncated xz stream"):
        parse_subunit(lzma.compress(good_stream())[:-10])
    with pytest.raises(ReportError, match="corrupt gzip data"):
        parse_subunit(b"\x1f\x8b" + b"\xff" * 40)


def test_oversize_and_decompression_bomb_are_refused(tmp_path):
    with pytest.raises(HostileInputError, match="1000-byte limit"):
        parse_subunit(b"test: x\n" * 200, max_bytes=1000)
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\n" * 5_000_000))
    assert bomb.stat().st_size < 10_000
    with pytest.raises(HostileInputError, match="decompresses to more than"):
        parse_subunit(bomb, max_bytes=1 << 20)


def test_missing_file():
    with pytest.raises(InputError, match="cannot read"):
        parse_subunit("/nonexistent/ciscope/stream.subunit")


# --- real data -----------------------------------------------------------------------------------


def test_real_v2_samples(shared_data: Path):
    root = shared_data / "subunit-v2-samples"
    streams = sorted(root.rglob("*.subunit"))
    assert len(streams) == 4
    runs = {path.name: parse_subunit(path) for path in streams}
    counts = {name: Counter(r.status for r in run.results) for name, run in runs.items()}
    assert counts == {
        "all_skips.subunit": Counter({Status.SKIPPED: 7}),
        "failure.subunit": Counter({Status.PASSED: 62, Status.FAILED: 1}),
        "successful.subunit": Counter({Status.PASSED: 20, Status.SKIPPED: 1}),
        "tempest.subunit": Counter({Status.PASSED: 1}),
    }
    assert all(run.version == 2 and not run.unfinished for run in runs.values())
    (failure,) = [r for r in runs["failure.subunit"].results if r.status is Status.FAILED]
    assert failure.test_id == "stestr.tests.test_subunit_trace.TestSubunitTrace.test_trace_with_all_skips"
    assert failure.failure_type == "IOError"
    assert failure.failure_message.startswith("IOError: [Errno 2] No such file or directory")
    (tempest,) = runs["tempest.subunit"].results
    assert tempest.name == "test_create_agent"  # the [id-…] suffix is dropped
    assert tempest.duration == pytest.approx(0.352333)
    skip = runs["all_skips.subunit"].results[0]
    assert (skip.name, skip.failure_message) == ("setUpClass", "Sahara support is required")


def test_real_tacker_v1_history(shared_data: Path):
    folder = shared_data / "subunit-stestr-tacker-unit" / "stestr"
    streams = sorted(folder.glob("*.xz"), key=lambda p: int(p.name.removesuffix(".xz")))
    assert len(streams) == 64
    began = time.perf_counter()
    runs = {path.name: parse_subunit(path) for path in streams}
    elapsed = time.perf_counter() - began
    assert elapsed < 10, f"parsing 64 tacker runs took {elapsed:.1f}s"
    total = Counter(r.status for run in runs.values() for r in run.results)
    # The dataset's README: 7,136 success, 94 failure/error, 3,960 skip.
    assert total == Counter({Status.PASSED: 7136, Status.FAILED: 94, Status.SKIPPED: 3960})
    assert all(run.version == 1 and not run.unfinished for run in runs.values())
    assert len({r.test_id for run in runs.values() for r in run.results}) == 503

    first = runs["0.xz"]
    assert Counter(r.status for r in first.results) == Counter({Status.PASSED: 318, Status.SKIPPED: 180})
    assert first.started_at == datetime(2017, 10, 16, 17, 47, 40, 221010, tzinfo=UTC)
    assert first.tags == {"worker-0", "worker-1", "worker-2", "worker-3"}
    assert all(r.duration is not None and r.duration >= 0 for r in first.results)
    assert Counter(r.status for r in runs["12.xz"].results) == Counter(
        {Status.PASSED: 318, Status.FAILED: 4, Status.SKIPPED: 180})
    assert Counter(r.status for r in runs["18.xz"].results) == Counter({Status.FAILED: 4})

    failures = [r for run in runs.values() for r in run.results if r.status is Status.FAILED]
    assert all(r.failure_text and r.failure_text.startswith("Traceback") for r in failures)
    assert all(r.failure_message and r.failure_type for r in failures)
    k8s = runs["18.xz"].results[0]
    assert k8s.test_id == ("tacker.tests.unit.nfvo.drivers.vim.test_kubernetes_driver."
                           "TestKubernetes_Driver.test_deregister_vim")
    assert k8s.failure_type == "oslo_config.cfg.NoSuchOptError"
    assert k8s.failure_message == (
        "oslo_config.cfg.NoSuchOptError: no such option kubernetes_fernet_path in group [k8s_vim]")
    skipped = next(r for r in first.results if r.status is Status.SKIPPED)
    assert skipped.failure_message == "Not ready yet"
