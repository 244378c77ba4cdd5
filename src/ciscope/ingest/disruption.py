"""OpenShift disruption and alert artifacts, and origin's ``query_results.json`` baselines.

Per run, openshift-tests writes (one set per phase of an upgrade job) into its junit folder:

- ``backend-disruption_<UTC>.json`` — ``{"BackendDisruptions": {"<key>": {"BackendName",
  "ConnectionType", "DisruptedDuration": "<Go duration>", ...}}}``;
- ``alerts_<UTC>.json`` — ``{"Alerts": [{"Name", "Namespace", "Level", "Duration"}]}``;
- ``cluster-data_<UTC>.json`` — of which only ``MasterNodesUpdated`` ("Y"/"N") is read.

They are summed per run as ci-tools' uploaders do: each disruption entry is rounded up to whole
seconds, then summed across the run's files per (backend, connection type); alert durations are
merged per (name, namespace, level) across files and rounded up once. A bad file is skipped
with a warning naming it (ci-tools logs and skips invalid JSON): the run is kept.

``query_results.json`` (origin's embedded historical data) is read in every format found
upstream: current (``MasterNodesUpdated``, ``JobRuns``, ``P50``…``P99``), legacy (``JobRuns``,
``P95``, ``P99``) and oldest (no ``JobRuns``), for disruption (``BackendName``) and alert
(``AlertName``) rows. See ``docs/disruption.md``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .jsonfile import load_json

if TYPE_CHECKING:
    from ..model import Run

# origin names them <prefix>_<YYYYMMDD-HHMMSS>.json; ci-tools selects by prefix alone ("alert"),
# which would also take e.g. must-gather's alertmanager*.json: the underscore is required here
DISRUPTION_FILE = re.compile(r"^backend-disruption_[^/]*\.json$")
ALERTS_FILE = re.compile(r"^alerts_[^/]*\.json$")
CLUSTER_DATA_FILE = re.compile(r"^cluster-data_[^/]*\.json$")
MAX_ARTIFACT_BYTES = 64 << 20

JOB_TYPE_FIELDS = ("release", "from_release", "platform", "architecture", "network", "topology")
LEVELS = {"info": "Info", "warning": "Warning", "critical": "Critical", "pending": "Pending", "unknown": "Unknown"}


class DisruptionFileError(InputError):
    """A disruption, alert or query_results JSON file is unusable."""


# -- Go durations ----------------------------------------------------------------------

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float:
    """Seconds of a Go duration string (``"12s"``, ``"1m30.5s"``, ``"250ms"``, ``"0s"``).
    Raises ValueError for anything Go's ``time.ParseDuration`` would refuse."""
    value = text.strip()
    sign = 1.0
    if value[:1] in "+-" and value:
        sign = -1.0 if value[0] == "-" else 1.0
        value = value[1:]
    if value == "0":
        return 0.0
    if not value:
        raise ValueError(f"{text!r} is not a Go duration")
    pos, total = 0, 0.0
    while pos < len(value):
        match = _GO_PART.match(value, pos)
        if not match:
            raise ValueError(f"{text!r} is not a Go duration (expected e.g. 12s, 1m30s, 250ms)")
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


# -- per-run artifacts -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisruptionSample:
    """Disrupted seconds of one backend and connection type in one run (summed over files)."""

    backend: str
    connection_type: str
    seconds: int


@dataclass(frozen=True, slots=True)
class AlertSample:
    """Seconds one alert was at a level in one namespace during one run."""

    name: str
    namespace: str
    level: str
    seconds: int


@dataclass(slots=True)
class RunDisruption:
    """Everything read from one run's disruption, alert and cluster-data files."""

    backends: list[DisruptionSample] = field(default_factory=list)
    alerts: list[AlertSample] = field(default_factory=list)
    master_nodes_updated: str | None = None
    job_type: dict[str, str] = field(default_factory=dict)  # see ciscope.ingest.job_variants.job_type
    files: list[str] = field(default_factory=list)  # read successfully, relative to the run folder
    warnings: list[str] = field(default_factory=list)  # bad files, skipped

    @property
    def empty(self) -> bool:
        return not self.files


def _load(path: str | os.PathLike[str]) -> Any:
    return load_json(path, limit=MAX_ARTIFACT_BYTES, error=DisruptionFileError)


def normalize_level(level: str) -> str:
    """``warning`` / ``WARNING`` / ``Warning`` → ``Warning`` (origin looks levels up in lower
    case while the data says ``Warning``: a mismatch silently means "no history")."""
    return LEVELS.get(level.strip().lower(), level.strip())


