"""Input the JUnit parser must refuse (HostileInputError) without expanding or fetching
anything: entity bombs, XXE, external DTDs, parameter entities, oversized and gzip-bomb
reports. A local HTTP server records any request, so "nothing fetched" is checked, not
assumed."""

from __future__ import annotations

import gzip
import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from lxml import etree

from ciscope.errors import HostileInputError
from ciscope.ingest import _xml
from ciscope.ingest.junit import parse_junit

CASES = '<testsuite name="s"><testcase classname="c" name="t"/></testsuite>'


class Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        Recorder.requests.append(self.path)
        body = b'<!ENTITY leak "fetched">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.requests = []
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def refuse(tmp_path: Path, xml: str | bytes, *, filename: str = "evil.xml", **kwargs: object) -> HostileInputError:
    path = tmp_path / filename
    path.write_bytes(xml.encode() if isinstance(xml, str) else xml)
    started = time.perf_counter()
    with pytest.raises(HostileInputError) as caught:
        list(parse_junit(path, **kwargs))  # type: ignore[arg-type]
    assert time.perf_counter() - started < 2, "refusal must not depend on expanding anything"
    assert caught.value.file == str(path)
    return caught.value


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE testsuite [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite name="&lol9;"><testcase name="&lol9;"><failure>&lol9;</failure></testcase></testsuite>"""


def test_billion_laughs(tmp_path: Path) -> None:
    error = refuse(tmp_path, BILLION_LAUGHS)
    assert error.line == 2 and "DOCTYPE with ENTITY declarations; refused" in error.reason
    assert "lollol" not in str(error)


def test_quadratic_blowup(tmp_path: Path) -> None:
    entity = "A" * 50_000
    xml = f'<!DOCTYPE testsuite [<!ENTITY a "{entity}">]>\n<testsuite name="s"><testcase name="t"><failure>{"&a;" * 50_000}</failure></testcase></testsuite>'
    refuse(tmp_path, xml)


def test_xxe_file_etc_passwd(tmp_path: Path) -> None:
    xml = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="s"><testcase name="&xxe;"><failure message="&xxe;">&xxe;</failure></testcase></testsuite>"""
    error = refuse(tmp_path, xml)
    assert "root:" not in str(error) and "ENTITY" in error.reason


def test_xxe_local_file_next_to_the_report(tmp_path: Path) -> None:
    """As in the NUnit-sec1752 corpus files: SYSTEM entity naming a sibling file."""
    (tmp_path / "secret.txt").write_text("TOP-SECRET")
    xml = '<!DOCTYPE test [\n  <!ENTITY xxe SYSTEM "secret.txt">\n]>\n<test-results><test-case name="&xxe;"/></test-results>'
    error = refuse(tmp_path, xml)
    assert "TOP-SECRET" not in str(error)


def test_external_dtd_over_http_is_refused_and_not_fetched(tmp_path: Path, server: str) -> None:
    xml = f'<?xml version="1.0"?>\n<!DOCTYPE testsuite SYSTEM "{server}/evil.dtd">\n<testsuite name="&leak;"/>'
    error = refuse(tmp_path, xml)
    assert error.line == 2 and f'external DTD "{server}/evil.dtd"' in error.reason and "never fetches" in error.reason
    assert Recorder.requests == []


def test_external_dtd_public_id_is_refused(tmp_path: Path, server: str) -> None:
    xml = f'<!DOCTYPE testsuite PUBLIC "-//EVIL//DTD//EN" "{server}/public.dtd">\n<testsuite/>'
    refuse(tmp_path, xml)
    assert Recorder.requests == []


def test_parameter_entity_is_refused_and_not_fetched(tmp_path: Path, server: str) -> None:
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE testsuite [
  <!ENTITY % remote SYSTEM "{server}/param.dtd">
  %remote;
]>
<testsuite name="&leak;"/>"""
    refuse(tmp_path, xml)
    assert Recorder.requests == []


def test_internal_subset_without_entities_is_refused_too(tmp_path: Path) -> None:
    error = refuse(tmp_path, '<!DOCTYPE testsuite [<!ELEMENT testsuite ANY>]>\n<testsuite/>')
    assert "internal DTD subset" in error.reason


def test_doctype_hidden_behind_a_long_prolog(tmp_path: Path) -> None:
    """The prolog scan reads past its first chunk: padding does not smuggle an ENTITY in."""
    padding = "<!-- " + "x" * 200_000 + " -->\n"
    xml = f'<?xml version="1.0"?>\n{padding}<!DOCTYPE t [<!ENTITY e "boom">]>\n<testsuite name="&e;"/>'
    error = refuse(tmp_path, xml)
    assert error.line == 3


def test_doctype_in_utf16_is_seen(tmp_path: Path) -> None:
    xml = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE t [<!ENTITY e "boom">]>\n<testsuite name="&e;"/>'
    refuse(tmp_path, xml.encode("utf-16"))
    refuse(tmp_path, xml.encode("utf-16-be"), filename="be.xml")


def test_endless_prolog_is_refused(tmp_path: Path) -> None:
    xml = "<!-- " + "x" * (_xml.MAX_PROLOG_BYTES + 10) + " -->" + CASES
    error = refuse(tmp_path, xml)
    assert "no root element in the first 1 MiB" in error.reason


def test_harmless_doctypes_are_accepted_and_never_read(tmp_path: Path) -> None:
    """A bare DOCTYPE, or one naming a relative local DTD (CUnit writes SYSTEM "CUnit-Run.dtd"),
    parses; the DTD is not read, so its entities stay undefined."""
    (tmp_path / "report.dtd").write_text('<!ENTITY leak "from the DTD">')
    for doctype in ("<!DOCTYPE testsuite>", '<!DOCTYPE testsuite SYSTEM "report.dtd">'):
        (tmp_path / "ok.xml").write_text(f"<?xml version='1.0'?>\n{doctype}\n{CASES}")
        assert [r.name for r in parse_junit(tmp_path / "ok.xml")] == ["t"]
    (tmp_path / "uses.xml").write_text('<!DOCTYPE testsuite SYSTEM "report.dtd">\n'
                                       '<testsuite name="&leak;"><testcase name="a&leak;"><failure>&leak;</failure>'
                                       "</testcase></testsuite>")
    (result,) = parse_junit(tmp_path / "uses.xml")
    assert "from the DTD" not in repr(result)
    assert (result.suite, result.name, result.failure_text) == ("", "a", "&leak;")  # left unexpanded


def test_oversized_raw_file(tmp_path: Path) -> None:
    xml = "<testsuite>" + '<testcase name="t"/>' * 1000 + "</testsuite>"
    error = refuse(tmp_path, xml, max_bytes=4096)
    assert f"report is {len(xml):,} bytes, over the limit of 4 KiB" in error.reason
    with pytest.raises(HostileInputError, match="over the limit"):
        list(parse_junit(xml.encode(), max_bytes=4096))


def test_gzip_bomb_stops_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """64 MiB of XML compressed to ~64 KiB: refused after reading max_bytes decompressed."""
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb", compresslevel=9) as gz:
        gz.write(b'<testsuite name="s">')
        chunk = b'<testcase name="t"/>' * 50_000
        for _ in range(64 << 20 // len(chunk)):
            gz.write(chunk)
    assert len(bomb.getvalue()) < 1 << 20
    delivered: list[int] = []
    original = _xml._LimitedReader.read

    def spy(self: _xml._LimitedReader, size: int = -1) -> bytes:
        data = original(self, size)
        delivered.append(self.delivered)
        return data

    monkeypatch.setattr(_xml._LimitedReader, "read", spy)
    error = refuse(tmp_path, bomb.getvalue(), filename="bomb.xml.gz", max_bytes=1 << 20)
    assert "larger than the limit of 1 MiB decompressed" in error.reason
    assert max(delivered) <= (1 << 20) + (1 << 17), "decompression must stop near the limit"


def test_lxml_is_the_second_line_of_defence(tmp_path: Path, server: str) -> None:
    """Even past the prolog guard, the parser options neither fetch nor expand."""
    (tmp_path / "secret.txt").write_text("TOP-SECRET")
    xml = f"""<!DOCTYPE t [
  <!ENTITY xxe SYSTEM "file://{tmp_path}/secret.txt">
  <!ENTITY % remote SYSTEM "{server}/param.dtd">
  %remote;
]>
<testsuite name="x"><testcase name="t">&xxe;</testcase></testsuite>"""
    texts: list[str] = []
    try:
        for _, element in etree.iterparse(io.BytesIO(xml.encode()), events=("end",), **_xml.SAFE_PARSER_OPTIONS):
            texts.append("".join(element.itertext()))
    except etree.XMLSyntaxError:
        pass
    assert not any("TOP-SECRET" in text for text in texts)
    assert Recorder.requests == []
