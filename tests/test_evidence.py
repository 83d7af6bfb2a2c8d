"""Evidence and the claims' decisions on it: what is untestable, what is not run (and that both still say what
they would have checked), what is an error, what an ordering may conclude, how a value check reads seeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from measure.errors import Missing, Unreleased
from measure.models.registry import CheckpointSpec
from measure.tiers.evidence import Evidence
from measure.tiers.paper_models import Model, resolve
from measure.tiers.results import ExampleMismatch, TierResult, Unavailable
from measure.tiers.runner import GPU_HINT, MissingResources, TierNotSelected
from measure.train.settings import FinetuneSettings
from pytest_claims import Plan
from tests.claim_modules import load_claim_module

ROOT = Path(__file__).resolve().parents[1]
decide = load_claim_module("decide")


def spec(key: str, paper_model: str = "ViT-L/16", finetuned_on: str = "", provenance: str = "authors",
         note: str = "") -> CheckpointSpec:
    return CheckpointSpec(key=key, paper_model=paper_model, pretraining="imagenet21k", finetuned_on=finetuned_on,
                          resolution=224, library="timm" if provenance != "unreleased" else "",
                          hub_id=f"{key}.tag" if provenance != "unreleased" else "", provenance=provenance,
                          note=note or "test row")


PIPELINES = {"probe": {"name": "big_vision_fewshot", "definition": "resize 256, crop 224", "resize": [256, 256],
                       "crop": 224},
             "eval": {"name": "vit_jax", "definition": "whole-image resize", "resize": [384, 384], "crop": None},
             "finetune": {"name": "vit-paper-finetune evaluation", "recipe": "vit-paper-finetune",
                          "definition": "tf.image.resize, no crop", "resolution": 384, "resize": [384, 384],
                          "crop": None, "interpolation": "bilinear", "antialias": False}}
PIPELINES["vtab"] = PIPELINES["finetune"]  # the vtab tier evaluates as the finetune tier does


def fake_result(tier="finetune", dataset="cifar10", key="fake", n=100, fingerprint="fp", provenance="authors",
                shortened=False, recipe=None, representation="pre-logits", kind="pre_logits", pipeline=None,
                handicap="", draws=0, seeds=3) -> TierResult:
    examples = {"dataset": dataset, "split": "test", "n": n, "fingerprint": fingerprint}
    metadata = {"tier_label": f"{tier} (fake)", "checkpoint": {"provenance": provenance, "hub_id": f"{key}.tag"},
                "examples": examples}
    correct = np.arange(n) % 10 != 0
    if tier == "finetune":  # every seed's run, as the finetune tier hands them back
        metadata["runs"] = [{"seed": seed} for seed in range(seeds)]
    return TierResult(tier=tier, label=f"{tier} (fake)", dataset=dataset, checkpoint=key,
                      correct=correct, examples=examples, provenance=provenance,
                      recipe=recipe or {}, metadata=metadata, shortened=shortened,
                      representation={"label": representation, "kind": kind} if tier == "probe" else None,
                      method="fewshot" if tier == "probe" else "", pipeline=PIPELINES[tier] if pipeline is None
                      else pipeline, handicap=handicap, draws_correct=(correct,) * draws,
                      seeds_correct=(correct,) * seeds if tier == "finetune" else ())


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

    def value(self, measured, paper, tolerance, tier, details=None, cannot_refute=None, cannot_verify=None,
              references=None, plan=None):
        self.records.append(("value", {"measured": measured, "paper": paper, "tier": tier, "references": references,
                                       "cannot_refute": cannot_refute, "plan": plan}))
        return "verified"  # returns normally, as a verified check does

    def ordering(self, a, b, tier, margin=None, a_label="A", b_label="B", details=None, cannot_refute=None,
                 cannot_verify=None, plan=None):
        self.records.append(("ordering", {"cannot_refute": cannot_refute, "cannot_verify": cannot_verify,
                                          "tier": tier, "plan": plan}))
        return "verified"

    def ordering_draws(self, a, b, tier, margin=None, a_label="A", b_label="B", details=None, draw_fraction=0.0,
                       cannot_refute=None, cannot_verify=None, plan=None):
        self.records.append(("ordering_draws", {"cannot_refute": cannot_refute, "cannot_verify": cannot_verify,
                                                "tier": tier, "plan": plan, "shape": np.shape(a), "draw_fraction": draw_fraction,
                                                "a": np.asarray(a), "b": np.asarray(b)}))
        return "verified"

    def untestable(self, reason, paper=None, plan=None, references=None):
        self.records.append(("untestable", {"reason": reason, "paper": paper, "plan": plan, "references": references}))
        raise Ended(reason)

    def not_run(self, reason, paper=None, needs=None, plan=None, references=None):
        self.records.append(("not_run", {"reason": reason, "needs": needs, "paper": paper, "plan": plan,
                                         "references": references}))
        raise Ended(reason)


class FakeEvidence:
    """The `evidence` fixture's surface, in one of the modes a claim test can meet."""

    tier, label, details = staticmethod(Evidence.tier), staticmethod(Evidence.label), staticmethod(Evidence.details)

    def __init__(self, mode: str) -> None:
        self.mode = mode
        # what the vtab tier's claim code asks of the runner: how it fine-tunes (shortened or the paper's), its
        # device and where its data is (no VTAB-1k folders here)
        settings = FinetuneSettings(steps=10, batch=4) if mode == "shortened" else FinetuneSettings()
        self.runner = SimpleNamespace(finetune_settings=settings, device=torch.device("cpu"), open_dataset=None)

    def selected(self, tier):
        return Unavailable.not_run(f"tier {tier} not selected", ["tier"]) if self.mode == "tier not selected" else None

    def finetune_recipe(self, dataset, paper_model="", pretraining=""):
        return SimpleNamespace(shortened=self.mode == "shortened", steps=10, batch_size=4, resolution=32,
                               paper_steps=10000, paper_batch_size=512)

    def reading(self, tier, models, pipeline="", dataset=""):
        return Evidence(None).reading(tier, models, pipeline, dataset)  # the real registry's, offline

    def measure(self, tier, models, dataset, method=None, reading=None):
        if self.mode == "missing":
            return Unavailable.not_run("checkpoint missing", ["checkpoint"])
        if self.mode == "unreleased":
            return Unavailable.untestable("never released")
        return [fake_result(tier, dataset, key=f"m{i}") for i, _ in enumerate(models)]


