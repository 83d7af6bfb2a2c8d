"""Load the project's claim modules (claims/*.py) by path for a test, without leaving a `claims` package in
`sys.modules`: the plugin's own tests run synthetic suites in-process with `claims/` folders of their own,
which a lingering `claims` entry would shadow ("No module named claims.test_synthetic")."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CLAIMS = Path(__file__).resolve().parents[1] / "claims"


def load_claim_module(name: str) -> ModuleType:
    """claims/<name>.py as a private module; whatever it imports under `claims.` is forgotten afterwards."""
    before = set(sys.modules)
    try:
        spec = importlib.util.spec_from_file_location(f"_project_claims_{name}", CLAIMS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for key in set(sys.modules) - before:
            if key == "claims" or key.startswith("claims."):
                del sys.modules[key]
    return module
