"""ciscope: understand CI results — is it me, a known bug, a flake, or a regression?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Run, RunStatus, Status, TestResult, Verdict
    from .store import Store, connect

__version__ = "0.1.0"

__all__ = ["Run", "RunStatus", "Status", "Store", "TestResult", "Verdict", "__version__", "connect"]


def __getattr__(name: str) -> Any:
    # The store pulls in pyarrow and numpy (~70 MB, ~0.15 s): loaded on first use only, so
    # that parsers (``ciscope.ingest.junit``) stay light for tools that only parse.
    if name in ("Store", "connect"):
        from . import store

        return getattr(store, name)
    if name in ("Run", "RunStatus", "Status", "TestResult", "Verdict"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module 'ciscope' has no attribute {name!r}")