MODES = ("measured", "tier not selected", "shortened", "missing", "unreleased")


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
        # ImageNet: the suite's own fine-tune in §4.1's setting (claims/imagenet_finetune.py), no longer untestable
        assert kinds[("imagenet21k", "imagenet")] == {"value", "not_run", "untestable"}
        # VTAB (19 tasks): the vtab tier's 19-task mean (claims/vtab_mean.py), no longer "not implemented"
        assert kinds[("imagenet21k", "vtab")] == {"value", "not_run", "untestable"}
        assert kinds[("imagenet21k", "cifar10")] == {"value", "not_run", "untestable"}
    else:
        assert kinds[("imagenet", "cifar10")] == {"untestable"}
        assert kinds[("imagenet21k", "imagenet")] == {"value", "not_run", "untestable"}  # no recipe to shorten
        assert kinds[("imagenet21k", "pets")] == {"value", "not_run", "untestable"}


ORDERING_MODULES = ("test_claim1_vit_vs_cnn", "test_claim2_pretraining_size", "test_claim3_hybrids")


def ordering_cases(module):
    """(test function, kwargs) of every parametrized ordering test of a claim module that takes evidence."""
    claim = load_claim_module(module)
    for name in dir(claim):
        test = getattr(claim, name)
        marks = {m.name: m for m in getattr(test, "pytestmark", [])}
        if not name.startswith("test_") or "parametrize" not in marks or "evidence" not in test.__code__.co_varnames:
            continue
        argnames = [a.strip() for a in marks["parametrize"].args[0].split(",")]
        if argnames == ["number"]:
            continue
        for values in marks["parametrize"].args[1]:
            yield name, test, dict(zip(argnames, values if isinstance(values, tuple) else (values,)))



