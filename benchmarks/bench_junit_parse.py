"""JUnit parse throughput: ciscope's parser against the floor and the usual alternatives.

Generates one deterministic JUnit XML file (Surefire-like suites, ~3% failures with
multi-line stack traces, some errors and skips, captured output on some cases) into
``benchmarks/_data/`` (gitignored), then runs each contender in its own subprocess so the
peak RSS it reports is its own:

- ``lxml-bare``: ``lxml.etree.iterparse`` on ``end`` of ``testcase`` that only counts and
  clears (the floor: parse cost with no records built);
- ``lxml-useful``: the *minimal useful* loop (issue 13): the same ``iterparse`` reading each test
  case's ``name``, ``classname`` and ``time`` (as a float) and its ``failure``/``error``/
  ``skipped`` child with that child's ``message`` and text, then clearing — what any
  reader that keeps the results must do, with no dialects, limits, identity or records;
- ``lxml-target-noop``: lxml's parser-target (SAX-style) interface with callbacks that do
  nothing but count test cases: the floor of any reader that is called per parse event
  instead of iterating elements (one Python call per start tag, end tag and text);
- ``lxml-target-useful``: ``lxml-useful``'s work on that interface (no element made);
- ``etree-bare``: the same loop as ``lxml-bare`` with the standard library's ``xml.etree.ElementTree``;
- ``ciscope``: ``ciscope.ingest.junit.parse_junit`` producing every ``TestResult``;
- ``ciscope-columns``: ``ciscope.ingest.junit.read_columns`` — the same reader writing columns
  (chunks of 4,096 rows, no record per passing case), what ingest uses (issue 13);
- ``junitparser``: ``JUnitXml.fromfile`` and a walk over every case and its result.

Contenders run interleaved (bare, useful, etree, ciscope, junitparser, bare, …); the table shows
the median run of each (the fastest in brackets) and ratios from the medians: this machine's
timing noise is ±20%. Peak RSS includes the interpreter and
the contender's imports; the table also shows the RSS at the start of the timed parse.

Usage: python benchmarks/bench_junit_parse.py [--size-mb 100] [--repeat 3] [--markdown]
       [--only ciscope,lxml-bare] [--regenerate]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
REPO = HERE.parent

# Each contender prints "<cases> <seconds> <peak RSS KiB> <RSS KiB when parsing starts> <CPU
# seconds>"; the timers cover parsing only; the second RSS figure is what the imports cost. CPU
# time (user + system of the process) is the steadier figure on a loaded machine.
PRELUDE = r"""
import resource, sys, time
path = sys.argv[1]
def start():
    global baseline, cpu
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    return time.perf_counter()
def done(cases, seconds):
    print(cases, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, baseline, time.process_time() - cpu)
def feed(target):  # the file in 64 kB pieces into an lxml parser calling ``target``; what its close() returns
    from lxml import etree
    parser = etree.XMLParser(target=target, resolve_entities=False, no_network=True)
    with open(path, "rb") as f:
        while block := f.read(1 << 16):
            parser.feed(block)
    return parser.close()
"""

CONTENDERS: dict[str, str] = {
    "lxml-bare": r"""
from lxml import etree
t = start()
cases = 0
for _, el in etree.iterparse(path, events=("end",), tag="testcase"):
    cases += 1
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
done(cases, time.perf_counter() - t)
""",
    "lxml-useful": r"""
from lxml import etree
t = start()
cases = 0
statuses = {}
for _, el in etree.iterparse(path, events=("end",), tag="testcase"):
    name = el.get("name")
    classname = el.get("classname")
    seconds = el.get("time")
    duration = float(seconds) if seconds else None
    status, message, text = "passed", None, None
    for child in el:
        tag = child.tag
        if tag == "failure" or tag == "error" or tag == "skipped":
            status, message, text = tag, child.get("message"), child.text
            break
    cases += 1
    statuses[status] = statuses.get(status, 0) + 1
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
done(cases, time.perf_counter() - t)
""",
    "lxml-target-noop": r"""
class Target:  # called per parse event; builds no element
    cases = 0
    def start(self, tag, attrib):
        if tag == "testcase":
            self.cases += 1
    def end(self, tag):
        pass
    def data(self, text):
        pass
    def close(self):
        return self.cases
t = start()
done(feed(Target()), time.perf_counter() - t)
""",
    "lxml-target-useful": r"""
OUTCOMES = ("failure", "error", "skipped")
class Target:  # lxml-useful's work on parser events, no element made
    def __init__(self):
        self.names, self.classnames, self.durations, self.outcomes = [], [], [], {}
        self.current, self.text = None, []
    def start(self, tag, attrib):
        if tag == "testcase":
            get = attrib.get
            self.names.append(get("name"))
            self.classnames.append(get("classname"))
            seconds = get("time")
            self.durations.append(float(seconds) if seconds else None)
        elif tag in OUTCOMES and self.current is None:
            self.current = [tag, attrib.get("message")]
            self.outcomes[len(self.names) - 1] = self.current
    def end(self, tag):
        if self.current is not None and tag == self.current[0]:
            self.current.append("".join(self.text))
            self.text.clear()
            self.current = None
    def data(self, text):
        if self.current is not None:
            self.text.append(text)
    def close(self):
        return len(self.names)
