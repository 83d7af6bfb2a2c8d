"""benchmarks/gpu_check.py runs end to end on CPU (--dry-run), so it cannot rot between GPU loans; a section
that crashes or fails a check is recorded without stopping the others, and the budget stops new sections."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def test_the_dry_run_measures_every_section_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    sections = report["sections"]
    assert {name: s["status"] for name, s in sections.items()} == dict.fromkeys(
        ["environment", "tiny_end_to_end", "bf16_vs_fp32", "bf16_features_probe", "eval_pipeline", "finetune",
         "forced_oom", "xdist", "ddp", "compile", "throughput"], "ok")
    assert report["environment"]["device"] == "cpu" and report["dry_run"]
    e2e = sections["tiny_end_to_end"]["figures"]
    assert e2e["eval top-1, fitted classifier"]["accuracy"] == 1.0
    assert e2e["eval top-1, fitted classifier"]["inference"]["precision"] == "float32"
    assert e2e["probe 5-shot, informative"]["accuracy"] >= 0.8 and e2e["probe 5-shot, blind"]["accuracy"] <= 0.2
    agreement = sections["bf16_vs_fp32"]["figures"]
    assert 0 <= agreement["top1_agreement"] <= 1 and agreement["max_abs_logit_diff"] > 0  # bf16 does round
    assert agreement["weights"].startswith("random init")
    probe = sections["bf16_features_probe"]["figures"]  # features and probe accuracy, bf16 autocast vs float32
    assert 0 < probe["median_relative_feature_diff"] <= probe["max_relative_feature_diff"] <= 0.05
    assert set(probe["probe_accuracy"]) == {"fp32", "bf16"} and probe["probe_accuracy"]["fp32"]["linear"] > 0.5
    assert probe["test_images"] == probe["images"] // 2 and probe["weights"].startswith("random init")
    workers = sections["xdist"]["figures"]["workers"]
    assert [(w["worker"], w["device"], w["accuracy"]) for w in workers] == [("gw0", "cpu", 1.0), ("gw1", "cpu", 1.0)]
    rows = sections["eval_pipeline"]["figures"]
    assert {row["model"] for row in rows.values()} == {"test_vit", "test_resnet"}
    assert all(row["max_relative_feature_diff"] == 0.0 and row["loader_only_images_per_s"] > 0 for row in rows.values())
    assert sections["forced_oom"]["figures"]["backoffs"] == 2 and sections["forced_oom"]["figures"]["final_batch"] == 2
    assert sections["finetune"]["figures"]["max_weight_diff_resumed"] == 0.0
    assert sections["ddp"]["figures"]["oom_ranks"] == [{"micro_batch": 2, "oom_backoffs": 1}] * 2
    assert sections["compile"]["figures"]["backend"] == "aot_eager"
    (result,) = sections["throughput"]["figures"]["results"]
    assert result["model"] == "test_vit" and result["precision"] == "fp32"
    assert result["model alone"]["micro_batch"] == result["pipeline"]["micro_batch"]
    assert result["pipeline"]["eval_mfu"] is None  # no peak FLOP/s is known for a CPU: no invented MFU


@pytest.fixture
def gpu_check(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def test_sections_that_crash_or_fail_are_recorded_and_the_rest_still_run(gpu_check, monkeypatch, tmp_path):
    def crash(*args):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(gpu_check, "SECTIONS", {
        "crashes": crash,
        "fails": lambda *args: {"figures": {"x": 1}, "checks": {"x is 2": False, "x is 1": True}},
        "passes": lambda *args: {"figures": {}, "checks": {"fine": True}}})
    out = tmp_path / "report.json"
    assert gpu_check.main(["--dry-run", "--out", str(out)]) == 1
    sections = json.loads(out.read_text())["sections"]
    assert sections["crashes"]["status"] == "error" and "illegal memory access" in sections["crashes"]["error"]
    assert sections["fails"]["status"] == "failed: x is 2"
    assert sections["passes"]["status"] == "ok"
    assert gpu_check.main(["--dry-run", "--out", str(out), "--budget-s", "0"]) == 0
    assert {s["status"] for s in json.loads(out.read_text())["sections"].values()} == {"skipped"}


def test_without_a_gpu_only_the_dry_run_is_offered(gpu_check, capsys):
    if gpu_check.torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit) as exit_info:
        gpu_check.main([])
    assert exit_info.value.code == 2 and "--dry-run runs it on CPU" in capsys.readouterr().err
