"""Failure clustering and failure-reason extraction: accuracy on real data, speed on synthetic data.

Sub-commands (results are printed as Markdown tables, ready for BENCHMARKS.md):

  loghub     grouping accuracy and purity of ``cluster()`` against the EventId labels of the
             10 loghub-2k systems, on the raw lines and on the Content column (header removed)
  reasons    ``extract_reason()`` against the labelled failure chunks of buildlogs-logchunks
             and the error line ranges of buildlogs-cidiff-breakages (with and without the
             passing log)
  speed      ``cluster()`` on N synthetic failure texts (default 500,000; deterministic: a few
             hundred templates, variable IPs/UUIDs/numbers/pods/durations/paths, near-duplicates
             that must merge: 60 edited templates, and 5 % of the failures with a random word
             appended): time, peak memory, synthetic grouping accuracy; and the
             named peer — a naive pairwise-rapidfuzz merge (every text against every cluster,
             no exact-key grouping, no length buckets, no score cutoff) — on a subsample, with
             ``cluster()`` on the same subsample

Usage: python benchmarks/bench_clusters.py {loghub,reasons,speed} [--data DIR] [--n 500000] [--peer-n 20000]
                                           [--drain-python /tmp/drainvenv/bin/python]
The real data comes from ``--data`` (default: ``$CISCOPE_SHARED_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import lzma
import os
import random
import re
import resource
import sys
import tarfile
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path(os.environ.get("CISCOPE_SHARED_DATA", HERE.parent.parent / "shared" / "data"))


# --- grouping metrics ------------------------------------------------------------------------

def grouping_scores(labels: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float]:
    """(grouping accuracy, purity). A line is correctly grouped when the set of lines in its
    predicted cluster is exactly the set of lines of its true template (Zhu et al., ICSE-SEIP
    2019); purity = Σ over clusters of its most common true label / lines."""
    label_size = Counter(labels)
    cluster_size = Counter(predicted)
    pair_size = Counter(zip(labels, predicted))
    # a line's cluster is its template's set of lines iff the three counts agree
    correct = sum(1 for label, cluster_id in zip(labels, predicted)
                  if label_size[label] == cluster_size[cluster_id] == pair_size[label, cluster_id])
    pure: Counter[Any] = Counter()
    for (_, cluster_id), size in pair_size.items():
        pure[cluster_id] = max(pure[cluster_id], size)
    return correct / len(labels), sum(pure.values()) / len(labels)


def cluster_labels(texts: Sequence[str], **options: Any) -> list[int]:
    from ciscope.analysis.clusters import cluster

    predicted = [0] * len(texts)
    for k, c in enumerate(cluster([{"text": t, "run": i} for i, t in enumerate(texts)], suggest=False, **options)):
        for run, _, _, _ in c.members:
            predicted[run] = k
    return predicted


# --- loghub ----------------------------------------------------------------------------------

def loghub_systems(data: Path) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """System → (raw lines, Content column, EventId) for the 10 loghub-2k systems."""
    base = data / "loghub-2k-templates"
    logs = {p.parent.name: p for p in sorted(base.glob("loghub-2.0/2k_dataset/*/*_2k.log"))}
    logs["Windows"] = base / "loghub-v1" / "Windows" / "Windows_2k.log"
    out = {}
    for name, log in sorted(logs.items()):
        labelled = next(log.parent.glob("*_structured_corrected.csv"), None) or next(log.parent.glob("*_structured.csv"))
        with open(labelled, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        raw = log.read_text(encoding="utf-8", errors="replace").splitlines()
        out[name] = (raw, [r["Content"] for r in rows], [r["EventId"] for r in rows])
    return out


# Drain's grouping accuracy on loghub-2k as published (Zhu et al., "Tools and Benchmarks for
# Automated Log Parsing", ICSE-SEIP 2019, table of accuracies; original loghub labels, Content
# column, per-system regexes and parameters); mean over these 10 systems: 0.881.
DRAIN_PUBLISHED = {"Apache": 1.000, "BGL": 0.963, "HPC": 0.887, "Hadoop": 0.948, "HealthApp": 0.780,
                   "Linux": 0.690, "Mac": 0.787, "OpenSSH": 0.788, "Windows": 0.997, "Zookeeper": 0.967}
# The Drain benchmark's settings per system (logparser's benchmark/Drain_benchmark.py): masking
# regexes, similarity threshold, tree depth.
DRAIN_SETTINGS: dict[str, tuple[list[str], float, int]] = {
    "Apache": ([r"(\d+\.){3}\d+"], 0.5, 4),
    "BGL": ([r"core\.\d+"], 0.5, 4),
    "HPC": ([r"=\d+"], 0.5, 4),
    "Hadoop": ([r"(\d+\.){3}\d+"], 0.5, 4),
    "HealthApp": ([], 0.2, 4),
    "Linux": ([r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"], 0.39, 6),
    "Mac": ([r"([\w-]+\.){2,}[\w-]+"], 0.7, 6),
    "OpenSSH": ([r"(\d+\.){3}\d+", r"([\w-]+\.){2,}[\w-]+"], 0.6, 5),
    "Windows": ([r"0x.*?\s"], 0.7, 5),
    "Zookeeper": ([r"(/|)(\d+\.){3}\d+(:\d+)?"], 0.5, 4),
}
_DRAIN3 = """
import json, sys
from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
job = json.load(sys.stdin)
config = TemplateMinerConfig()
config.drain_sim_th, config.drain_depth, config.drain_max_children = job["st"], job["depth"], 100
config.masking_instructions = [MaskingInstruction(r, "*") for r in job["regex"]]  # masked as <*>, as Drain does
config.mask_prefix, config.mask_suffix = "<", ">"
config.profiling_enabled = False
miner = TemplateMiner(config=config)
print(json.dumps([miner.add_log_message(t)["cluster_id"] for t in job["texts"]]))
"""


def drain3_labels(python: Path, texts: Sequence[str], regexes: Sequence[str] = (), similarity: float = 0.4,
                  depth: int = 4) -> list[int]:
    """The measured peer: drain3 (the maintained Drain implementation) run by ``python``, an
    interpreter that has it (a throwaway venv: drain3 is no dependency of ciscope); one cluster
    id per text. Defaults are drain3's own (no masking, similarity 0.4, depth 4)."""
    import subprocess

    job = json.dumps({"texts": list(texts), "regex": list(regexes), "st": similarity, "depth": depth})
    done = subprocess.run([str(python), "-c", _DRAIN3], input=job, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def loghub(data: Path, drain_python: Path | None = None) -> dict[str, dict[str, float]]:
    """Grouping accuracy per system: ``cluster()`` on the raw lines and on the Content column;
    the peers: Drain's published accuracy and, with ``drain_python``, drain3 measured on the
    same labels (Content column, the Drain benchmark's settings; and drain3's defaults)."""
    results: dict[str, dict[str, float]] = {}
    peers = drain_python is not None
    head = "| system | templates | GA raw | purity raw | clusters raw | GA content | purity content | clusters content |"
    head += " drain3, Drain settings, content | drain3 defaults, raw | drain3 defaults, content |" if peers else ""
    print(head + " Drain published |")
    print("|---" * (head.count("|")) + "|")
    for name, (raw, content, labels) in loghub_systems(data).items():
        row: dict[str, float] = {}
        for mode, texts in (("raw", raw), ("content", content)):
            predicted = cluster_labels(texts)
            row[f"ga_{mode}"], row[f"purity_{mode}"] = grouping_scores(labels, predicted)
            row[f"clusters_{mode}"] = len(set(predicted))
        line = (f"| {name} | {len(set(labels))} | {row['ga_raw']:.3f} | {row['purity_raw']:.3f} | {row['clusters_raw']} "
                f"| {row['ga_content']:.3f} | {row['purity_content']:.3f} | {row['clusters_content']} |")
        if drain_python is not None:
            regexes, similarity, depth = DRAIN_SETTINGS[name]
            row["drain3_tuned"] = grouping_scores(labels, drain3_labels(drain_python, content, regexes, similarity, depth))[0]
            row["drain3_raw"] = grouping_scores(labels, drain3_labels(drain_python, raw))[0]
            row["drain3_content"] = grouping_scores(labels, drain3_labels(drain_python, content))[0]
            line += f" {row['drain3_tuned']:.3f} | {row['drain3_raw']:.3f} | {row['drain3_content']:.3f} |"
        row["drain_published"] = DRAIN_PUBLISHED[name]
        results[name] = row
        print(line + f" {DRAIN_PUBLISHED[name]:.3f} |")
    mean = {k: sum(r[k] for r in results.values()) / len(results) for k in next(iter(results.values()))}
    line = (f"| **mean** | | **{mean['ga_raw']:.3f}** | {mean['purity_raw']:.3f} | | **{mean['ga_content']:.3f}** "
            f"| {mean['purity_content']:.3f} | |")
    if peers:
        line += f" {mean['drain3_tuned']:.3f} | {mean['drain3_raw']:.3f} | {mean['drain3_content']:.3f} |"
    print(line + f" {mean['drain_published']:.3f} |")
    return results


# --- synthetic failures ----------------------------------------------------------------------

_WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
          "quebec romeo sierra tango uniform victor whiskey xray yankee zulu apiserver etcd kubelet scheduler "
          "controller ingress router registry storage volume snapshot network policy service endpoint "
          "deployment statefulset daemonset namespace secret configmap webhook operator console monitoring "
          "prometheus alertmanager grafana thanos loki tempo jaeger oauth image build release upgrade install "
          "node machine cluster bootstrap bastion proxy dns certificate quota limit").split()