@pytest.mark.parametrize("module", ORDERING_MODULES)
def test_undecided_orderings_name_both_sides_the_margin_and_the_tier(module):
    """Offline, an ordering ends not run or untestable; its record must still say which two models it
    compares, with which margin, under which tier (issue 7: the ~200 not-run orderings said neither)."""
    seen = 0
    for name, test, kwargs in ordering_cases(module):
        check = FakeCheck()
        with pytest.raises(Ended):
            test(check, FakeEvidence("missing"), **kwargs)
        (kind, record), = check.records
        plan = record["plan"]
        assert kind == "not_run" and plan.kind == "ordering", (name, kwargs)
        assert plan.a_label and plan.b_label and plan.a_label != plan.b_label, (name, kwargs)
        assert plan.tier.split(" ")[0] in ("probe", "eval", "finetune"), (name, plan.tier)
        assert plan.margin in (None, "comparable_accuracy")
        if "comparable" in name or ">=" in str(kwargs):
            assert plan.margin == "comparable_accuracy", (name, kwargs)
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
        def measure(self, tier, models, dataset, method=None, reading=None):
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
    single = decide.accuracy_measurement(fake_result(n=1000, seeds=1))
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


# -- like for like: one pipeline and one representation kind per ordering ----------------------------

class AsRegistered(FakeEvidence):
    """Results read the way the real registry says each side is read (pipeline, representation kind)."""

    def measure(self, tier, models, dataset, method=None, reading=None):
        from measure.data.pipelines import BIG_VISION_FEWSHOT, by_name

        if isinstance(Evidence(None).specs(tier, models), Unavailable):
            return Unavailable.untestable("never released")
        reading = self.reading(tier, models, dataset=dataset)
        config = {"mean": (0.5,) * 3, "std": (0.5,) * 3}
        out = []
        for i, side in enumerate(reading.sides):
            pipeline = (BIG_VISION_FEWSHOT.describe(config, side.resolution) if tier == "probe" else
                        by_name(side.pipeline).describe(config, side.resolution) if tier == "eval" else
                        kept_evaluation(side))
            out.append(fake_result(tier, dataset, key=side.checkpoint, kind=side.representation, pipeline=pipeline,
                                   draws=3 if tier == "probe" and method == "fewshot" else 0))
        return out


def kept_evaluation(side, recipe: int = 0) -> dict:
    """The evaluation a finetune result records when its side kept its `recipe`-th candidate (0: the paper's)."""
    return {"name": side.recipes[recipe].split(" (")[1].split(")")[0] + " evaluation", "definition": side.definition,
            "resolution": side.resolutions[recipe], "resize": [side.resolutions[recipe]] * 2, "crop": None,
            "interpolation": "bilinear", "antialias": False}


@pytest.mark.parametrize("module", ORDERING_MODULES)
def test_every_ordering_reads_both_sides_alike_or_cannot_refute_and_says_why(module):
    """For every ordering of claims 1–3 on the real registry: both sides go through the same pipeline (same
    operations; the probe at the same size) and, for probes, the same kind of representation — or the check
    cannot refute, saying why. Offline, the plan names the pipeline and representation it would use."""
    alike = unlike_count = 0
    for name, test, kwargs in ordering_cases(module):
        check = FakeCheck()
        try:
            test(check, AsRegistered("measured"), **kwargs)
        except Ended:
            assert check.records[0][0] == "untestable", (name, kwargs)  # a side with nothing public
            continue
        (kind, record), = check.records
        tier = record["tier"].split(" ")[0]
        assert kind in ("ordering", "ordering_draws"), (name, kwargs)
        drawn = (tier == "probe" and kwargs.get("method") == "fewshot") or tier == "finetune"  # draws or seeds
        assert (kind == "ordering_draws") == drawn, (name, kwargs)
        reasons = record["cannot_refute"] or ""
        if "not read through the same preprocessing" in reasons or "different kinds of representation" in reasons:
            unlike_count += 1
        else:
            alike += 1
    assert alike > 0 and alike > unlike_count
    # the reading itself: every ordering's sides, from the registry
    for name, test, kwargs in ordering_cases(module):
        check = FakeCheck()
        with pytest.raises(Ended):
            test(check, FakeEvidence("missing"), **kwargs)
        plan = check.records[0][1]["plan"]
        if plan.tier.startswith(("probe", "eval")):
            assert "preprocessing: " in plan.description, (name, kwargs)
        if plan.tier.startswith("probe"):
            assert "; representation: " in plan.description, (name, kwargs)
        if "bit_s_r152x4-i1k: pre_logits" in plan.description:  # no common kind: the plan says so
            assert "so it can neither verify nor refute: the two sides cannot be read at the same kind" in \
                plan.description


