"""The claim tests of claims 1–3 themselves, run through the plugin's claim_check (pytester) on the tiny world:
verdicts on both tiers and a re-run served from the cache; and an offline machine, where every check is
undecided yet says what to provide and what it would have checked."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

import paper
from measure import readout
from tests.claim_modules import load_claim_module
from tests.tier_world import BLIND, BLIND_FT, GOOD, GOOD_FT, ChunkCounter, World

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]

SUITE_CONFTEST = '''
import json
from pathlib import Path

import pytest

from measure.models.hub import HubAccess
from measure.models.registry import CheckpointSpec
from measure.tiers.evidence import Evidence

pytest_plugins = PROJECT_PLUGINS
WORLD = json.loads(Path(__file__).with_name("world.json").read_text())


@pytest.fixture(scope="session")
def hub_access():
    return HubAccess(offline=True, cache_dir=WORLD["hf_cache"])


@pytest.fixture(scope="session")
def evidence(tier_runner):
    # The claim tests' own paper models, resolved to the tiny stand-ins instead of the registry rows.
    specs = {tuple(key.split("|")): CheckpointSpec(**row) for key, row in WORLD["specs"].items()}

    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, library=None, pre_logits=False):
        if (paper_model, pretraining, finetuned_on) not in specs:
            raise LookupError(f"no tiny stand-in for {paper_model} / {pretraining} / {finetuned_on}")
        spec = specs[(paper_model, pretraining, finetuned_on)]
        if library not in (None, spec.library) or (pre_logits and not spec.pre_logits):
            raise LookupError(f"no {library or 'pre-logits'} stand-in for {paper_model}")
        return spec

    return Evidence(tier_runner, find)
'''

def project_plugins() -> list[str]:
    """The project conftest's plugin list, so the synthetic suite loads exactly what the real one does."""
    tree = ast.parse((ROOT / "conftest.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytest_plugins" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("conftest.py defines no pytest_plugins")


SELECTED = ("(better_or_comparable_to_bit_m_r152x4_probe and cifar10-) "
            "or better_or_comparable_to_bit_m_r152x4_imagenet "
            "or imagenet21k-imagenet-vit-b16 or imagenet21k-imagenet_real-vit-b16")


def claim_suite(pytester: pytest.Pytester, world: World) -> None:
    pytester.makepyprojecttoml((ROOT / "pyproject.toml").read_text())  # the project's tolerances and margins
    pytester.mkdir("paper")
    for name in ("claims.toml", "seed_discrepancies.csv", "inconsistencies.csv"):
        (pytester.path / "paper" / name).write_bytes((ROOT / "paper" / name).read_bytes())
    pytester.mkdir("claims")
    for name in ("test_claim1_vit_vs_cnn.py", "test_claim2_pretraining_size.py", "test_claim3_hybrids.py",
                 "cases.py", "decide.py"):
        (pytester.path / "claims" / name).write_bytes((ROOT / "claims" / name).read_bytes())
    stand_ins = {("ViT-L/16", "imagenet21k", ""): GOOD, ("R152x4", "imagenet21k", ""): BLIND,
                 ("ViT-L/16", "imagenet21k", "imagenet"): GOOD_FT, ("ViT-B/16", "imagenet21k", "imagenet"): BLIND_FT,
                 ("R152x4", "imagenet21k", "imagenet"): BLIND_FT}
    (pytester.path / "world.json").write_text(json.dumps({
        "hf_cache": str(world.hf_cache),
        "specs": {"|".join(key): dataclasses.asdict(spec) for key, spec in stand_ins.items()}}))
    pytester.makeconftest(SUITE_CONFTEST.replace("PROJECT_PLUGINS", repr(project_plugins())))


def run_suite(pytester: pytest.Pytester, world: World, cache: Path, *args: str) -> pytest.RunResult:
    # --opt=PATH: a bare path argument would move pytest's rootdir away from the suite
    return pytester.runpytest("-p", "no:unraisableexception", f"--claims-data={world.data}",
                              f"--claims-imagenet={world.imagenet}", f"--claims-real-labels={world.real}",
                              f"--claims-cache={cache}", "--claims-tier=eval,probe", *args)


def checks(pytester: pytest.Pytester) -> dict[str, dict]:
    doc = json.loads((pytester.path / "reports" / "claims.json").read_text())
    return {check["id"]: check for claim in doc["claims"] for check in claim["checks"]}


def test_claim_tests_reach_verdicts_on_both_tiers_then_rerun_from_cache(pytester, trusted, tmp_path, monkeypatch):
    claim_suite(pytester, trusted)
    counter = ChunkCounter(monkeypatch)
    result = run_suite(pytester, trusted, tmp_path / "cache", "-k", SELECTED)
    # ViT stand-in vs blind CNN: "better or comparable" verified on ImageNet / ReaL; on CIFAR-10 (linear probe) the
    # rule verifies but the stand-ins are read at different kinds of representation, so it cannot (issue 15);
    # few-shot inconclusive: the tiny CIFAR-10 has 5 training images per class, so every 5-shot draw is
    # the whole pool and how another training set would do is unknown. The blind classifier standing in for
    # ViT-B/16 scores 4/12 on ImageNet (Wilson 95 % interval 14-61 %) against Table 5's 83.97 (and low on ReaL
    # against 88.35): refuted.
    result.assert_outcomes(passed=2, failed=2, skipped=2)
    recorded = checks(pytester)
    fewshot = recorded["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe[cifar10-fewshot]"]
    assert fewshot["verdict"] == "inconclusive" and fewshot["rule"]["draws"] == readout.FEWSHOT_DRAWS
    assert "training sets cannot be estimated" in fewshot["reason"] and fewshot["rule"]["draw_fraction"] == 1.0
    probe = recorded["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe[cifar10-linear]"]
    assert probe["verdict"] == "inconclusive" and probe["rule"]["rule_verdict"] == "verified"
    assert probe["measured"]["n"] == 20
    assert probe["tier"] == ("probe (linear): class token after final LayerNorm (timm) vs "
                             "avg-pooled tokens (timm; no pre-logits layer)")
    assert probe["details"]["tiny-good"]["representation"]["key"] == "class_token_final_layernorm"
    # the stand-ins list no representation kinds: the reading cannot call them alike, and says so, both ways
    assert "different kinds of representation" in probe["rule"]["cannot_refute"]
    assert "different kinds of representation" in probe["rule"]["cannot_verify"]
    assert probe["details"]["tiny-good"]["pipeline"]["name"] == "big_vision_fewshot"
    assert probe["details"]["tiny-good"]["inference"]["test"]["images_per_s"] > 0
    assert probe["details"]["tiny-good"]["checkpoint"]["revision"] == trusted.commits["tiny-good"]
    real = recorded["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_imagenet[imagenet_real]"]
    assert real["verdict"] == "verified" and real["measured"]["n"] == 11 and real["tier"] == "eval"
    value = recorded["test_table5_value[imagenet21k-imagenet-vit-b16]"]
    assert value["verdict"] == "refuted" and value["kind"] == "value"
    assert value["measured"]["value"] == pytest.approx(100 * 4 / 12) and value["paper"]["value"] == 83.97
    assert value["measured"]["high"] < 83.97 - 1.0  # the whole interval below the paper's band
    computed = counter.calls
    assert computed == 6  # 2 probe models x (train, test) + 2 eval models (ImageNet and ReaL share)

    rerun = run_suite(pytester, trusted, tmp_path / "cache", "-k", SELECTED)
    rerun.assert_outcomes(passed=2, failed=2, skipped=2)
    assert counter.calls == computed  # the second run is served from the cache: nothing recomputed
    again = checks(pytester)["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe[cifar10-linear]"]
    assert again["details"]["tiny-good"]["inference"]["train"]["from_cache"] is True
    assert again["measured"] == probe["measured"]


def test_offline_machine_lists_every_check_undecided_with_what_to_provide(pytester, trusted, tmp_path, monkeypatch):
    """No checkpoints, no data, no hub: every check of claims 1-3 is not run or untestable."""
    claim_suite(pytester, trusted)
    # the project's own plugins: the real registry and HubAccess
    (pytester.path / "conftest.py").write_text(f"pytest_plugins = {project_plugins()!r}\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hf_cache"))
    monkeypatch.setenv("CLAIMS_CHECKPOINTS", str(tmp_path / "no_files"))
    result = pytester.runpytest("-p", "no:unraisableexception", f"--claims-data={tmp_path / 'no_data'}",
                                f"--claims-cache={tmp_path / 'cache'}")
    outcomes = result.parseoutcomes()
    assert set(outcomes) <= {"skipped", "warnings"} and outcomes["skipped"] > 250
    recorded = checks(pytester)
    assert {c["verdict"] for c in recorded.values()} <= {"not_run", "untestable"}
    for check in recorded.values():  # undecided, yet each says what it would have checked
        plan = check["plan"]
        assert plan and plan["tier"] and plan["description"], check["id"]
        if plan["kind"] == "ordering":
            assert plan["a"] and plan["b"] and (plan["margin"] is None) == (plan["margin_value"] is None), check["id"]
        else:
            assert check["paper"] is not None and check["paper"]["source"]["table"], check["id"]
    for check in recorded.values():
        reason, needs = check["reason"], check["needs"]
        if check["verdict"] != "not_run" or "VTAB" in reason:
            continue
        if "TPUv3" in reason:  # Table 2's pre-training cost: needs a pre-training run, not a download
            assert needs == [load_claim_module("test_claim1_vit_vs_cnn").TPU_NEED], needs
            continue
        if "not selected (--claims-tier)" in reason and len(needs) > 1:  # issue 12: ImageNet fine-tuned here
            from measure.data.datasets import IMAGENET_NEED, IMAGENET_TRAIN_NEED

            assert needs[1:3] == [IMAGENET_TRAIN_NEED, IMAGENET_NEED] and "H100-hours" in needs[3], needs
            continue
        if "not selected (--claims-tier)" in reason:
            assert needs == ["select tier finetune: --claims-tier analysis,eval,finetune,probe"], needs
            continue
        if check["plan"]["tier"].startswith("analysis"):  # issue 10: Figure 7 on weights, a CPU suffices
            assert "--claims-checkpoint" in reason and not any("GPU" in need for need in needs), reason
            continue
        assert "--claims-checkpoint" in reason and "HF_HOME" in reason or "CLAIMS_CHECKPOINTS" in reason, reason
        assert "--claims-data DIR" in reason or "--claims-imagenet DIR" in reason, reason
        assert "CUDA GPU" in reason, reason
        # one need per thing to provide: each checkpoint by its key, each dataset folder, the GPU once
        assert [n for n in needs if "CUDA GPU" in n] == [needs[-1]], needs
        assert all(n.startswith("checkpoint ") and "--claims-checkpoint " in n
                   for n in needs if "Hugging Face cache" in n or "CLAIMS_CHECKPOINTS" in n), needs
        assert len(needs) == len(set(needs)) and 3 <= len(needs) <= 5, needs
    for check in recorded.values():  # every probe and eval check names the reading it would use
        plan = check["plan"]
        if plan["tier"].startswith("probe"):
            assert "preprocessing: big_vision_fewshot (" in plan["description"], check["id"]
            assert "; representation: " in plan["description"], check["id"]
        elif plan["tier"] == "eval":
            assert "preprocessing: " in plan["description"] and "vit_jax" in plan["description"], check["id"]
    claim1_probe = recorded["test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe[cifar100-fewshot]"]
    assert ("representation: pre_logits on both sides (vit_l16-i21k-hf, bit_m_r152x4-i21k)"
            in claim1_probe["plan"]["description"])
    cell = recorded["test_table5_value[imagenet21k-imagenet-vit-b16]"]  # references beside the paper's value
    assert cell["verdict"] == "not_run" and cell["paper"]["value"] == 83.97
    assert {(r["source"], r["value"]) for r in cell["references"]} == {
        ("vision_transformer README (re-run)", 84.62), ("vision_transformer README (re-run)", 84.61),
        ("timm results", 84.2)}
    probes = [c for c in recorded.values() if "better_or_comparable_to_bit_m_r152x4_probe" in c["id"]]
    assert probes and all(c["needs"][0].startswith("checkpoint vit_l16-i21k-hf (Hugging Face google/vit-large-")
                          for c in probes)  # the probe asks for the pre-logits twin, not the timm row
    # how long (dominated by collection; the hub is never waited on): benchmarks/bench_hub.py --suite


def test_every_printed_jft_accuracy_says_the_tolerance_it_would_be_judged_with():
    # Before: Table 7's "Average" columns (metric mean_top1) carried no tolerance in their plans.
    jft = load_claim_module("test_jft_untestable")
    accuracies = paper.numbers(table="Table 7")
    assert accuracies and all(jft.plan_of(n).tolerance == "accuracy" for n in accuracies)