def read_backend_disruption(path: str | os.PathLike[str]) -> list[DisruptionSample]:
    """The entries of one ``backend-disruption_*.json``, each rounded up to whole seconds."""
    path = os.fspath(path)
    doc = _load(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("BackendDisruptions"), dict):
        raise DisruptionFileError(str(path), 'expected an object {"BackendDisruptions": {name: {...}}}')
    out = []
    for key, entry in doc["BackendDisruptions"].items():
        place = f"BackendDisruptions[{key!r}]"
        if not isinstance(entry, dict):
            raise DisruptionFileError(str(path), "expected an object with BackendName, ConnectionType, DisruptedDuration", place=place)
        # the key is the full backend name in every origin version ("kube-api-new-connections");
        # BackendName of old files may lack the connection type
        backend = key
        duration = entry.get("DisruptedDuration", "0s")
        if not isinstance(duration, str):
            raise DisruptionFileError(str(path), f"DisruptedDuration = {duration!r}: expected a Go duration string such as \"12s\"", place=place)
        try:
            seconds = go_duration_seconds(duration)
        except ValueError as exc:
            raise DisruptionFileError(str(path), str(exc), place=place) from None
        out.append(DisruptionSample(str(backend), str(entry.get("ConnectionType") or ""), math.ceil(seconds)))
    return out


def read_alert_durations(path: str | os.PathLike[str]) -> dict[tuple[str, str, str], float]:
    """Seconds per (name, namespace, level) of one ``alerts_*.json`` (not yet rounded)."""
    path = os.fspath(path)
    doc = _load(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("Alerts"), list):
        raise DisruptionFileError(str(path), 'expected an object {"Alerts": [{Name, Namespace, Level, Duration}]}')
    out: dict[tuple[str, str, str], float] = {}
    for i, entry in enumerate(doc["Alerts"]):
        place = f"Alerts[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Name"), str) or not entry.get("Name"):
            raise DisruptionFileError(str(path), "expected an object with a Name, Namespace, Level and Duration", place=place)
        duration = entry.get("Duration", "0s")
        if not isinstance(duration, str):
            raise DisruptionFileError(str(path), f"Duration = {duration!r}: expected a Go duration string such as \"1m30s\"", place=place)
        try:
            seconds = go_duration_seconds(duration)
        except ValueError as exc:
            raise DisruptionFileError(str(path), str(exc), place=place) from None
        key = (entry["Name"], str(entry.get("Namespace") or ""), normalize_level(str(entry.get("Level") or "")))
        out[key] = out.get(key, 0.0) + seconds
    return out


def read_master_nodes_updated(path: str | os.PathLike[str]) -> str | None:
    """``MasterNodesUpdated`` of a ``cluster-data_*.json`` ("Y", "N" or None)."""
    path = os.fspath(path)
    doc = _load(path)
    if not isinstance(doc, dict):
        raise DisruptionFileError(str(path), "expected a JSON object")
    value = doc.get("MasterNodesUpdated")
    return str(value) if value else None


def is_artifact(filename: str) -> bool:
    """Whether a file name is a disruption, alert or cluster-data artifact."""
    return bool(DISRUPTION_FILE.match(filename) or ALERTS_FILE.match(filename) or CLUSTER_DATA_FILE.match(filename))


def read_run_artifacts(paths: Iterable[str | os.PathLike[str]], *, root: str | os.PathLike[str] | None = None) -> RunDisruption:
    """Sum a run's artifact files (in path order). A bad file becomes a warning (naming it) and
    is skipped."""
    result = RunDisruption()
    backends: dict[tuple[str, str], int] = {}
    alerts: dict[tuple[str, str, str], float] = {}
    mnu: list[str] = []
    under = None if root is None else os.fspath(root) + os.sep
    for path in sorted((os.fspath(p) for p in paths), key=_parts):  # as pathlib orders paths: by parts
        name = os.path.basename(path)
        if under is None:
            shown = path
        elif path.startswith(under):
            shown = path[len(under):].replace(os.sep, "/")
        else:
            shown = Path(path).relative_to(root).as_posix()  # type: ignore[arg-type]
        try:
            if DISRUPTION_FILE.match(name):
                for sample in read_backend_disruption(path):
                    key = (sample.backend, sample.connection_type)
                    backends[key] = backends.get(key, 0) + sample.seconds
            elif ALERTS_FILE.match(name):
                for alert_key, seconds in read_alert_durations(path).items():
                    alerts[alert_key] = alerts.get(alert_key, 0.0) + seconds
            elif CLUSTER_DATA_FILE.match(name):
                value = read_master_nodes_updated(path)
                if value:
                    mnu.append(value)
            else:
                continue
        except InputError as exc:
            result.warnings.append(f"{exc} (file skipped, run kept)")
            continue
        result.files.append(shown)
    result.backends = [DisruptionSample(b, c, s) for (b, c), s in sorted(backends.items())]
    result.alerts = [AlertSample(n, ns, lv, math.ceil(s)) for (n, ns, lv), s in sorted(alerts.items())]
    # ci-tools: "Y" if any file says "Y", else the first non-empty value
    result.master_nodes_updated = "Y" if "Y" in mnu else (mnu[0] if mnu else None)
    return result


