"""The real claim suite gives the same verdicts serially and under pytest-xdist.

Runs the claim modules that need no training (architecture facts, position embeddings, JFT listings)
twice in subprocesses — serially and with ``-n 2`` — each writing its own report, and compares the
verdict of every check and every claim. (The plugin's own test proves the same on a synthetic suite;
this one proves it for the fixtures the suite really uses: session fixtures, cached models, marks.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["claims/test_table1_variants.py", "claims/test_posemb_interpolation.py", "claims/test_jft_untestable.py"]


def _verdicts(report_dir: Path, *xdist: str) -> tuple[dict, dict]:
    command = [sys.executable, "-m", "pytest", *MODULES, "-q",
               "--claims-report-dir", str(report_dir), *xdist]
    done = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads((report_dir / "claims.json").read_text())
    every = [check for claim in document["claims"] for check in claim["checks"]]
    # every check states what it checks — decided or not — and an undecided one tied to a printed number carries it
    assert all(check["plan"] and check["plan"]["tier"] for check in every), [c["id"] for c in every if not c["plan"]]
    assert all(check["paper"] for check in every if check["verdict"] == "untestable"
               and check["plan"]["kind"] == "value"), "a value check without its paper cell"
    checks = {check["nodeid"]: check["verdict"] for check in every}
    claims = {claim["id"]: claim["verdict"] for claim in document["claims"]}
    return checks, claims


def test_serial_and_xdist_runs_of_the_real_suite_agree(tmp_path):
    serial_checks, serial_claims = _verdicts(tmp_path / "serial")
    parallel_checks, parallel_claims = _verdicts(tmp_path / "xdist", "-n", "2")
    assert len(serial_checks) > 100  # the JFT listing alone has well over a hundred checks
    assert {"verified", "refuted", "untestable"} <= set(serial_checks.values())
    assert parallel_checks == serial_checks
    assert parallel_claims == serial_claims
