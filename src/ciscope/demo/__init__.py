"""A realistic synthetic CI history with its ground truth, for ``ciscope demo`` and for
measuring the analyses against known answers.

:func:`generate` writes Prow/GCS run folders (``logs/<job>/<build>/`` and, for the presubmit
job, ``pr-logs/pull/<org>_<repo>/<pr>/<job>/<build>/``) holding ``started.json``,
``finished.json``, ``prowjob.json``, ``build-log.txt`` and OpenShift-style JUnit reports,
plus ``truth.json``: which tests are flaky, which regressed at which build, which are
broken, which runs hit infrastructure trouble, what every known bug and unknown failure
family looks like, and the one cause of every failing test in every run.

Everything comes from ``random.Random`` seeded from ``seed`` (one generator per job plan and
one per run), so the same arguments give byte-identical files. See docs/demo.md.
"""


from __future__ import annotations

from .catalog import BACKENDS
from .truth import write_fingerprints
from .writer import generate

__all__ = ["BACKENDS", "generate", "write_fingerprints"]