_SHAPES = [
    "dial tcp {ip}:{port}: connect: connection refused while contacting {a} {b}",
    "Get \"https://{ip}:{port}/api/v1/namespaces/{a}-{b}/pods\": dial tcp {ip}:{port}: i/o timeout",
    "timed out waiting for the condition on {a}/{b} after {dur}",
    "pod {a}-{b}-{pod} in namespace e2e-{a}-{num} failed: container {c} exited with code {small}",
    "expected {num} {a} replicas to be ready, got {small} ({b} {c} not ready after {dur})",
    "Error: failed to create {a} {b}: the server could not find the requested resource (post {c}s.{a}.io)",
    "AssertionError: assert {num} == {num2}\n  where {num} = len(get_{a}_{b}(cluster))",
    "Traceback (most recent call last):\n{frames}{A}{B}Error: could not open {tmp}: permission denied",
    "java.lang.IllegalStateException: {A} {b} is not ready (id {uuid})\n{jframes}",
    "panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV: segmentation violation "
    "code=0x1 addr={hex} pc={hex2}]\n\ngoroutine {num} [running]:\n{gframes}",
    "error: unable to upgrade {a} from {ver} to {ver2}: {b} operator degraded: {c} rollout stuck for {dur}",
    "fatal: unable to access 'https://github.com/{a}/{b}.git/': Failed to connect to github.com port 443 after {num} ms",
    "E{klog} {num} {a}_{b}.go:{line}] \"Failed to update {c} status\" err=\"etcdserver: request timed out\" node=\"{node}\"",
    "--- FAIL: Test{A}{B}{C} ({dur})\n    {a}_test.go:{line}: unexpected {c} count: want {small}, got {num}",
    "npm ERR! {a}-{b}@{ver} test: `jest --ci`\nnpm ERR! Exit status {small}\nnpm ERR! Failed at the {a}-{b} test script.",
    "Unexpected error:\n    <*errors.errorString | {hex}>: {{\n        s: \"{a} {b} {c} did not become available within {dur}\",\n    }}",
    "ERROR: {a} {b} build failed in {dur}: step {small} of {num} ({c}) returned non-zero status",
    "could not resolve host {a}-{b}.{c}.svc.cluster.local: lookup failed at {time}",
    "OOMKilled: container {a} in pod {b}-{pod} used {num} MiB (limit {num2} MiB) on {node}",
    "checksum mismatch for {tmp}: expected sha256:{hexlong}, got sha256:{hexlong2}",
    "{A}{B}ServiceUnavailable: upstream {c} returned 503 after {small} retries (request id {uuid})",
    "failed to pull image \"registry.example.com/{a}/{b}:{ver}\": rpc error: code = Unknown desc = {c} manifest unknown",
    "Terraform apply failed: Error creating {A} {b}: timeout while waiting for state to become 'available' "
    "(last state: 'pending', timeout: {dur})",
    "[{time}] {a}.{b}: connection reset by peer ({ip}:{port} -> {ip2}:{port2}) during {c} handshake",
    "unit test {a}.{b}.test_{c} FAILED: ValueError: invalid literal for int() with base 10: '{hexshort}'",
]