def test_orderings_read_alike_except_where_no_common_representation_is_public():
    """Which orderings of claims 1–3 cannot be read alike, from the registry: exactly those with a BiT-S ResNet
    against a SAM ViT (BiT's pre-logits is a pool; SAM's checkpoints give only the class token)."""
    not_alike = set()
    for module in ORDERING_MODULES:
        for name, test, kwargs in ordering_cases(module):
            check = FakeCheck()
            try:
                test(check, AsRegistered("measured"), **kwargs)
            except Ended:
                continue
            reasons = check.records[0][1]["cannot_refute"] or ""
            assert "not read through the same preprocessing" not in reasons, (name, kwargs)
            if "different kinds of representation" in reasons:
                assert "bit_s_r152x4-i1k: pre-logits (pre_logits)" in reasons and "-i1k-sam: " in reasons
                not_alike.add((name, kwargs.get("model")))
    assert not_alike == {("test_bit_outperforms_vit_after_i1k_pretraining", m)
                         for m in ("ViT-B/32", "ViT-B/16", "ViT-L/32", "ViT-L/16")}


def test_bit_s_against_a_sam_vit_can_neither_verify_nor_refute():
    """Issue 15: BiT-S read at its pre-logits pool against a SAM ViT read at its class token is not like for like
    in either direction: measured, both limits name the representations; offline, every plan says so."""
    claim2 = load_claim_module("test_claim2_pretraining_size")
    cases = [kwargs for name, _, kwargs in ordering_cases("test_claim2_pretraining_size")
             if name == "test_bit_outperforms_vit_after_i1k_pretraining"]
    assert len(cases) == 32
    for kwargs in cases:
        check = FakeCheck()
        claim2.test_bit_outperforms_vit_after_i1k_pretraining(check, AsRegistered("measured"), **kwargs)
        record = check.records[0][1]
        for limit in ("cannot_refute", "cannot_verify"):
            assert "read at different kinds of representation" in (record[limit] or ""), (limit, kwargs)
        check = FakeCheck()
        with pytest.raises(Ended):
            claim2.test_bit_outperforms_vit_after_i1k_pretraining(check, FakeEvidence("missing"), **kwargs)
        assert "so it can neither verify nor refute: the two sides cannot be read at the same kind of " \
               "representation" in check.records[0][1]["plan"].description, kwargs


def test_unlike_readings_cannot_refute_and_say_why():
    probe = [fake_result("probe", key="a"), fake_result("probe", key="b", kind="class_token_final_norm")]
    assert "different kinds of representation" in decide.cannot_refute(*probe)
    other_crop = {**PIPELINES["probe"], "crop": 160, "resize": [183, 183]}
    assert "same preprocessing" in decide.cannot_refute(fake_result("probe", key="a"),
                                                        fake_result("probe", key="b", pipeline=other_crop))
    # eval: the same operations at each fine-tune's own resolution are alike; other operations are not
    bit = {**PIPELINES["eval"], "name": "bit", "resize": [480, 480]}
    assert decide.cannot_refute(fake_result("eval", key="a"), fake_result("eval", key="b", pipeline=bit)) is None
    timm_view = {"name": "timm", "definition": "shorter side, centre crop"}
    assert "same preprocessing" in decide.cannot_refute(fake_result("eval", key="a"),
                                                        fake_result("eval", key="b", pipeline=timm_view))


def test_finetuned_sides_evaluated_at_other_resolutions_or_resizes_can_neither_verify_nor_refute():
    """A ResNet that kept BiT-HyperRule is evaluated at 480 px (Pets, Flowers) or 128 px (CIFAR) against the ViT's
    384 px: the difference may come from the reading, so the check can neither verify nor refute. Same recipe
    evaluation on both sides: alike. Another kernel or antialiasing at the same size: unlike too."""
    vit = fake_result(key="vit")
    bit_480 = fake_result(key="bit", pipeline={**PIPELINES["finetune"], "name": "bit-hyperrule evaluation",
                                               "recipe": "bit-hyperrule", "resolution": 480, "resize": [480, 480]})
    assert decide.cannot_refute(vit, fake_result(key="bit")) is None
    assert decide.cannot_verify(vit, fake_result(key="bit")) is None
    for limit in (decide.cannot_refute, decide.cannot_verify):
        text = limit(vit, bit_480)
        assert "not read through the same preprocessing" in text and "bit-hyperrule evaluation" in text
        assert "resize [480, 480]" in text and "resize [384, 384]" in text and "neither verify nor refute" in text
    antialiased = fake_result(key="bit", pipeline={**PIPELINES["finetune"], "antialias": True})
    assert "antialias True" in decide.cannot_verify(vit, antialiased)

    claim1 = load_claim_module("test_claim1_vit_vs_cnn")

    class BitHyperRuleKept(FakeEvidence):
        def measure(self, tier, models, dataset, method=None, reading=None):
            return [vit, bit_480]

    check = FakeCheck()
    claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_finetune(check, BitHyperRuleKept("measured"), "pets")
    record = check.records[0][1]
    assert "resize [480, 480]" in record["cannot_refute"] and "resize [480, 480]" in record["cannot_verify"]


