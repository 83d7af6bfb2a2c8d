"""The plugin stands alone: it imports nothing of a suite that uses it, and no deep-learning stack.

bin/plugin-selftest runs these tests in a virtual environment holding only ``pip install pytest-claims[test]``
and sets PYTEST_CLAIMS_ALONE=1 there: then the packages below must not even be installed, which proves that the
package's tests and examples/resnet pass without them."""

from __future__ import annotations

import importlib.util
import os
import pkgutil
import subprocess
import sys

import pytest

import pytest_claims

# A deep-learning stack, and the modules of the ViT suite that first used the plugin (vit-claims).
FOREIGN = ("torch", "torchvision", "timm", "transformers", "measure", "fixtures", "claims", "paper")
ALONE = os.environ.get("PYTEST_CLAIMS_ALONE") == "1"


def _modules() -> list[str]:
    return ["pytest_claims", *(m.name for m in pkgutil.walk_packages(pytest_claims.__path__, "pytest_claims."))]


def test_importing_every_module_of_the_plugin_loads_nothing_foreign():
    modules = _modules()
    assert {"pytest_claims.plugin", "pytest_claims.rules", "pytest_claims.report.html"} <= set(modules)
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FOREIGN!r}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_foreign_import_in_the_plugin_would_be_seen(tmp_path):
    """The check above can fail: a module importing one of FOREIGN (here a stand-in named ``measure``) is listed."""
    (tmp_path / "measure.py").write_text("", encoding="utf-8")
    code = "import sys\nimport measure\n" f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FOREIGN!r}))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.stdout.strip() == "['measure']"


@pytest.mark.skipif(not ALONE, reason="only in the plugin's own environment (bin/plugin-selftest)")
@pytest.mark.parametrize("name", ["torch", "timm", "transformers", "measure"])
def test_the_plugin_environment_holds_no_deep_learning_stack_nor_vit_code(name):
    assert importlib.util.find_spec(name) is None, f"{name} is importable in the plugin's own environment"
    assert name not in sys.modules
