"""ciscope: understand CI results — is it me, a known bug, a flake, or a regression?"""

from .model import Run, RunStatus, Status, TestResult, Verdict
from .store import Store, connect

__version__ = "0.1.0"

__all__ = ["Run", "RunStatus", "Status", "Store", "TestResult", "Verdict", "__version__", "connect"]
