"""Fingerprint scanning throughput: ciscope's one-pass scanner against grep and Python re.

Generates deterministic, realistic CI logs (Zuul/Ansible job output, devstack oslo.log and
journald service logs, tempest and pip output, Go/Prow test output, Python tracebacks) into
``benchmarks/_data/`` (gitignored), with known-failure lines sprinkled in at about one per
20,000 lines. The fingerprint set is 200 fingerprints:

- the 91 real elastic-recheck queries (``shared/data/elastic-recheck/queries``), verbatim;
- 109 generated CI-log regexes (auto_review style: ``error: .* failed``, Go test failures,
  Java/Python exceptions, git/apt/pip/npm errors …), written in the syntax common to Python
  ``re``, Hyperscan, RE2 and POSIX ERE so every contender runs the very same patterns.

Contenders, each pinned to one CPU, over the same file in the same run:

- ``ciscope-<backend>``: ``Scanner(fingerprints, backend=…).scan_file(path, file="job-output.txt")``
  for every available backend (prefilter + exact confirmation; first match per fingerprint);
- ``grep``: ``LC_ALL=C grep -E -c -f patterns.txt FILE`` (counts matching lines) with
  ``patterns.txt`` = the scanner's own prefilter patterns, translated to ERE;
- ``python-re``: one Python ``re`` alternation of the same patterns, counting matching lines
  chunk by chunk (16 MiB).

Usage: python benchmarks/bench_fingerprints.py [--size-mb 1024] [--repeat 1]
       [--only ciscope-hyperscan,grep] [--regenerate] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

from ciscope.fingerprints import Fingerprint, Scanner, available_backends, load_fingerprints  # noqa: E402

SHARED = Path(os.environ.get("CISCOPE_SHARED_DATA", REPO.parent / "shared" / "data"))
SEED = 20241123
CHUNK = 16 << 20

# ---------------------------------------------------------------------------- fingerprints

EXCEPTIONS_JAVA = ["NullPointerException", "IllegalStateException", "ConcurrentModificationException",
                   "OutOfMemoryError", "ClassNotFoundException", "SocketTimeoutException"]
EXCEPTIONS_PY = ["KeyError", "AttributeError", "ConnectionResetError", "TimeoutError", "PermissionError",
                 "ModuleNotFoundError", "AssertionError"]
TOOLS = ["docker", "kubectl", "helm", "terraform", "ansible-playbook", "virtualenv", "gcc", "make"]
VERBS = ["connect", "allocate", "attach", "mount", "resolve", "schedule", "detach", "pull"]
NOUNS = ["volume", "port", "image", "network", "floating ip", "security group", "node", "snapshot"]
GIT = ["Could not resolve host", "Connection timed out", "The requested URL returned error: 50[0-9]",
       "Operation too slow"]
GO_TESTS = ["TestAPIServer", "TestSchedulerExtender", "TestVolumeBinding", "TestNodeLifecycle", "TestEtcdSnapshot"]


def regex_fingerprints() -> list[tuple[str, str]]:
    """(regex, an example line it matches): 109 generated CI-log regexes."""
    out: list[tuple[str, str]] = []
    for v in VERBS:
        for n in NOUNS[:5]:
            out.append((f"ERROR: [a-z_]+ failed to {v} {n} [0-9a-f]{{8}}",
                        f"ERROR: nova_compute failed to {v} {n} 1a2b3c4d"))
    for t in TOOLS:
        out.append((f"{t}: command not found", f"/bin/sh: 1: {t}: command not found"))
        out.append((f"{t}: error while loading shared libraries: lib[a-z0-9_]+\\.so",
                    f"{t}: error while loading shared libraries: libssl3.so"))
    for e in EXCEPTIONS_JAVA:
        out.append((f"java\\.lang\\.{e}: .*(timeout|refused|closed)", f"java.lang.{e}: socket refused"))
    for e in EXCEPTIONS_PY:
        out.append((f"E +{e}: .*(volume|port|server) [0-9a-f-]{{36}}",
                    f"E       {e}: server 6f1f2c33-7a88-4b7e-9a2e-1b2c3d4e5f60"))
        out.append((f"raise {e}\\(['\"][^'\"\\n]+ (not found|unavailable)",
                    f"    raise {e}('backend not found')"))
    for g in GO_TESTS:
        out.append((f"--- FAIL: {g}[A-Za-z_/]* \\([0-9]+\\.[0-9]+s\\)", f"--- FAIL: {g}/Parallel (12.34s)"))
        out.append((f"panic: test timed out after [0-9]+m0s.*{g}", f"panic: test timed out after 10m0s running {g}"))
    for e in GIT:
        out.append((f"fatal: unable to access 'https://[^'\\n]+': {e}",
                    f"fatal: unable to access 'https://opendev.org/x/y/': {e.replace('50[0-9]', '503')}"))
    for code in ["ETIMEDOUT", "ECONNRESET", "E404", "EINTEGRITY", "ENOSPC"]:
        out.append((f"npm ERR! code {code}", f"npm ERR! code {code}"))
    for mirror in ["mirror.dfw.rax", "mirror.ord.rax", "mirror.gra1.ovh", "mirror.bhs1.ovh"]:
        out.append((f"E: Failed to fetch http://{mirror.replace('.', '[.]')}[^ \\n]* +Hash Sum mismatch",
                    f"E: Failed to fetch http://{mirror}.opendev.org/ubuntu/x.deb  Hash Sum mismatch"))
        out.append((f"Could not fetch URL https://{mirror.replace('.', '[.]')}[^ \\n]*: There was a problem",
                    f"Could not fetch URL https://{mirror}.opendev.org/pypi/simple/x/: There was a problem"))
    for sig in ["SIGKILL", "SIGSEGV", "SIGABRT"]:
        out.append((f"(qemu|kvm|libvirtd)[^ \\n]*: terminating on signal [0-9]+.*{sig}",
                    f"qemu-system-x86_64: terminating on signal 15 from pid 1 {sig}"))
    for svc in ["n-cpu", "c-vol", "q-agt", "g-api", "n-api", "placement-api"]:
        out.append((f"devstack@{svc}\\.service: Main process exited, code=(killed|dumped)",
                    f"systemd[1]: devstack@{svc}.service: Main process exited, code=killed, status=9/KILL"))
        out.append((f"{svc}[^ \\n]* did not start within [0-9]+ seconds", f"{svc} did not start within 60 seconds"))
    for k in ["Out of memory: Killed process [0-9]+ \\((java|qemu|mysqld)\\)",
              "INFO: task [a-z0-9_/-]+:[0-9]+ blocked for more than [0-9]+ seconds",
              "BUG: soft lockup - CPU#[0-9]+ stuck for [0-9]+s",
              "EXT4-fs error \\(device [a-z0-9]+\\)",
              "Kernel panic - not syncing: (Fatal exception|VFS)",
              "nf_conntrack: table full, dropping packet",
              "ssh: connect to host [0-9.]+ port 22: (Connection refused|No route to host)",
              "Timed out waiting for a reply to message ID [0-9a-f]{32}",
              "MessagingTimeout: Timed out waiting for a reply",
              "Lock wait timeout exceeded; try restarting transaction",
              "Deadlock found when trying to get lock",
              "No valid host was found\\. There are not enough hosts available",
              "Failed to allocate network\\(s\\)",
              "error: RPC failed; curl [0-9]+",
              "The conflict is caused by:",
              "ResolutionImpossible",
              "FAILED - RETRYING: .* \\([0-9]+ retries left\\)",
              "fatal: \\[[a-z0-9-]+\\]: UNREACHABLE!",
              "RESULT_TIMED_OUT: \\[untrusted : [^]\\n]+\\]",
              "Error: (ImagePullBackOff|ErrImagePull|CrashLoopBackOff) for pod [a-z0-9-]+",
              "context deadline exceeded.*etcdserver: request timed out",
              "x509: certificate has expired or is not yet valid",
              "Segmentation fault \\(core dumped\\)",
              "java\\.io\\.IOException: No space left on device",
              "OSError: \\[Errno 28\\] No space left on device",
              ]:
        example = {
            "Out of memory: Killed process [0-9]+ \\((java|qemu|mysqld)\\)":
                "Out of memory: Killed process 4242 (java)",
        }.get(k)
        out.append((k, example or _example(k)))
    return out[:109]


def _example(regex: str) -> str:
    """A line matching one of the hand-written regexes above (checked by the caller)."""
    s = regex
    for pat, rep in ((r"\(\?:", "("), (r"\[0-9\]\+", "42"), (r"\[0-9\.\]\+", "10.0.0.7"),
                     (r"\[0-9a-f\]\{32\}", "0123456789abcdef0123456789abcdef"),
                     (r"\[a-z0-9_/-\]\+", "kworker/1"), (r"\[a-z0-9-\]\+", "node-1"), (r"\[a-z0-9\]\+", "vda1"),
                     (r"\[\^\]\\n\]\+", "x/y"), (r"\.\*", " "), (r"\\\(", "("), (r"\\\)", ")"), (r"\\\[", "["),
                     (r"\\\]", "]"), (r"\\\.", ".")):
        s = re.sub(pat, rep, s)
    s = re.sub(r"\(([^|()]+)\|[^()]*\)", r"\1", s)
    return s


def fingerprints() -> tuple[list[Fingerprint], list[str]]:
    queries, rejections = load_fingerprints(SHARED / "elastic-recheck" / "queries")
    if rejections or len(queries) != 91:
        sys.exit(f"expected 91 elastic-recheck queries under {SHARED}: {rejections}")
    regexes = regex_fingerprints()
    examples = []
    fps = list(queries)
    for i, (rx, example) in enumerate(regexes):
        if not re.search(rx, example):
            sys.exit(f"benchmark bug: example {example!r} does not match {rx!r}")
        fps.append(Fingerprint.from_regex(rx, id=f"gen{i:03d}"))
        examples.append(example)
    for fp in queries:
        phrases = re.findall(r'message: ?"((?:[^"\\]|\\.)*)"', fp.source)
        examples.append(" ... ".join(p.replace('\\"', '"').replace("\\", "") for p in phrases))
    assert len(fps) == 200, len(fps)
    return fps, examples


# ---------------------------------------------------------------------------- log data

def _pool(rnd: random.Random, n: int) -> list[bytes]:
    words = ("the instance volume port server network request image snapshot host node compute scheduler "
             "conductor api agent failed error retry waiting ok done created deleted attached detached "
             "timeout lock acquired released update status active building").split()
    mods = ["nova.compute.manager", "nova.scheduler.host_manager", "neutron.agent.l3.agent",
            "cinder.volume.manager", "oslo_concurrency.lockutils", "oslo_messaging._drivers.amqpdriver",
            "keystonemiddleware.auth_token", "glance.api.v2.images", "placement.requestlog"]
    levels = ["DEBUG"] * 12 + ["INFO"] * 6 + ["WARNING", "ERROR"]
    tests = ["tempest.api.compute.servers.test_create_server.ServersTestJSON.test_list_servers",
             "tempest.api.network.test_ports.PortsTestJSON.test_create_port_in_allowed_allocation_pools",
             "tempest.api.volume.test_volumes_actions.VolumesActionsTest.test_attach_detach_volume_to_instance",
             "tempest.scenario.test_network_basic_ops.TestNetworkBasicOps.test_network_basic_ops"]
    pkgs = ["oslo.config", "six", "requests", "urllib3", "eventlet", "SQLAlchemy", "PyMySQL", "kombu"]

    def hexs(k: int) -> str:
        return f"{rnd.getrandbits(4 * k):0{k}x}"

    def uuid() -> str:
        return f"{hexs(8)}-{hexs(4)}-{hexs(4)}-{hexs(4)}-{hexs(12)}"

    def ts() -> str:
        return f"2019-11-{rnd.randint(1, 28):02d} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:" \
               f"{rnd.randint(0, 59):02d}.{rnd.randint(0, 999999):06d}"

    def text(k: int) -> str:
        return " ".join(rnd.choice(words) for _ in range(k))

    out = []
    for _ in range(n):
        kind = rnd.random()
        if kind < 0.30:
            line = (f"{ts()[:-3]} {rnd.randint(1000, 99999)} {rnd.choice(levels)} {rnd.choice(mods)} "
                    f"[req-{uuid()} {hexs(32)} {hexs(32)}] [instance: {uuid()}] {text(rnd.randint(3, 12))}")
        elif kind < 0.50:
            line = (f"Nov {rnd.randint(1, 28):02d} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:"
                    f"{rnd.randint(0, 59):02d}.{rnd.randint(0, 999999):06d} "
                    f"ubuntu-bionic-rax-ord-00{rnd.randint(10000, 99999)} "
                    f"devstack@{rnd.choice(['n-cpu', 'c-vol', 'q-agt', 'n-api'])}.service[{rnd.randint(1000, 99999)}]: "
                    f"{rnd.choice(levels)} {rnd.choice(mods)} [None req-{uuid()} admin admin] "
                    f"{text(rnd.randint(3, 14))}")
        elif kind < 0.70:
            body = rnd.choice([
                f"TASK [{rnd.choice(['devstack', 'tempest', 'fetch-subunit-output'])} : {text(3)}]",
                "ok: [controller]", "changed: [controller]", "skipping: [compute1]",
                f"+ ./stack.sh:main:{rnd.randint(100, 1500)} : echo_summary '{text(4)}'",
                f"Collecting {rnd.choice(pkgs)}>={rnd.randint(1, 9)}.{rnd.randint(0, 20)}.0",
                f"Requirement already satisfied: {rnd.choice(pkgs)} in /usr/lib/python3/dist-packages "
                f"({rnd.randint(1, 9)}.{rnd.randint(0, 9)})",
                f"{{{rnd.randint(0, 7)}}} {rnd.choice(tests)} [{rnd.random() * 20:.6f}s] ... ok",
                f"{{{rnd.randint(0, 7)}}} {rnd.choice(tests)} ... SKIPPED: {text(5)}",
            ])
            line = f"{ts()} | controller | {body}"
        elif kind < 0.85:
            line = rnd.choice([
                f"I1120 {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}."
                f"{rnd.randint(0, 999999):06d}   {rnd.randint(100, 9999)} reflector.go:{rnd.randint(100, 999)}] "
                f"Listing and watching *v1.Pod from {text(2)}",
                f"=== RUN   {rnd.choice(GO_TESTS)}/{text(1)}_{rnd.randint(1, 99)}",
                f"--- PASS: {rnd.choice(GO_TESTS)}/{text(1)} ({rnd.random() * 9:.2f}s)",
                f"ok  \tk8s.io/kubernetes/pkg/{text(1)}\t{rnd.random() * 30:.3f}s",
                f"W1120 12:00:{rnd.randint(10, 59)}.000000   {rnd.randint(100, 9999)} warnings.go:70] {text(6)}",
            ])
        else:
            line = rnd.choice([
                "Traceback (most recent call last):",
                f'  File "/opt/stack/nova/nova/{text(1)}/{text(1)}.py", line {rnd.randint(1, 3000)}, in {text(1)}',
                f"    {text(1)} = self.{text(1)}({text(1)}, {text(1)}=True)",
                f"WARNING: {text(rnd.randint(4, 10))}",
                f"2019-11-20 12:00:00,{rnd.randint(100, 999)} {text(8)} timeout {rnd.randint(1, 600)}s",
            ])
        out.append(line.encode())
    return out


def generate(path: Path, size: int, injections: list[str]) -> None:
    rnd = random.Random(SEED)
    pool = _pool(rnd, 200_000)
    inject = [s.encode() for s in injections]
    tmp = path.with_suffix(".tmp")
    written = 0
    with open(tmp, "wb") as fh:
        while written < size:
            lines = rnd.choices(pool, k=20_000)
            lines[rnd.randrange(len(lines))] = b"2019-11-20 12:00:00.000000 | controller | " + rnd.choice(inject)
            block = b"\n".join(lines) + b"\n"
            block = block[: size - written] if written + len(block) > size else block
            if not block.endswith(b"\n"):
                block = block[: block.rfind(b"\n") + 1] or block
            fh.write(block)
            written += len(block)
            if len(block) < 1024:
                break
    tmp.rename(path)


# ---------------------------------------------------------------------------- contenders

def to_ere(pattern: str, caseless: bool) -> str:
    """The scanner's prefilter pattern (Python syntax, the subset used here) as POSIX ERE."""
    p = pattern.replace(r"[^\w\n]", "[^[:alnum:]_]").replace("\\n]", "]").replace(r"\w", "[[:alnum:]_]")
    if re.search(r"\\[dswDSW]|\(\?", p):
        raise ValueError(f"not expressible in ERE here: {pattern}")
    if caseless:
        out, i, in_class = [], 0, False
        while i < len(p):
            ch = p[i]
            if ch == "\\" and i + 1 < len(p):
                out.append(p[i:i + 2])
                i += 2
                continue
            if ch == "[" and not in_class:
                in_class = True
            elif ch == "]" and in_class:
                in_class = False
            if ch.isalpha() and not in_class:
                out.append(f"[{ch.lower()}{ch.upper()}]")
            else:
                out.append(ch)
            i += 1
        p = "".join(out)
    return p


def pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def warm(path: Path) -> None:
    """Read the file once so every contender starts with it in the page cache."""
    with open(path, "rb", buffering=0) as fh:
        while fh.read(64 << 20):
            pass


def run_scanner(fps: list[Fingerprint], backend: str, path: Path) -> tuple[float, float, list]:
    """(seconds to build the scanner, seconds to scan, matches)."""
    t = time.perf_counter()
    scanner = Scanner(fps, backend=backend)
    scanner.scan_text("warm-up: compiles the engine", file="job-output.txt")
    built = time.perf_counter() - t
    t = time.perf_counter()
    matches = scanner.scan_file(path, file="job-output.txt")
    return built, time.perf_counter() - t, matches


def run_python_re(patterns: list[tuple[str, str]], path: Path) -> tuple[float, int]:
    alt = re.compile(b"|".join((f"(?{f}:{p})" if f else f"(?:{p})").encode() for p, f in patterns))
    t = time.perf_counter()
    count = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                break
            if not block.endswith(b"\n"):
                block += fh.readline()
            pos = 0
            while True:
                m = alt.search(block, pos)
                if m is None:
                    break
                count += 1
                nl = block.find(b"\n", m.end() - 1 if m.end() > m.start() else m.start())
                if nl < 0:
                    break
                pos = nl + 1
    return time.perf_counter() - t, count


