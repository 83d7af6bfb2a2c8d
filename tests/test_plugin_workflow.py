"""The nightly CI workflow passes a linter, offline: check-jsonschema's vendored GitHub-workflow schema.

And it does what pytest-claims/docs/PLUGIN.md ("Nightly CI") says: nightly + manual; the GPU tiers as pytest-split
shards whose count matches the matrix; a merge that writes the persisted history and fails on flips.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "nightly.yml"


def lint(path: Path) -> subprocess.CompletedProcess:
    # A proxy that refuses every connection: the check must not need the network.
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True, timeout=120, env=env, check=False)


def test_workflow_passes_the_linter_offline():
    done = lint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_refuses_a_broken_workflow(tmp_path):
    broken = WORKFLOW.read_text(encoding="utf-8").replace("    runs-on: ubuntu-latest\n    timeout-minutes: 60\n",
                                                          "    timeout-minutes: sixty\n", 1)
    assert broken != WORKFLOW.read_text(encoding="utf-8")
    (tmp_path / "broken.yml").write_text(broken, encoding="utf-8")
    done = lint(tmp_path / "broken.yml")
    assert done.returncode != 0 and "timeout-minutes" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_runs_nightly_and_on_demand(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers


def test_gpu_shards_run_the_suites_default_tiers(workflow):
    # Before: eval,probe only. The analysis tier's attention checks need ImageNet val, which only the GPU runners
    # have, so every Figure 7 attention-distance check was "not run" every night.
    from measure.tiers.scopes import DEFAULT_TIERS

    default = ",".join(DEFAULT_TIERS)
    triggers = workflow.get("on", workflow.get(True))
    assert triggers["workflow_dispatch"]["inputs"]["tiers"]["default"] == default
    assert workflow["env"]["GPU_TIERS"] == f"${{{{ inputs.tiers || '{default}' }}}}"


def test_gpu_shards_cover_the_suite_and_the_merge_fails_on_flips(workflow):
    jobs = workflow["jobs"]
    groups = jobs["gpu"]["strategy"]["matrix"]["group"]
    command = " ".join(step.get("run", "") for step in jobs["gpu"]["steps"])
    splits = int(re.search(r"--splits (\d+)", command)[1])
    assert groups == list(range(1, splits + 1)) and "--group ${{ matrix.group }}" in command
    assert "--durations-path" in command and "--claims-history none" in command
    assert "self-hosted" in jobs["gpu"]["runs-on"] and "self-hosted" in jobs["merge"]["runs-on"]
    merge = " ".join(step.get("run", "") for step in jobs["merge"]["steps"])
    assert "pytest_claims merge shards/claims-gpu-*" in merge and '--fail-on "$FAIL_ON"' in merge
    assert '--history "$CLAIMS_STATE/history.sqlite"' in merge
    assert set(jobs["merge"]["needs"]) == {"cpu", "gpu"} and "!cancelled()" in jobs["merge"]["if"]
    last = jobs["merge"]["steps"][-1]
    assert last["if"] == "${{ steps.merge.outputs.status != '0' }}" and "exit 1" in last["run"]
    persistent = [workflow["env"][k] for k in ("CLAIMS_DATA", "CLAIMS_CACHE", "CLAIMS_CHECKPOINTS", "CLAIMS_STATE")]
    assert all(p.startswith("/srv/") for p in persistent)
