"""The plain ``pytest claims/ -n N`` shares checks by work stealing, as bin/claims does; a chosen --dist is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.scheduling import DEFAULT_DIST, distribution_mode

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("chosen,parsed,distload,expected", [
    ("load", "no", False, "worksteal"),     # only -n: xdist picked load for us
    ("load", "load", False, "load"),        # --dist load on the command line
    ("load", "no", True, "load"),           # the old -d (= --dist load)
    ("loadfile", "loadfile", False, "loadfile"),
    ("no", "no", False, "no"),              # no -n: nothing is distributed
])
def test_work_stealing_only_where_the_command_named_no_mode(chosen, parsed, distload, expected):
    assert DEFAULT_DIST == "worksteal"
    assert distribution_mode(chosen, parsed, distload) == expected


def _scheduler(tmp_path: Path, *args: str, env: dict | None = None) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "claims/test_text_arithmetic.py", "-n", "2", "-v", "-p", "no:cacheprovider",
         "--claims-report-dir", str(tmp_path), *args],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("scheduling tests via")]
    return line.removeprefix("scheduling tests via ")


def test_the_plain_command_steals_work_and_an_explicit_mode_wins(tmp_path):
    assert _scheduler(tmp_path) == "WorkStealingScheduling"
    assert _scheduler(tmp_path, "--dist", "load") == "LoadScheduling"
    assert _scheduler(tmp_path, env={"PYTEST_ADDOPTS": "--dist loadfile"}) == "LoadFileScheduling"