def run_grep(patterns_file: Path, path: Path) -> tuple[float, int]:
    env = {**os.environ, "LC_ALL": "C"}
    t = time.perf_counter()
    proc = subprocess.run(["grep", "-E", "-c", "-f", str(patterns_file), str(path)], capture_output=True,
                          env=env, preexec_fn=pin)
    seconds = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        sys.exit(f"grep failed: {proc.stderr.decode()[:300]}")
    return seconds, int(proc.stdout or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the generated log in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the fastest is kept")
    parser.add_argument("--only", default="", help="comma-separated contenders to run")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the data file")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    pin()
    fps, examples = fingerprints()
    DATA.mkdir(exist_ok=True)
    path = DATA / f"ci-logs-{args.size_mb}mb.txt"
    size = args.size_mb << 20
    if args.regenerate or not path.exists() or path.stat().st_size < size - (1 << 20):
        t = time.perf_counter()
        generate(path, size, examples)
        print(f"generated {path} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    mb = path.stat().st_size / 1e6

    probe = Scanner(fps, backend="re")
    patterns = [(p["pattern"], p["flags"]) for p in probe.patterns]
    patterns_file = DATA / "fingerprint-patterns.txt"
    patterns_file.write_text("\n".join(to_ere(p, "i" in f) for p, f in patterns) + "\n")

    contenders = [f"ciscope-{b}" for b in available_backends()] + (["grep"] if shutil.which("grep") else [])
    contenders.append("python-re")
    if args.only:
        contenders = [c for c in contenders if c in args.only.split(",")]
    results: dict[str, tuple[float, float, str]] = {}  # name -> (build s, scan s, result)
    answers: dict[str, list] = {}
    for _ in range(args.repeat):
        for name in contenders:
            warm(path)
            if name.startswith("ciscope-"):
                built, sec, matches = run_scanner(fps, name.split("-", 1)[1], path)
                answers[name] = [(m.fingerprint, m.line) for m in matches]
                what = f"{len(matches)} matches (first per fingerprint)"
            elif name == "grep":
                built, (sec, n) = 0.0, run_grep(patterns_file, path)
                what = f"{n} matching lines"
            else:
                built, (sec, n) = 0.0, run_python_re(patterns, path)
                what = f"{n} matching lines"
            print(f"  {name}: build {built:.2f}s, scan {sec:.2f}s ({mb / sec:.0f} MB/s), {what}", file=sys.stderr)
            if name not in results or sec < results[name][1]:
                results[name] = (built, sec, what)
    if len({tuple(a) for a in answers.values()}) > 1:
        sys.exit(f"ciscope backends disagree: { {k: len(v) for k, v in answers.items()} }")
    base = results.get("ciscope-hyperscan", next(iter(results.values())))[1]
    print(f"\n{mb:.1f} MB ({args.size_mb} MiB), {len(fps)} fingerprints ({len(patterns)} prefilter patterns), "
          f"one CPU, Python {platform.python_version()}, {os.cpu_count()} CPUs on the machine")
    if args.markdown:
        print("\n| contender | build s | scan s | scan MB/s | MB/s incl. build | result | time / ciscope-hyperscan's |")
        print("|---|---:|---:|---:|---:|---|---:|")
    for name, (built, sec, what) in results.items():
        if args.markdown:
            print(f"| {name} | {built:.2f} | {sec:.2f} | {mb / sec:.0f} | {mb / (sec + built):.0f} | {what} | "
                  f"{sec / base:.2f}× |")
        else:
            print(f"{name:18s} build {built:5.2f}s scan {sec:7.2f}s {mb / sec:6.0f} MB/s "
                  f"({mb / (sec + built):4.0f} with build)  {what:38s} ×{sec / base:.2f}")


if __name__ == "__main__":
    main()