# -- query_results.json ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BaselineRow:
    """One historical row: percentiles of per-run seconds for a backend (or an alert at a
    namespace and level) in one job variant. ``job_runs`` is None when the file has none
    (the oldest format); ``p50``/``p75`` None in the legacy formats."""

    name: str  # BackendName or AlertName
    release: str
    from_release: str
    platform: str
    architecture: str
    network: str
    topology: str
    p95: float
    p99: float
    job_runs: int | None = None
    p50: float | None = None
    p75: float | None = None
    master_nodes_updated: str | None = None
    namespace: str = ""  # alerts only
    level: str = ""  # alerts only, normalized (Warning, Critical …); "" in old alert files
    first_observed: str | None = None
    last_observed: str | None = None
    mean: float | None = None  # computed baselines only (not in query_results.json)

    def job_type(self) -> tuple[str, str, str, str, str, str]:
        return (self.release, self.from_release, self.platform, self.architecture, self.network, self.topology)


@dataclass(slots=True)
class Baselines:
    """A set of baseline rows: ``kind`` is ``disruption`` or ``alerts``; ``format`` is
    ``current``, ``legacy`` (JobRuns, P95, P99) or ``oldest`` (no JobRuns)."""

    kind: str
    format: str
    rows: list[BaselineRow]
    source: str = ""


_NAME_KEY = {"disruption": "BackendName", "alerts": "AlertName"}
_REQUIRED = ("Release", "FromRelease", "Platform", "Architecture", "Network", "Topology", "P95", "P99")


def looks_like_query_results(path: str | os.PathLike[str]) -> bool:
    """Cheap sniff: a JSON array whose first object names a BackendName or an AlertName."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    text = head.lstrip()
    if not text.startswith(b"["):
        return False
    return bool(re.match(rb'\[\s*(\]|\{\s*"(BackendName|AlertName)")', text))


def read_query_results(path: str | os.PathLike[str]) -> Baselines:
    """Read origin's ``query_results.json`` (disruption or alerts, any format)."""
    return parse_query_results(_load(Path(path)), source=str(path))


def _percentile(value: Any, source: str, place: str, key: str, *, required: bool) -> float | None:
    if value is None:
        if required:
            raise DisruptionFileError(source, f"missing {key}: expected a number of seconds as a string, e.g. \"12.5\"", place=place)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DisruptionFileError(source, f"{key} = {value!r}: expected a number of seconds as a string, e.g. \"12.5\"", place=place)
    try:
        number = float(value)
    except ValueError:
        raise DisruptionFileError(source, f"{key} = {value!r}: expected a number of seconds as a string, e.g. \"12.5\"", place=place) from None
    if not math.isfinite(number):
        raise DisruptionFileError(source, f"{key} = {value!r}: expected a finite number of seconds", place=place)
    return number