@pytest.mark.parametrize("module", ORDERING_MODULES)
def test_finetune_plans_name_each_sides_evaluation_resolution_and_resize(module):
    """Every finetune-tier ordering's plan names, per side, the recipe(s) it may keep, each one's evaluation
    resolution and resize (ResNets: the paper's at 384 px or BiT-HyperRule at 480 / 128 px)."""
    seen = 0
    for name, test, kwargs in ordering_cases(module):
        check = FakeCheck()
        with pytest.raises(Ended):
            test(check, FakeEvidence("missing"), **kwargs)
        plan = check.records[0][1]["plan"]
        if not plan.tier.startswith("finetune"):
            continue
        seen += 1
        text = plan.description
        assert text.count("the paper's recipe (vit-paper-finetune), evaluated at 384 px: resize 384x384, bilinear, "
                          "no antialias") == 2, (name, kwargs, text)
        assert "half-pixel centres: tf.image.resize" in text and "seeds paired by seed" in text
        bit = 480 if kwargs["dataset"] in ("pets", "flowers102") else 128
        resnets = sum(label.split()[0].startswith("R") and "+" not in label.split()[0]
                      for label in (plan.a_label, plan.b_label))
        assert text.count(f"BiT-HyperRule (bit-hyperrule), evaluated at {bit} px: resize {bit}x{bit}, bilinear, "
                          f"no antialias") == resnets, (name, kwargs, text)
        if resnets:
            assert f"(384 vs {bit} px" in text or f"({bit} vs 384 px" in text, text
    assert seen >= 4


class Seeded(FakeEvidence):
    """Fine-tuned sides with `seeds` runs each (side B's seed s: seed s's correctness shifted by one example)."""

    def __init__(self, seeds, b_seeds=None):
        super().__init__("measured")
        self.seeds, self.b_seeds = seeds, b_seeds if b_seeds is not None else seeds

    def measure(self, tier, models, dataset, method=None, reading=None):
        out = []
        for key, seeds, shift in (("a", self.seeds, 0), ("b", self.b_seeds, 1)):
            runs = tuple(np.roll(np.arange(100) % 10 != seed, shift) for seed in seeds)
            result = fake_result(tier, dataset, key=key, seeds=len(seeds))
            out.append(dataclasses.replace(result, correct=runs[0], seeds_correct=runs,
                                           metadata={**result.metadata, "runs": [{"seed": s} for s in seeds]}))
        return out


def test_finetune_orderings_pair_every_seed_by_seed():
    """Issue 15: with --claims-seeds 0,1,2 a finetune ordering is judged over all three seeds (as draws, draw
    fraction 0), seed s of A against seed s of B — not on seed 0 alone."""
    claim1 = load_claim_module("test_claim1_vit_vs_cnn")
    check = FakeCheck()
    claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_finetune(check, Seeded((0, 1, 2)), "cifar10")
    kind, record = check.records[0]
    assert kind == "ordering_draws" and record["shape"] == (3, 100) and record["draw_fraction"] == 0.0
    for s in range(3):  # row s is seed s on both sides
        assert (record["a"][s] == (np.arange(100) % 10 != s)).all()
        assert (record["b"][s] == np.roll(np.arange(100) % 10 != s, 1)).all()
    assert record["cannot_refute"] is None and record["cannot_verify"] is None
    with pytest.raises(ValueError, match="by seed"):  # sides fine-tuned with other seeds cannot be paired
        claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_finetune(FakeCheck(), Seeded((0, 1), (0, 2)),
                                                                            "cifar10")