def synthetic_templates(count: int = 300, seed: int = 7, shapes: list[int] | None = None) -> list[str]:
    """``count`` templates: a shape, three template-specific words and, for some, a stack trace
    of their own. A template is kept only if its normalized text is more than 20 % (edit
    distance) away from every template kept before, so that the ground truth agrees with the
    10 % merging rule whatever the variable parts."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    from ciscope.analysis.clusters import normalize

    rng = random.Random(seed)
    out: list[str] = []
    kept: list[str] = []
    dummy = {k: "1" for k in ("ip", "ip2", "port", "port2", "num", "num2", "small", "line", "dur", "pod", "uuid", "hex",
                              "hex2", "hexshort", "hexlong", "hexlong2", "tmp", "ver", "ver2", "time", "klog", "node")}
    attempt = 0
    while len(out) < count:
        attempt += 1
        shape = _SHAPES[attempt % len(_SHAPES)]
        a, b, c = rng.sample(_WORDS, 3)
        w = lambda: rng.choice(_WORDS)  # noqa: E731
        trace = rng.random()
        if "{frames}" in shape or (trace < 0.15 and "\n" not in shape):
            frames = "".join(f'  File "/usr/lib/python3/site-packages/{a}/{w()}.py", line {{line}}, in {w()}_{w()}\n'
                             for _ in range(rng.randint(2, 6)))
            shape = shape.replace("{frames}", frames) if "{frames}" in shape else shape + "\nTraceback:\n" + frames
        if "{jframes}" in shape or (0.15 <= trace < 0.3 and "\n" not in shape):
            frames = "".join(f"\tat org.{a}.{w()}.{w().title()}.{w()}({w().title()}.java:{{line}})\n" for _ in range(rng.randint(3, 12)))
            shape = shape.replace("{jframes}", frames) if "{jframes}" in shape else shape + "\n" + frames
        if "{gframes}" in shape or (0.3 <= trace < 0.4 and "\n" not in shape):
            frames = "".join(f"github.com/{a}/{b}/pkg/{w()}.(*{w().title()}).{w().title()}({{hex}})\n"
                             f"\t/go/src/{b}/pkg/{w()}.go:{{line}} +{{hexshort}}\n" for _ in range(rng.randint(2, 8)))
            shape = shape.replace("{gframes}", frames) if "{gframes}" in shape else shape + "\n" + frames
        template = (shape.replace("{a}", a).replace("{b}", b).replace("{c}", c).replace("{A}", a.title())
                    .replace("{B}", b.title()).replace("{C}", c.title()))
        key = normalize(template.format(**dummy))
        if kept and process.extractOne(key, kept, scorer=Levenshtein.normalized_distance, score_cutoff=0.2):
            continue
        kept.append(key)
        out.append(template)
        if shapes is not None:  # which of _SHAPES each template comes from
            shapes.append(attempt % len(_SHAPES))
    return out


def _near_duplicate(template: str, rng: random.Random) -> str:
    """A variant a human would call the same failure: a few characters changed (< 10 %)."""
    kind = rng.randrange(3)
    if kind == 0:
        return template.replace(": ", " - ", 1) if ": " in template else template + "."
    if kind == 1:
        return template + " (retrying)" if len(template) > 150 else template.replace(" ", "  ", 1) + "!"
    words = template.split(" ")
    i = rng.randrange(len(words))
    words[i] = words[i].upper() if words[i].isalpha() else words[i]
    return " ".join(words)


def synthetic_failures(n: int, templates: int = 300, seed: int = 11) -> tuple[list[dict[str, Any]], list[int]]:
    """``n`` failure records and the template index of each (ground truth); deterministic."""
    rng = random.Random(seed)
    base = synthetic_templates(templates, seed)
    variants = [(t, k) for k, t in enumerate(base)] + [(_near_duplicate(t, rng), k) for k, t in enumerate(base) if k % 5 == 0]
    weights = [1 / (1 + r) ** 0.8 for r in range(len(variants))]  # Zipf-like: a few clusters dominate
    rng.shuffle(weights)
    picks = rng.choices(range(len(variants)), weights=weights, k=n)
    t0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
    hexd = "0123456789abcdef"
    pod = "bcdfghjklmnpqrstvwxz2456789"
    words = _WORDS
    records, truth = [], []
    for i, v in enumerate(picks):
        template, label = variants[v]
        r = rng.random

        def ip(r: Any = r) -> str:
            return f"10.{int(r() * 256)}.{int(r() * 256)}.{int(r() * 256)}"
        values = {
            "ip": ip(), "ip2": ip(), "port": str(1024 + int(r() * 60000)), "port2": str(1024 + int(r() * 60000)),
            "num": str(int(r() * 100000)), "num2": str(int(r() * 100000)), "small": str(int(r() * 10)),
            "line": str(1 + int(r() * 2000)),
            "dur": rng.choice([f"{int(r() * 600)}s", f"{int(r() * 10)}m{int(r() * 60)}s", f"{r() * 10:.3f}s", f"{int(r() * 999)}ms"]),
            "pod": "".join(rng.choices(pod, k=9)) + "-" + "".join(rng.choices(pod, k=5)),
            "uuid": "-".join("".join(rng.choices(hexd, k=k)) for k in (8, 4, 4, 4, 12)),
            "hex": "0x" + "".join(rng.choices(hexd, k=10)), "hex2": "0x" + "".join(rng.choices(hexd, k=8)),
            "hexshort": "0x" + "".join(rng.choices(hexd, k=3)),
            "hexlong": "".join(rng.choices(hexd, k=64)), "hexlong2": "".join(rng.choices(hexd, k=64)),
            "tmp": f"/tmp/pytest-of-ci/pytest-{int(r() * 500)}/test_{rng.choice(words)}0/{rng.choice(words)}.json",
            "ver": f"4.{int(r() * 20)}.{int(r() * 50)}", "ver2": f"4.{int(r() * 20)}.{int(r() * 50)}",
            "time": (t0 + timedelta(seconds=int(r() * 2e6))).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "klog": (t0 + timedelta(seconds=int(r() * 2e6))).strftime("%m%d %H:%M:%S.%f"),
            "node": f"ip-10-0-{int(r() * 256)}-{int(r() * 256)}.ec2.internal",
        }
        text = template.format(**values)
        if len(template) >= 150 and r() < 0.05:  # long enough for 8 more characters to stay within 10 %
            # a word no mask can hide (a shard or host name): a near-duplicate that must merge by edit distance
            text += " [" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=5)) + "]"
        records.append({"text": text, "run": f"run-{i // 20}", "job": f"job-{label % 40}",
                        "test": f"test-{label}-{int(r() * 3)}", "time": t0 + timedelta(seconds=i * 3)})
        truth.append(label)
    return records, truth


def naive_cluster(texts: Sequence[str], max_distance: float = 0.10) -> list[int]:
    """The peer: every failure, in input order, against every cluster's first text with
    rapidfuzz's Levenshtein distance (no exact-key grouping, no length buckets, no cutoff)."""
    from rapidfuzz.distance import Levenshtein

    from ciscope.analysis.clusters import normalize

    leaders: list[str] = []
    out = []
    for text in texts:
        key = normalize(text)
        for k, lead in enumerate(leaders):
            limit = int(max_distance * (len(key) + len(lead)) / 2)
            if key == lead or (limit > 1 and Levenshtein.distance(key, lead) < limit):
                out.append(k)
                break
        else:
            out.append(len(leaders))
            leaders.append(key)
    return out


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speed(n: int, peer_n: int) -> None:
    from ciscope.analysis.clusters import cluster, normalize

    began = time.perf_counter()
    records, truth = synthetic_failures(n)
    chars = sum(len(r["text"]) for r in records)
    print(f"generated {n:,} failures ({chars / n:.0f} chars on average, {len(set(truth))} templates "
          f"+ near-duplicates) in {time.perf_counter() - began:.1f} s; peak RSS so far {_peak_rss_mib():.0f} MiB",
          file=sys.stderr)
    rss_before = _peak_rss_mib()
    gc.collect()
    began = time.perf_counter()
    clusters = cluster(records)
    elapsed = time.perf_counter() - began
    rss_after = _peak_rss_mib()
    predicted = [0] * n
    by_time = {r["time"]: i for i, r in enumerate(records)}  # members are (run, job, test, time); times are unique
    for k, c in enumerate(clusters):
        for member in c.members:
            predicted[by_time[member[3]]] = k
    ga, purity = grouping_scores(truth, predicted)
    shape_of: list[int] = []
    synthetic_templates(300, 11, shape_of)  # the seed synthetic_failures uses
    shape_ga, shape_purity = grouping_scores([shape_of[label] for label in truth], predicted)
    print(f"against the 25 shapes (a template's words taken as variables): GA {shape_ga:.3f}, purity {shape_purity:.3f}",
          file=sys.stderr)
    with_regex = sum(1 for c in clusters if c.suggested_fingerprint)
    print(f"{sum(c.variants for c in clusters):,} distinct normalized texts", file=sys.stderr)
    print("| what | failures | time | peak RSS | clusters | GA | purity | fingerprints |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| `cluster()` (normalize + merge + fingerprints) | {n:,} | {elapsed:.1f} s | {rss_after:.0f} MiB "
          f"(input alone {rss_before:.0f} MiB) | {len(clusters)} | {ga:.3f} | {purity:.3f} | {with_regex}/{len(clusters)} |")
    del clusters
    gc.collect()
    texts = [r["text"] for r in records]
    began = time.perf_counter()
    for text in texts:
        normalize(text)
    print(f"| of which `normalize()` (measured alone, every text) | {n:,} | {time.perf_counter() - began:.1f} s | | | | | |")
    began = time.perf_counter()
    fewer = cluster(records, suggest=False)
    print(f"| `cluster(suggest=False)` (no fingerprints) | {n:,} | {time.perf_counter() - began:.1f} s | | {len(fewer)} | | | |")
    del fewer, texts
    sample, sample_truth = records[:peer_n], truth[:peer_n]
    began = time.perf_counter()
    ours = cluster(sample, suggest=False)
    ours_time = time.perf_counter() - began
    predicted = [0] * peer_n
    by_time = {r["time"]: i for i, r in enumerate(sample)}
    for k, c in enumerate(ours):
        for member in c.members:
            predicted[by_time[member[3]]] = k
    ga, purity = grouping_scores(sample_truth, predicted)
    print(f"| `cluster(suggest=False)` on the first {peer_n:,} | {peer_n:,} | {ours_time:.2f} s | | {len(ours)} "
          f"| {ga:.3f} | {purity:.3f} | |")
    began = time.perf_counter()
    naive = naive_cluster([r["text"] for r in sample])
    naive_time = time.perf_counter() - began
    ga, purity = grouping_scores(sample_truth, naive)
    print(f"| peer: naive pairwise rapidfuzz merge, same {peer_n:,} | {peer_n:,} | {naive_time:.2f} s | | "
          f"{len(set(naive))} | {ga:.3f} | {purity:.3f} | |")
    # the worst case for merging: texts that normalize to distinct keys and merge with nothing
    rng = random.Random(5)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(5000)]
    unrelated = [{"text": " ".join(rng.choices(vocabulary, k=rng.randint(8, 30)))} for _ in range(20_000)]
    began = time.perf_counter()
    alone = cluster(unrelated, suggest=False)
    print(f"| worst case: 20,000 unrelated texts (random words), `suggest=False` | 20,000 | {time.perf_counter() - began:.1f} s "
          f"| | {len(alone):,} | | | |")
    more = [{"text": " ".join(rng.choices(vocabulary, k=rng.randint(8, 30)))} for _ in range(100_000)]
    began = time.perf_counter()
    alone = cluster(more, suggest=False)
    print(f"| worst case: 100,000 unrelated texts (random words), `suggest=False` | 100,000 | "
          f"{time.perf_counter() - began:.1f} s | | {len(alone):,} | | | |")
    prefixed = [{"text": "fail [x.go:1]: " + t["text"]} for t in unrelated]
    began = time.perf_counter()
    alone = cluster(prefixed, suggest=False)
    print(f"| same 20,000 with one common prefix (`fail [x.go:1]: …`), `suggest=False` | 20,000 | "
          f"{time.perf_counter() - began:.1f} s | | {len(alone):,} | | | |")
    del more, prefixed
    began = time.perf_counter()
    alone = cluster(unrelated)
    print(f"| 20,000 unrelated texts, with fingerprints | 20,000 | {time.perf_counter() - began:.1f} s | | {len(alone):,} | | | "
          f"{sum(1 for c in alone if c.suggested_fingerprint):,}/{len(alone):,} |")
    print(f"\npeer: {naive_time / peer_n * 1e3:.2f} ms per failure, {naive_time / ours_time:.0f}x the time of cluster() on the "
          f"same sample; linear extrapolation to {n:,}: {naive_time / peer_n * n:.0f} s (not run)")