def parse_query_results(doc: Any, *, source: str = "query_results.json") -> Baselines:
    """Baselines from a decoded ``query_results.json`` document."""
    if not isinstance(doc, list):
        raise DisruptionFileError(source, f"expected a JSON array of baseline rows, found {type(doc).__name__}")
    if not doc:
        return Baselines(kind="disruption", format="current", rows=[], source=source)
    first = doc[0]
    if not isinstance(first, dict) or not ({"BackendName", "AlertName"} & set(first)):
        raise DisruptionFileError(source, "expected rows with BackendName (disruption) or AlertName (alerts)", place="row 0")
    kind = "disruption" if "BackendName" in first else "alerts"
    name_key = _NAME_KEY[kind]
    rows = []
    formats = set()
    for i, row in enumerate(doc):
        place = f"row {i}"
        if not isinstance(row, dict):
            raise DisruptionFileError(source, f"expected an object, found {type(row).__name__}", place=place)
        missing = [k for k in (name_key, *_REQUIRED) if k not in row]
        if missing:
            raise DisruptionFileError(source, f"missing {', '.join(missing)}: every {kind} row needs {name_key}, {', '.join(_REQUIRED)}", place=place)
        strings = {}
        for key in (name_key, "Release", "FromRelease", "Platform", "Architecture", "Network", "Topology"):
            value = row[key]
            if value is None and key == "FromRelease":
                value = ""
            if not isinstance(value, str):
                raise DisruptionFileError(source, f"{key} = {value!r}: expected a string", place=place)
            strings[key] = value
        job_runs = row.get("JobRuns")
        if job_runs is not None and (isinstance(job_runs, bool) or not isinstance(job_runs, int) or job_runs < 0):
            raise DisruptionFileError(source, f"JobRuns = {job_runs!r}: expected a whole number of runs", place=place)
        mnu = row.get("MasterNodesUpdated")
        if mnu is not None and not isinstance(mnu, str):
            raise DisruptionFileError(source, f"MasterNodesUpdated = {mnu!r}: expected \"Y\", \"N\" or null", place=place)
        formats.add("current" if "P50" in row else "legacy" if "JobRuns" in row else "oldest")
        rows.append(BaselineRow(
            name=strings[name_key], release=strings["Release"], from_release=strings["FromRelease"],
            platform=strings["Platform"], architecture=strings["Architecture"], network=strings["Network"],
            topology=strings["Topology"],
            p95=_percentile(row["P95"], source, place, "P95", required=True),  # type: ignore[arg-type]
            p99=_percentile(row["P99"], source, place, "P99", required=True),  # type: ignore[arg-type]
            job_runs=job_runs,
            p50=_percentile(row.get("P50"), source, place, "P50", required=False),
            p75=_percentile(row.get("P75"), source, place, "P75", required=False),
            master_nodes_updated=mnu or None,
            namespace=str(row.get("AlertNamespace") or ""),
            level=normalize_level(str(row.get("AlertLevel") or "")),
            first_observed=row.get("FirstObserved") or None,
            last_observed=row.get("LastObserved") or None,
        ))
    # the oldest format of a file wins: a file mixing formats is as weak as its weakest rows
    fmt = next(f for f in ("oldest", "legacy", "current") if f in formats)
    return Baselines(kind=kind, format=fmt, rows=rows, source=source)


def percentile_string(value: float | None) -> str:
    """origin's percentile strings: NULL → ``"0.0"``, whole numbers with ``.0``."""
    if value is None:
        return "0.0"
    text = repr(float(value))
    return text if ("." in text or "e" in text or "n" in text) else text + ".0"


def query_results_document(baselines: Baselines) -> list[dict[str, Any]]:
    """The rows of ``baselines`` in origin's current ``query_results.json`` shape (key order
    as upstream writes it)."""
    out: list[dict[str, Any]] = []
    for r in baselines.rows:
        row: dict[str, Any]
        if baselines.kind == "alerts":
            row = {"AlertName": r.name, "AlertNamespace": r.namespace, "AlertLevel": r.level,
                   "FirstObserved": r.first_observed, "LastObserved": r.last_observed}
        else:
            row = {"BackendName": r.name}
        row.update({
            "Release": r.release, "FromRelease": r.from_release, "Platform": r.platform,
            "Architecture": r.architecture, "Network": r.network, "Topology": r.topology,
            "MasterNodesUpdated": r.master_nodes_updated, "JobRuns": r.job_runs or 0,
            "P95": percentile_string(r.p95), "P99": percentile_string(r.p99),
            "P75": percentile_string(r.p75), "P50": percentile_string(r.p50),
        })
        out.append(row)
    return out


def read_run_folder(folder: Path, run: Run, *, found: Sequence[str] | None = None) -> RunDisruption | None:
    """The disruption, alert and cluster-data files anywhere under a run folder's
    ``artifacts/``, summed, with the run's job type (its variants; a release in its
    metadata, ``metadata.release`` = ``X.Y``; else the job-name rules); None when it has none.
    ``found``: their paths, when the caller has listed ``artifacts/`` already (the Prow reader
    does, for the reports: one walk of the folder, not two)."""
    from .job_variants import job_type

    if found is None:
        artifacts = os.path.join(folder, "artifacts")
        if not os.path.isdir(artifacts):
            return None
        listed: list[str] = []
        for dirpath, dirnames, filenames in os.walk(artifacts):
            dirnames.sort()
            listed.extend(os.path.join(dirpath, name) for name in filenames if is_artifact(name))
        found = listed
    if not found:
        return None
    summed = read_run_artifacts(found, root=folder)
    variants: dict[str, Any] = dict(run.variants)
    release = run.metadata.get("release")
    if "release" not in variants and isinstance(release, str) and re.fullmatch(r"\d+\.\d+", release):
        variants["release"] = release
    summed.job_type = job_type(run.job, variants)
    return summed


def _parts(path: str) -> list[str]:
    return path.split(os.sep)