t = start()
done(feed(Target()), time.perf_counter() - t)
""",
    "etree-bare": r"""
import xml.etree.ElementTree as ET
t = start()
cases = 0
for _, el in ET.iterparse(path, events=("end",)):
    tag = el.tag
    if tag == "testcase":
        cases += 1
        el.clear()
    elif tag == "testsuite":
        el.clear()
done(cases, time.perf_counter() - t)
""",
    "ciscope": r"""
from ciscope.ingest.junit import parse_junit
t = start()
cases = 0
statuses = {}
for r in parse_junit(path):
    cases += 1
    statuses[r.status] = statuses.get(r.status, 0) + 1
done(cases, time.perf_counter() - t)
""",
    "ciscope-columns": r"""
from ciscope.ingest.junit import read_columns
t = start()
cases = 0
statuses = {}
for chunk in read_columns(path, rows=4096):
    cases += len(chunk)
    for status, *_ in chunk.details.values():
        statuses[status] = statuses.get(status, 0) + 1
    statuses["passed"] = statuses.get("passed", 0) + len(chunk) - len(chunk.details)
done(cases, time.perf_counter() - t)
""",
    "junitparser": r"""
from junitparser import JUnitXml
t = start()
cases = 0
statuses = {}
xml = JUnitXml.fromfile(path)
for suite in xml:
    for case in suite:
        cases += 1
        kind = type(case.result[0]).__name__ if case.result else "Passed"
        statuses[kind] = statuses.get(kind, 0) + 1