# --- failure reasons -------------------------------------------------------------------------

def locate_chunk(chunk: str, text: str) -> tuple[int, int] | None:
    """1-based (first, last) line of the labelled ``chunk`` in ``text``, compared with every
    whitespace run collapsed to one space (the labels lost the logs' ``\\r``); the last
    occurrence when there are several."""
    from ciscope.analysis.reasons import split_lines

    words = chunk.split()
    if not words:
        return None
    found = None
    for found in re.finditer(r"\s+".join(re.escape(w) for w in words), text):  # noqa: B007 - the last match
        pass
    if found is None:
        return None

    starts, at = [], 0
    for line in split_lines(text):  # offsets of line starts, terminators included
        starts.append(at)
        at += len(line)
        at += 2 if text.startswith("\r\n", at) else 1
    return bisect_right(starts, found.start()), bisect_right(starts, found.end() - 1)


def overlap(predicted: tuple[int, int], labelled: set[int], blank: set[int]) -> tuple[bool, float, float, float]:
    """(any line in common, Jaccard, precision, recall) of two line sets, blank lines excluded."""
    p = set(range(predicted[0], predicted[1] + 1)) - blank
    common = len(p & labelled)
    union = len(p | labelled)
    return common > 0, common / union if union else 0.0, common / len(p) if p else 0.0, common / len(labelled) if labelled else 0.0


