"""The job type of a run for disruption baselines: release, from-release, platform,
architecture, network, topology.

Each variant comes from the run's own variants (``metadata.variants`` of started.json or
finished.json, prowjob labels ``variant.ciscope.io/<key>``, ``--variant``) when present, else
from rules on the job name — ci-tools derived them from job names before Sippy's variant
registry (TRT-1627). The built-in rules below can be extended or replaced by a YAML file named
by ``$CISCOPE_JOB_VARIANTS``::

    replace_builtin: false          # true: only the file's rules
    rules:                          # tried in order, before the built-in ones; first match wins
      - variant: platform
        match: '-(aws|gcp)-'        # a Python regex searched in the job name
        value: '\\1'                # optional: a template (\\1 = group 1, {release} = release
                                    # found so far); default: group 1, else the whole match
    defaults:                       # when no rule matched
      network: ovn
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import InputError

ENV = "CISCOPE_JOB_VARIANTS"
FIELDS = ("release", "from_release", "platform", "architecture", "network", "topology")
# spellings accepted in run variants for each field
ALIASES = {
    "release": ("release",),
    "from_release": ("from_release", "from-release", "fromrelease", "FromRelease"),
    "platform": ("platform", "Platform"),
    "architecture": ("architecture", "arch", "Architecture"),
    "network": ("network", "Network"),
    "topology": ("topology", "Topology"),
}


@dataclass(frozen=True, slots=True)
class Rule:
    variant: str
    match: re.Pattern[str]
    value: str | None = None


@dataclass(frozen=True, slots=True)
class VariantRules:
    rules: tuple[Rule, ...]
    defaults: tuple[tuple[str, str], ...]


_PLATFORMS = "aws|azure|gcp|metal|vsphere|openstack|ovirt|libvirt|nutanix|ibmcloud|alibaba|powervs"
BUILTIN = VariantRules(
    rules=(
        Rule("release", re.compile(r"(?:^|-)(\d+\.\d+)(?:-|$)")),
        Rule("from_release", re.compile(r"upgrade-from-(?:stable-)?(\d+\.\d+)")),
        Rule("from_release", re.compile(r"-(\d+\.\d+)-to-\d+\.\d+")),
        Rule("from_release", re.compile(r"-upgrade(?:-|$)"), "{release}"),  # a micro upgrade
        Rule("platform", re.compile(rf"(?:^|-)({_PLATFORMS})(?:\d*)(?:-|$)")),
        Rule("architecture", re.compile(r"(?:^|-)(arm64|ppc64le|s390x|multi)(?:-|$)")),
        Rule("network", re.compile(r"(?:^|-)(ovn|sdn)(?:-|$)")),
        Rule("topology", re.compile(r"single-node|(?:^|-)sno(?:-|$)"), "single"),
        Rule("topology", re.compile(r"(?:^|-)(?:two-node|tnf|tna)(?:-|$)"), "dual"),
        Rule("topology", re.compile(r"(?:^|-)compact(?:-|$)"), "compact"),
        Rule("topology", re.compile(r"(?:^|-)microshift(?:-|$)"), "microshift"),
        Rule("topology", re.compile(r"(?:^|-)(?:hypershift|external)(?:-|$)"), "external"),
    ),
    defaults=(("from_release", ""), ("architecture", "amd64"), ("network", "ovn"), ("topology", "ha")),
)


def load_rules(path: str) -> VariantRules:
    """Rules from a YAML file (see the module docstring), merged with the built-in ones."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise InputError(path, f"cannot read the job-variant rules ({ENV}): {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(path, f"malformed YAML: {exc}", line=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict):
        raise InputError(path, "expected a mapping with 'rules' (a list) and optionally 'defaults', 'replace_builtin'")
    rules: list[Rule] = []
    for i, raw in enumerate(doc.get("rules") or []):
        place = f"rules[{i}]"
        if not isinstance(raw, dict) or raw.get("variant") not in FIELDS or not isinstance(raw.get("match"), str):
            raise InputError(path, f"expected {{variant: one of {', '.join(FIELDS)}, match: REGEX, value: TEMPLATE}}", place=place)
        try:
            pattern = re.compile(raw["match"])
        except re.error as exc:
            raise InputError(path, f"match = {raw['match']!r}: invalid regular expression: {exc}", place=place) from None
        value = raw.get("value")
        rules.append(Rule(raw["variant"], pattern, None if value is None else str(value)))
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict) or any(k not in FIELDS for k in defaults):
        raise InputError(path, f"defaults: expected a mapping of {', '.join(FIELDS)} to values", place="defaults")
    if not doc.get("replace_builtin"):
        rules.extend(BUILTIN.rules)
        defaults = {**dict(BUILTIN.defaults), **defaults}
    return VariantRules(tuple(rules), tuple((str(k), str(v)) for k, v in defaults.items()))


@lru_cache(maxsize=4)
def _rules_for(path: str | None) -> VariantRules:
    return load_rules(path) if path else BUILTIN


def current_rules() -> VariantRules:
    """The rules in force: ``$CISCOPE_JOB_VARIANTS`` merged with the built-in ones."""
    return _rules_for(os.environ.get(ENV) or None)


def job_type(job: str, variants: Mapping[str, Any] | None = None, *, rules: VariantRules | None = None) -> dict[str, str]:
    """The six job-type fields of a run: its own variants first, then rules on the job name,
    then defaults. A field nothing decides is ``""`` (a run without a platform is skipped by
    the verdicts, as origin does)."""
    rules = rules or current_rules()
    variants = variants or {}
    out: dict[str, str] = {}
    for name in FIELDS:
        for alias in ALIASES[name]:
            if alias in variants and variants[alias] is not None:
                out[name] = str(variants[alias])
                break
    for name in FIELDS:
        if name in out:
            continue
        for rule in rules.rules:
            if rule.variant != name:
                continue
            match = rule.match.search(job)
            if not match:
                continue
            if rule.value is not None:
                value = match.expand(rule.value)
            else:
                value = match.group(1) if match.re.groups else match.group(0)
            out[name] = value.replace("{release}", out.get("release", ""))
            break
    defaults = dict(rules.defaults)
    return {name: out.get(name, defaults.get(name, "")) for name in FIELDS}