def test_a_finetune_ordering_on_one_seed_cannot_decide_and_says_how_many_it_needs():
    claim1 = load_claim_module("test_claim1_vit_vs_cnn")
    check = FakeCheck()
    claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_finetune(check, Seeded((0,)), "cifar10")
    kind, record = check.records[0]
    assert kind == "ordering"
    for limit in ("cannot_refute", "cannot_verify"):
        assert "1 fine-tuning seed (0)" in record[limit] and "needs at least 2 seeds" in record[limit]
        assert "--claims-seeds 0,1,2" in record[limit]
    assert decide.too_few_seeds((0, 1)) is None and decide.SEEDS_NEEDED == 2


def test_the_finetune_tier_defaults_to_the_papers_three_seeds():
    from fixtures import options

    class Parser:
        def __init__(self):
            self.defaults = {}

        def getgroup(self, *args):
            return self

        def addoption(self, name, **kwargs):
            self.defaults[name] = kwargs.get("default")

    parser = Parser()
    options.pytest_addoption(parser)
    assert options._parse_seeds(parser.defaults["--claims-seeds"]) == (0, 1, 2)
    assert options.SuiteOptions.__dataclass_fields__["seeds"].default == (0, 1, 2)


def test_a_handicapped_side_limits_what_an_ordering_can_conclude():
    claim1 = load_claim_module("test_claim1_vit_vs_cnn")
    bit_without_hyperrule = "bit-hyperrule not run: needs mixup — tuned over the other recipe only"

    class Handicapped(FakeEvidence):
        def __init__(self, side):
            super().__init__("measured")
            self.side = side

        def measure(self, tier, models, dataset, method=None, reading=None):
            return [fake_result(tier, dataset, key=k, handicap=bit_without_hyperrule if k == self.side else "")
                    for k in ("vit", "bit")]

    check = FakeCheck()  # "ViT-L/16 >= BiT-M R152x4" with BiT handicapped: biased in the claim's favour
    claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_finetune(check, Handicapped("bit"), "cifar10")
    record = check.records[0][1]
    assert record["cannot_verify"] == f"bit is handicapped in the claim's favour: {bit_without_hyperrule}"
    assert record["cannot_refute"] is None
    check = FakeCheck()  # the side claimed better handicapped: biased against the claim
    claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_finetune(check, Handicapped("vit"), "cifar10")
    assert check.records[0][1]["cannot_verify"] is None
    assert check.records[0][1]["cannot_refute"].startswith("vit (the side claimed better) is handicapped")


def test_few_shot_orderings_are_judged_over_every_draw():
    claim1 = load_claim_module("test_claim1_vit_vs_cnn")

    class Drawn(FakeEvidence):
        def measure(self, tier, models, dataset, method=None, reading=None):
            return [dataclasses.replace(fake_result(tier, dataset, key=k, draws=4), draw_fraction=f)
                    for k, f in (("a", 0.001), ("b", 0.002))]

    check = FakeCheck()
    claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe(check, Drawn("measured"), "cifar10", "fewshot")
    kind, record = check.records[0]
    assert kind == "ordering_draws" and record["shape"] == (4, 100) and record["draw_fraction"] == 0.002
    check = FakeCheck()  # the full linear probe has one classifier: one set of per-example correctness
    claim1.test_vit_l16_i21k_better_or_comparable_to_bit_m_r152x4_probe(check, FakeEvidence("measured"), "cifar10",
                                                                        "linear")
    assert check.records[0][0] == "ordering"


def test_value_checks_carry_the_independent_references_of_their_cell_on_every_path():
    claim2 = load_claim_module("test_claim2_pretraining_size")
    cell = next(n for n in claim2.TABLE5 if (n.pretraining, n.dataset, n.model) == ("imagenet21k", "imagenet", "ViT-B/16"))
    for mode in ("measured", "missing"):
        check = FakeCheck()
        try:
            claim2.test_table5_value(check, FakeEvidence(mode), cell)
        except Ended:
            pass
        refs = check.records[0][1]["references"]
        assert {r["source"] for r in refs} == {"vision_transformer README (re-run)", "timm results"}, mode
        timm = next(r for r in refs if r["source"] == "timm results")
        assert timm["value"] == 84.2 and timm["checkpoint"] == "vit_b16-i21k-ft_in1k-384" and timm["commit"]
    pets = next(n for n in claim2.TABLE5 if (n.pretraining, n.dataset, n.model) == ("imagenet21k", "pets", "ViT-B/16"))
    check = FakeCheck()
    with pytest.raises(Ended):
        claim2.test_table5_value(check, FakeEvidence("tier not selected"), pets)
    assert check.records[0][1]["references"] is None  # no independent measurement of that cell