def _summary(rows: list[tuple[bool, float, float, float]]) -> str:
    n = len(rows)
    return (f"{n} | {sum(r[0] for r in rows) / n:.1%} | {sum(r[1] for r in rows) / n:.3f} | "
            f"{sum(r[2] for r in rows) / n:.3f} | {sum(r[3] for r in rows) / n:.3f}")


def logchunks_logs(data: Path, first_per_repository: bool = False) -> Iterable[tuple[dict[str, Any], str]]:
    """(label record, log text) of buildlogs-logchunks, in labels.jsonl order; or only the
    first labelled log of each repository's archive (the fast subset the tests use)."""
    base = data / "buildlogs-logchunks"
    records = [json.loads(line) for line in (base / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    by_member = {(r["log_archive"], r["log_member"]): r for r in records}
    if first_per_repository:
        for archive_path in dict.fromkeys(r["log_archive"] for r in records):
            with tarfile.open(base / archive_path, "r|xz") as archive:  # streamed: stops early
                for member in archive:
                    record = by_member.get((archive_path, member.name))
                    if record is not None:
                        yield record, archive.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
                        break
        return
    archive_path, archive = None, None
    for record in records:
        if record["log_archive"] != archive_path:
            archive_path = record["log_archive"]
            archive = tarfile.open(base / archive_path)
        yield record, archive.extractfile(record["log_member"]).read().decode("utf-8", "replace")  # type: ignore[union-attr]


def tail_baseline(text: str) -> tuple[int, int]:
    """Peer: the last 10 non-empty lines (what a CI page shows first)."""
    from ciscope.analysis.reasons import clean, split_lines

    lines = [k + 1 for k, line in enumerate(split_lines(text)) if clean(line).strip()]
    return (lines[-10], lines[-1]) if lines else (0, 0)


def grep_baseline(text: str) -> tuple[int, int]:
    """Peer: the last line matching ``error|fail`` (any case), with 2 lines either side."""
    from ciscope.analysis.reasons import clean, split_lines

    lines = split_lines(text)
    for k in range(len(lines) - 1, -1, -1):
        if re.search(r"error|fail", clean(lines[k]), re.I):
            return max(1, k - 1), min(len(lines), k + 3)
    return tail_baseline(text)


def _extract(text: str, passing: str | None = None) -> tuple[int, int]:
    from ciscope.analysis.reasons import extract_reason

    reason = extract_reason(text, passing_log=passing)
    return reason.start, reason.end


def logchunks_overlap(data: Path, first_per_repository: bool = False, method: Any = _extract) -> list[tuple[bool, float, float, float]]:
    """Per labelled log of buildlogs-logchunks: overlap of ``method(text) -> (first, last)``
    (default ``extract_reason``) with the label (logs whose label is not found are left out)."""
    from ciscope.analysis.reasons import clean, split_lines

    rows = []
    for record, text in logchunks_logs(data, first_per_repository):
        where = locate_chunk(record["failure_reason_chunk"], text)
        if where is None:
            continue
        blank = {k + 1 for k, line in enumerate(split_lines(text)) if not clean(line).strip()}
        labelled = set(range(where[0], where[1] + 1)) - blank
        rows.append(overlap(method(text), labelled, blank))
    return rows


def cidiff_overlap(data: Path, with_passing: bool, truth: str = "groundtruth",
                   method: Any = None) -> list[tuple[bool, float, float, float]]:
    """Per breakage of buildlogs-cidiff-breakages: overlap with the "E" line ranges."""
    from ciscope.analysis.reasons import clean, split_lines

    rows = []
    for case in sorted((data / "buildlogs-cidiff-breakages" / "breakages").iterdir()):
        if not (case / truth).exists():
            continue
        fail = lzma.open(case / "fail.log.xz", "rt", encoding="utf-8", errors="replace", newline="").read()
        lines = split_lines(fail)
        blank = {k + 1 for k, line in enumerate(lines) if not clean(line).strip()}
        labelled: set[int] = set()
        for entry in (case / truth).read_text().splitlines()[1:]:
            if entry.startswith("E "):
                a, _, b = entry[2:].strip().partition("-")
                labelled |= set(range(int(a), int(b or a) + 1))
        labelled = {k for k in labelled if k <= len(lines)} - blank
        passing = lzma.open(case / "pass.log.xz", "rt", encoding="utf-8", errors="replace", newline="").read() if with_passing else None
        rows.append(overlap(method(fail) if method else _extract(fail, passing), labelled, blank))
    return rows


def reasons(data: Path) -> None:
    began = time.perf_counter()
    print("| data set | method | logs | any line in common | mean Jaccard | mean precision | mean recall |")
    print("|---|---|---|---|---|---|---|")
    peers = (("last 10 non-empty lines (peer)", tail_baseline), ("last line matching error or fail, ± 2 (peer)", grep_baseline))
    logchunks = "buildlogs-logchunks (597 Travis logs; 1 label not found in its log)"
    print(f"| {logchunks} | `extract_reason` | {_summary(logchunks_overlap(data))} |")
    for name, method in peers:
        print(f"| {logchunks} | {name} | {_summary(logchunks_overlap(data, method=method))} |")
    print(f"| buildlogs-logchunks, first labelled log per repository (the tests' subset) | `extract_reason` "
          f"| {_summary(logchunks_overlap(data, first_per_repository=True))} |")
    for truth in ("groundtruth", "groundtruth2"):
        cidiff = f"buildlogs-cidiff-breakages, `{truth}`"
        print(f"| {cidiff} | `extract_reason`, failing log only | {_summary(cidiff_overlap(data, False, truth))} |")
        print(f"| {cidiff} | `extract_reason`, with the passing log | {_summary(cidiff_overlap(data, True, truth))} |")
        for name, method in peers:
            print(f"| {cidiff} | {name} | {_summary(cidiff_overlap(data, False, truth, method))} |")
    print(f"({time.perf_counter() - began:.1f} s)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["loghub", "reasons", "speed"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=500_000)
    parser.add_argument("--peer-n", type=int, default=20_000)
    parser.add_argument("--drain-python", type=Path, default=None,
                        help="loghub: a Python interpreter with drain3 installed (e.g. /tmp/drainvenv/bin/python), "
                             "to measure Drain on the same data")
    args = parser.parse_args(argv)
    if args.command == "loghub":
        loghub(args.data, args.drain_python)
    elif args.command == "speed":
        speed(args.n, args.peer_n)
    else:
        reasons(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