done(cases, time.perf_counter() - t)
""",
}

# --------------------------------------------------------------------------- generator

PACKAGES = ["com.example.billing", "com.example.auth.session", "org.acme.storage.s3", "io.ciscope.ingest",
            "net.shop.cart.pricing", "com.example.search.index"]
NOUNS = ["Order", "Invoice", "Session", "Bucket", "Token", "Cart", "Query", "Index", "Ledger", "Payment"]
VERBS = ["create", "update", "delete", "resolve", "refresh", "validate", "expire", "merge", "render", "parse"]
CASES = ["whenEmpty", "withNullInput", "forLargeBatch", "afterTimeout", "onRetry", "withUnicodeName",
         "whenConcurrent", "inDryRunMode", "withDefaults", "afterRestart"]
FRAMES = ["org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)",
          "org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)",
          "org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:1141)",
          "java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
          "java.base/java.lang.reflect.Method.invoke(Method.java:568)",
          "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:725)",
          "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)",
          "org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)"]


def generate(path: Path, size_mb: int, *, seed: int = 20240601) -> tuple[int, int]:
    """Write a JUnit file of about ``size_mb`` MiB; returns (bytes, test cases)."""
    rng = random.Random(seed)
    target = size_mb << 20
    written = cases = 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:

        def w(text: str) -> None:
            nonlocal written
            out.write(text)
            written += len(text)  # ASCII except rare names: close enough for sizing

        w('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bench">\n')
        suite_no = 0
        while written < target:
            suite_no += 1
            cls = f"{rng.choice(PACKAGES)}.{rng.choice(NOUNS)}{rng.choice(['Service', 'Repository', 'Controller'])}Test{suite_no}"
            n = rng.randint(20, 400)
            w(f'  <testsuite name="{cls}" tests="{n}" time="{rng.random() * 30:.3f}" timestamp="2024-06-01T12:00:00">\n')
            if rng.random() < 0.3:
                w('    <properties>\n      <property name="java.version" value="17.0.2"/>\n'
                  '      <property name="surefire.fork" value="1"/>\n    </properties>\n')
            for i in range(n):
                cases += 1
                name = f"{rng.choice(VERBS)}{rng.choice(NOUNS)}_{rng.choice(CASES)}_{i}"
                if rng.random() < 0.01:
                    name += "[param=&lt;a &amp; b&gt; é]"
                head = f'    <testcase name="{name}" classname="{cls}" time="{rng.expovariate(20):.3f}"'
                roll = rng.random()
                if roll < 0.030:
                    trace = "\n".join(f"\tat {rng.choice(FRAMES)}" for _ in range(rng.randint(10, 40)))
                    expected, actual = rng.randint(1, 999), rng.randint(1, 999)
                    w(f'{head}>\n      <failure message="expected: &lt;{expected}&gt; but was: &lt;{actual}&gt;" '
                      f'type="org.opentest4j.AssertionFailedError">org.opentest4j.AssertionFailedError: '
                      f"expected: &lt;{expected}&gt; but was: &lt;{actual}&gt;\n{trace}\n</failure>\n    </testcase>\n")
                elif roll < 0.035:
                    trace = "\n".join(f"\tat {rng.choice(FRAMES)}" for _ in range(rng.randint(5, 20)))
                    w(f'{head}>\n      <error message="Connection refused" type="java.net.ConnectException">'
                      f"java.net.ConnectException: Connection refused\n{trace}\n</error>\n    </testcase>\n")
                elif roll < 0.055:
                    w(f'{head}>\n      <skipped message="disabled until #{rng.randint(100, 9999)} is fixed"/>\n    </testcase>\n')
                elif roll < 0.105:
                    lines = "\n".join(f"12:00:{j:02d}.{rng.randint(0, 999):03d} INFO  [main] step {j} ok" for j in range(rng.randint(3, 15)))
                    w(f"{head}>\n      <system-out><![CDATA[{lines}\n]]></system-out>\n    </testcase>\n")
                else:
                    w(f"{head}/>\n")
            w("  </testsuite>\n")
        w("</testsuites>\n")
    tmp.replace(path)
    return path.stat().st_size, cases


# --------------------------------------------------------------------------- runner


class Row(NamedTuple):
    cases: int
    seconds: float  # median run
    best: float  # fastest run
    peak_mb: float  # highest peak RSS over the runs
    import_mb: float  # RSS when the timed parse started (interpreter + imports)
    cpu: float  # median CPU seconds of the parse


def run(name: str, path: Path) -> Row:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", PRELUDE + CONTENDERS[name], str(path)],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    cases, seconds, peak_kib, import_kib, cpu = done.stdout.split()
    return Row(int(cases), float(seconds), float(seconds), int(peak_kib) / 1024, int(import_kib) / 1024, float(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=100, help="size of the generated file in MiB (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the median is shown (default 3)")
    parser.add_argument("--only", default="", help="comma-separated contenders (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the data file even if present")
    args = parser.parse_args()

    DATA.mkdir(exist_ok=True)
    path = DATA / f"junit-{args.size_mb}mb.xml"
    if args.regenerate or not path.exists():
        print(f"generating {path} …", file=sys.stderr)
        generate(path, args.size_mb)
    size = path.stat().st_size
    names = [n for n in (args.only.split(",") if args.only else CONTENDERS) if n]
    unknown = sorted(set(names) - set(CONTENDERS))
    if unknown:
        raise SystemExit(f"unknown contender(s) {', '.join(unknown)}: expected some of {', '.join(CONTENDERS)}")
    runs: dict[str, list[Row]] = {name: [] for name in names}
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits everyone
        for name in names:
            runs[name].append(run(name, path))
    rows = {name: Row(r[0].cases, statistics.median(x.seconds for x in r), min(x.seconds for x in r),
                      max(x.peak_mb for x in r), min(x.import_mb for x in r), statistics.median(x.cpu for x in r))
            for name, r in runs.items()}
    for name, row in rows.items():
        print(f"  {name}: {row.cases:,} cases in {row.seconds:.2f} s, peak {row.peak_mb:.0f} MB", file=sys.stderr)

    cases = {n: r.cases for n, r in rows.items()}
    if len(set(cases.values())) > 1:
        print(f"warning: contenders disagree on the case count: {cases}", file=sys.stderr)
    bare = rows.get("lxml-bare")
    useful = rows.get("lxml-useful")
    peer = rows.get("junitparser")
    header = ["contender", "median s (best)", "MB/s", "cases/s", "peak RSS MB", "of which imports MB", "vs lxml-bare", "vs lxml-useful",
              "vs junitparser", "median CPU s", "CPU vs lxml-useful", "CPU vs junitparser", "peak RSS / junitparser's",
              "parse RSS / junitparser's"]
    table = []
    for name, row in rows.items():
        table.append([
            name, f"{row.seconds:.2f} ({row.best:.2f})", f"{size / 1e6 / row.seconds:.1f}", f"{row.cases / row.seconds:,.0f}",
            f"{row.peak_mb:.0f}", f"{row.import_mb:.0f}",
            f"{bare.seconds / row.seconds:.2f}×" if bare else "–",
            f"{useful.seconds / row.seconds:.2f}×" if useful else "–",
            f"{peer.seconds / row.seconds:.2f}×" if peer else "–",
            f"{row.cpu:.2f}",
            f"{useful.cpu / row.cpu:.2f}×" if useful else "–",
            f"{peer.cpu / row.cpu:.2f}×" if peer else "–",
            f"{row.peak_mb / peer.peak_mb:.3f}" if peer else "–",
            f"{(row.peak_mb - row.import_mb) / (peer.peak_mb - peer.import_mb):.3f}" if peer else "–",
        ])
    n_cases = max(cases.values()) if cases else 0
    about = (f"file: {path.name}, {size / 1e6:.1f} MB ({size / (1 << 20):.1f} MiB), {n_cases:,} test cases; "
             f"median of {args.repeat} interleaved runs (fastest in brackets); load average {os.getloadavg()[0]:.2f}; Python {platform.python_version()}, "
             f"{os.cpu_count()} CPUs, {platform.machine()}")
    if args.markdown:
        print(about + "\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        for line in table:
            print("| " + " | ".join(line) + " |")
    else:
        print(about)
        widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
        for line in [header, *table]:
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))


if __name__ == "__main__":
    main()
