"""Evidence and the claims' decisions on it: what is untestable, what is not run (and that both still say what
they would have checked), what is an error, what an ordering may conclude, how a value check reads seeds."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from claims import decide
from measure.errors import Missing, Unreleased
from measure.models.registry import CheckpointSpec
from measure.tiers.evidence import Evidence
from measure.tiers.models import Model, resolve
from measure.tiers.results import ExampleMismatch, TierResult, Unavailable
from measure.tiers.runner import GPU_HINT, MissingResources, TierNotSelected
from pytest_claims import Plan

ROOT = Path(__file__).resolve().parents[1]


def spec(key: str, paper_model: str = "ViT-L/16", finetuned_on: str = "", provenance: str = "authors",
         note: str = "") -> CheckpointSpec:
    return CheckpointSpec(key=key, paper_model=paper_model, pretraining="imagenet21k", finetuned_on=finetuned_on,
                          resolution=224, library="timm" if provenance != "unreleased" else "",
                          hub_id=f"{key}.tag" if provenance != "unreleased" else "", provenance=provenance,
                          note=note or "test row")


def fake_result(tier="finetune", dataset="cifar10", key="fake", n=100, fingerprint="fp", provenance="authors",
                shortened=False, recipe=None, representation="pre-logits") -> TierResult:
    examples = {"dataset": dataset, "split": "test", "n": n, "fingerprint": fingerprint}
    metadata = {"tier_label": f"{tier} (fake)", "checkpoint": {"provenance": provenance, "hub_id": f"{key}.tag"},
                "examples": examples}
    return TierResult(tier=tier, label=f"{tier} (fake)", dataset=dataset, checkpoint=key,
                      correct=np.arange(n) % 10 != 0, examples=examples, provenance=provenance,
                      recipe=recipe or {}, metadata=metadata, shortened=shortened,
                      representation={"label": representation} if tier == "probe" else None,
                      method="fewshot" if tier == "probe" else "")


# -- resolving paper models to registry rows ---------------------------------------------------------

def finder(rows: dict[tuple[str, str, str], CheckpointSpec]):
    def find(paper_model, pretraining, finetuned_on="", *, resolution=None, library=None):
        if (paper_model, pretraining, finetuned_on) not in rows or library is not None:
            raise LookupError(f"no checkpoint for {paper_model} / {pretraining} / {finetuned_on} {library or ''}")
        return rows[(paper_model, pretraining, finetuned_on)]
    return find


def test_unknown_checkpoint_combination_is_an_error_not_untestable():
    find = finder({("ViT-L/16", "imagenet21k", ""): spec("ok"),
                   ("ViT-L/16", "jft300m", ""): spec("gone", provenance="unreleased", note="never released")})
    with pytest.raises(LookupError, match="no checkpoint for ViT-L/61"):  # a typo must surface
        resolve(Model("ViT-L/61", "imagenet21k"), find=find)
    gone = resolve(Model("ViT-L/16", "jft300m"), find=find)
    assert isinstance(gone, Unavailable) and gone.kind == "untestable" and "never released" in gone.reason
    assert resolve(Model("ViT-L/16", "imagenet21k"), find=find).key == "ok"


def test_the_real_registry_lists_the_never_released_vit_h14_imagenet_finetune_as_untestable():
    """Facts as data: the registry row, not a table in code, says ViT-H/14 (I21k) was never fine-tuned publicly."""
    outcome = resolve(Model("ViT-H/14", "imagenet21k", "imagenet", resolution=384))
    assert isinstance(outcome, Unavailable) and outcome.kind == "untestable"
    assert "ViT-H/14" in outcome.reason and "vit_h14-i21k-ft_in1k-384" in outcome.reason


class FakeRunner:
    """The TierRunner surface Evidence uses: `measure`, `require`, `device`."""

    def __init__(self, results=(), errors=(), device="cpu", selected=("eval", "probe", "finetune")) -> None:
        self.results, self.errors = list(results), list(errors)
        self.device, self.selected = SimpleNamespace(type=device), selected

    def require(self, tier):
        if tier not in self.selected:
            raise TierNotSelected(f"tier {tier} not selected (--claims-tier)", need=f"select tier {tier}")

    def measure(self, tier, spec, dataset, **params):
        self.require(tier)
        if self.errors:
            error = self.errors.pop(0)
            if error is not None:
                raise error
        return self.results.pop(0)


ROWS = finder({("ViT-L/16", "imagenet21k", "imagenet"): spec("vit-ft", finetuned_on="imagenet"),
               ("R152x4", "imagenet21k", "imagenet"): spec("bit-ft", "R152x4", "imagenet")})
PAIR = [Model("ViT-L/16", "imagenet21k", "imagenet"), Model("R152x4", "imagenet21k", "imagenet")]


def test_measure_returns_unavailable_instead_of_ending_the_test():
    unreleased = Evidence(FakeRunner(errors=[Unreleased("weights withdrawn")]), ROWS).measure("eval", PAIR, "imagenet")
    assert unreleased.kind == "untestable" and "weights withdrawn" in unreleased.reason
    unselected = Evidence(FakeRunner(selected=("probe",)), ROWS).measure("eval", PAIR, "imagenet")
    assert unselected == Unavailable.not_run("tier eval not selected (--claims-tier)", ["select tier eval"])
    both = Evidence(FakeRunner(errors=[MissingResources([Missing("no vit", need="vit"), Missing("no data", need="data")]),
                                       Missing("no bit", need="bit")]), ROWS).measure("eval", PAIR, "imagenet")
    assert both.kind == "not_run" and both.needs == ("vit", "data", "bit", GPU_HINT)  # everything at once, GPU once
    assert both.reason.startswith("no vit; no data; no bit")
    on_gpu = Evidence(FakeRunner(errors=[Missing("no vit", need="vit"), None],
                                 results=[fake_result("eval", "imagenet")], device="cuda"), ROWS)
    assert on_gpu.measure("eval", PAIR, "imagenet").needs == ("vit",)


def test_measure_refuses_to_pair_results_over_different_examples():
    same = [fake_result("eval", "imagenet"), fake_result("eval", "imagenet", key="other")]
    assert len(Evidence(FakeRunner(same), ROWS).measure("eval", PAIR, "imagenet")) == 2
    differ = [fake_result("eval", "imagenet"), fake_result("eval", "imagenet", fingerprint="changed")]
    with pytest.raises(ExampleMismatch, match="cannot pair fake and fake on imagenet"):
        Evidence(FakeRunner(differ), ROWS).measure("eval", PAIR, "imagenet")


# -- what claims decide: one check per path, each saying what it checks ------------------------------

class Ended(Exception):
    """How the fake claim_check ends a test (the real one raises pytest's Skipped/Failed)."""


class FakeCheck:
    """Records every call like claim_check; untestable / not run end the test, a verified value returns."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict]] = []

    def value(self, measured, paper, tolerance, tier, details=None, cannot_refute=None):
        self.records.append(("value", {"measured": measured, "paper": paper, "tier": tier}))
        return "verified"  # returns normally, as a verified check does

    def ordering(self, a, b, tier, margin=None, a_label="A", b_label="B", details=None, cannot_refute=None):
        self.records.append(("ordering", {"cannot_refute": cannot_refute, "tier": tier}))
        return "verified"

    def untestable(self, reason, paper=None, plan=None):
        self.records.append(("untestable", {"reason": reason, "paper": paper, "plan": plan}))
        raise Ended(reason)

    def not_run(self, reason, paper=None, needs=None, plan=None):
        self.records.append(("not_run", {"reason": reason, "needs": needs, "paper": paper, "plan": plan}))
        raise Ended(reason)


class FakeEvidence:
    """The `evidence` fixture's surface, in one of the modes a claim test can meet."""

    tier, label, details = staticmethod(Evidence.tier), staticmethod(Evidence.label), staticmethod(Evidence.details)

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def selected(self, tier):
        return Unavailable.not_run(f"tier {tier} not selected", ["tier"]) if self.mode == "tier not selected" else None

    def finetune_recipe(self, dataset):
        return SimpleNamespace(shortened=self.mode == "shortened", steps=10, batch_size=4, resolution=32,
                               paper_steps=10000, paper_batch_size=512)

    def measure(self, tier, models, dataset, method=None):
        if self.mode == "missing":
            return Unavailable.not_run("checkpoint missing", ["checkpoint"])
        if self.mode == "unreleased":
            return Unavailable.untestable("never released")
        return [fake_result(tier, dataset, key=f"m{i}") for i, _ in enumerate(models)]


MODES = ("measured", "tier not selected", "shortened", "missing", "unreleased")


def load_claim_module(name: str):
    spec_ = importlib.util.spec_from_file_location(f"_claim_module_{name}", ROOT / "claims" / f"{name}.py")
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    return module


VALUE_TESTS = [("test_claim1_vit_vs_cnn", "test_table2_i21k_value", "TABLE2_I21K"),
               ("test_claim2_pretraining_size", "test_table5_value", "TABLE5")]


@pytest.mark.parametrize("module,test,numbers", VALUE_TESTS, ids=[t for _, t, _ in VALUE_TESTS])
def test_value_tests_record_exactly_one_check_on_every_path(module, test, numbers):
    """claim_check.value returns when verified: a test that goes on afterwards would record a second check
    (an error). Every cell x every way the evidence can end must record exactly one — and an undecided one
    still carries the printed number it was going to check and a value plan."""
    claim = load_claim_module(module)
    kinds = {}
    for number in getattr(claim, numbers):
        for mode in MODES:
            check = FakeCheck()
            try:
                getattr(claim, test)(check, FakeEvidence(mode), number)
            except Ended:
                pass
            assert len(check.records) == 1, (number.dataset, number.pretraining, mode, check.records)
            kind, record = check.records[0]
            kinds.setdefault((number.pretraining, number.dataset), set()).add(kind)
            if kind in ("not_run", "untestable"):
                assert record["paper"] is number, (number.label, mode)  # the cell it was going to check
                assert isinstance(record["plan"], Plan) and record["plan"].kind == "value", (number.label, mode)
    # every branch was driven: untestable cells, value checks (finetune and eval), not-run cells
    assert {kind for found in kinds.values() for kind in found} == {"untestable", "value", "not_run"}
    if test == "test_table2_i21k_value":
        assert kinds[("imagenet21k", "imagenet")] == {"untestable"} and kinds[("imagenet21k", "vtab")] == {"not_run"}
        assert kinds[("imagenet21k", "cifar10")] == {"value", "not_run", "untestable"}
    else:
        assert kinds[("imagenet", "cifar10")] == {"untestable"}
        assert kinds[("imagenet21k", "imagenet")] == {"value", "not_run", "untestable"}  # no recipe to shorten
        assert kinds[("imagenet21k", "pets")] == {"value", "not_run", "untestable"}


ORDERING_MODULES = ("test_claim1_vit_vs_cnn", "test_claim2_pretraining_size", "test_claim3_hybrids")


@pytest.mark.parametrize("module", ORDERING_MODULES)
def test_undecided_orderings_name_both_sides_the_margin_and_the_tier(module):
    """Offline, an ordering ends not run or untestable; its record must still say which two models it
    compares, with which margin, under which tier (issue 7: the ~200 not-run orderings said neither)."""
    claim = load_claim_module(module)
    seen = 0
    for name in dir(claim):
        test = getattr(claim, name)
        marks = {m.name: m for m in getattr(test, "pytestmark", [])}
        if not name.startswith("test_") or "parametrize" not in marks or "evidence" not in test.__code__.co_varnames:
            continue
        argnames = [a.strip() for a in marks["parametrize"].args[0].split(",")]
        if argnames == ["number"]:
            continue  # value checks: test_value_tests_record_exactly_one_check_on_every_path
        for values in marks["parametrize"].args[1]:
            values = values if isinstance(values, tuple) else (values,)
            check = FakeCheck()
            with pytest.raises(Ended):
                test(check, FakeEvidence("missing"), **dict(zip(argnames, values)))
            (kind, record), = check.records
            plan = record["plan"]
            assert kind == "not_run" and plan.kind == "ordering", (name, values)
            assert plan.a_label and plan.b_label and plan.a_label != plan.b_label, (name, values)
            assert plan.tier.split(" ")[0] in ("probe", "eval", "finetune"), (name, plan.tier)
            assert plan.margin in (None, "comparable_accuracy")
            if "comparable" in name or ">=" in str(values):
                assert plan.margin == "comparable_accuracy", (name, values)
            seen += 1
    assert seen >= 14  # claim 1 has the fewest: 8 probe + 4 finetune + 2 eval orderings


def test_cannot_refute_names_substitutes_biased_against_the_claim_and_shortened_recipes():
    recipe = {"steps": 200, "batch_size": 128, "paper_steps": 10000, "paper_batch_size": 512}
    authors, sam = fake_result(), fake_result(key="vit_b16-i1k-sam", provenance="substitute")
    assert decide.cannot_refute(authors, sam) is None  # the paper's recipe, no bias named: may refute
    assert decide.cannot_refute(authors, authors, biased=authors, bias="x") is None  # not a substitute
    text = decide.cannot_refute(authors, sam, biased=sam, bias="SAM makes it stronger")
    assert text == "substitute checkpoint vit_b16-i1k-sam: SAM makes it stronger"
    short = fake_result(shortened=True, recipe=recipe)
    both = decide.cannot_refute(short, sam, biased=sam, bias="SAM makes it stronger")
    assert both.startswith("substitute checkpoint") and "shortened recipe (200 steps, batch 128" in both


def test_compare_passes_the_bias_only_for_the_side_it_names():
    claim2 = load_claim_module("test_claim2_pretraining_size")

    class Substitutes(FakeEvidence):
        def measure(self, tier, models, dataset, method=None):
            return [fake_result(tier, dataset, key="a"), fake_result(tier, dataset, key="b", provenance="substitute")]

    check = FakeCheck()
    claim2.test_i21k_pretraining_beats_i1k(check, Substitutes("measured"), "ViT-B/16", "cifar10", "fewshot")
    assert check.records[0][1]["cannot_refute"].startswith("substitute checkpoint b: the public ImageNet-1k ViTs")
    check = FakeCheck()  # "better or comparable" with BiT: no bias named, so a substitute on B does not matter
    claim2.test_large_vit_catches_up_with_bit_after_i21k_pretraining(check, Substitutes("measured"), "ViT-L/16",
                                                                      "cifar10", "fewshot")
    assert check.records[0][1]["cannot_refute"] is None


def test_value_checks_judge_the_mean_over_fine_tuning_seeds():
    runs = tuple(np.arange(1000) % 100 >= miss for miss in (10, 12, 20))  # 90, 88, 80 % correct
    result = dataclasses.replace(fake_result(n=1000), correct=runs[0], seeds_correct=runs)
    measured = decide.accuracy_measurement(result)
    assert measured.value == pytest.approx(86.0) and measured.n == 3000
    std = float(np.std([90.0, 88.0, 80.0], ddof=1))  # 5.29: wider than the pooled Wilson interval here
    assert measured.low == pytest.approx(86.0 - std) and measured.high == pytest.approx(86.0 + std)
    assert measured.extra["interval"]["low_from"] == "mean_pm_std" and measured.extra["seed_accuracies"][2] == 80.0
    close = tuple(np.arange(1000) % 100 >= miss for miss in (10, 10, 11))  # seeds agree: Wilson is wider
    wide = decide.accuracy_measurement(dataclasses.replace(result, correct=close[0], seeds_correct=close))
    assert wide.extra["interval"]["low_from"] == wide.extra["interval"]["high_from"] == "wilson_pooled"
    single = decide.accuracy_measurement(fake_result(n=1000))
    assert single.value == pytest.approx(90.0) and single.n == 1000  # one run: its Wilson interval, as before


def test_a_result_holds_correctness_or_scores_and_unavailable_needs_a_reason():
    with pytest.raises(ValueError, match="correctness or scores"):
        dataclasses.replace(fake_result(), correct=None)
    scores = dataclasses.replace(fake_result(), correct=None, scores=np.linspace(0, 1, 7))
    assert scores.n == 7 and scores.per_example is scores.scores
    with pytest.raises(ValueError, match="no accuracy"):
        _ = scores.accuracy
    with pytest.raises(ValueError, match="reason"):
        Unavailable.not_run("  ")
    with pytest.raises(ValueError, match="kind"):
        Unavailable("skipped", "why")
