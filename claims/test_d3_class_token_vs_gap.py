"""App. D.3 / Figure 9 as a small from-scratch analogue: the class-token head against global average pooling.

App. D.3: "An initial attempt at using only image-patch embeddings, globally average-pooling (GAP) them, followed
by a linear classifier—just like ResNet's final feature map—performed very poorly. However, we found that this is
neither due to the extra token, nor to the GAP operation. Instead, the difference in performance is fully explained
by the requirement for a different learning-rate, see Figure 9." Figure 9's caption: "Comparison of class-token and
global average pooling classifiers. Both work similarly well, but require different learning-rates."

The paper's runs are ViT-B/16-scale on JFT and not released. Here the small-data study's digits ViT (timm's
``VisionTransformer``, 3 layers, patch 2 on 8×8 digits) is trained from scratch on the whole pool of 1297 digits with
the class-token head ("vit", the study's own model) and with GAP ("vit-gap": no class token, patch outputs
averaged, linear head; ``measure.models.tiny.TinyViTGap``), each at every learning rate of a grid (1e-3, 3e-3, 1e-2;
the rest of the recipe the study's), 3 seeds each, tested on the same 500 images. A model's "own" learning rate is
tuned without the images it is judged on (two-fold cross-fitting over the test images,
``measure.studies.small_data.pooling``).

Checks (per test image, correctness averaged over the seeds; a paired bootstrap over the 500 images):
* ``test_class_token_and_gap_work_similarly_well[cls-vs-gap|gap-vs-cls]`` — "Both work similarly well": at its own
  tuned learning rate, each head better than or comparable to the other at its own (non-inferiority with the
  declared margin ``pooling_analogue`` of [tool.claims.margins]; both directions together make "similarly well");
* ``test_each_head_needs_its_own_learning_rate[gap|cls]`` — "the difference in performance is fully explained by the
  requirement for a different learning-rate": each head at its own tuned rate better than at the rate tuned for the
  other head. Where both heads' tuned rates coincide, the two sides are the same runs and the check cannot show it.

At this scale the analogue can show the direction of the effect, never refute the paper's result: every check is
``cannot_refute``. It trains 15 runs more than the small-data study (on 2 loaded cores: minutes, measured in the
option's help and docs/GPU.md): it runs only with ``--claims-pooling-analogue``; without it every check is *not run*
and says so. Precondition: each run a check judges at a tuned rate fitted its training set (``claims.from_scratch``);
runs at the other head's rate are what the check is about and are judged as they ended.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from claims.from_scratch import CONVERGENCE_NEED, MIN_TRAIN_ACCURACY
from measure.studies.small_data.design import POOLING_ANALOGUE, POOLING_RATES
from pytest_claims import Plan

pytestmark = pytest.mark.claim("d3-class-token-vs-gap")

SIZE = POOLING_ANALOGUE[0].sizes[-1]
SEEDS = POOLING_ANALOGUE[0].seeds
TIER = (f"analogue: ViTs from scratch on digits 8×8, {SIZE} images, {len(SEEDS)} seeds, learning rates "
        f"{', '.join(f'{lr:g}' for lr in POOLING_RATES)} (paper: ViT-B/16-scale on JFT, Figure 9)")
HEADS = {"vit": "cls", "vit-gap": "gap"}  # model → test id
LABELS = {"vit": "class-token head", "vit-gap": "global-average-pooling head"}
OTHER = {"vit": "vit-gap", "vit-gap": "vit"}
LIMIT = ("a small-scale analogue — a 3-layer ViT trained from scratch on 1297 8×8 digits — shows the direction of "
         "the effect at that scale; it cannot refute the paper's result for ViT pre-trained on JFT")
MARGIN = "pooling_analogue"
OPTION_NEED = ("--claims-pooling-analogue: trains App. D.3's digits analogue (class token and GAP ViTs at 3 learning "
               "rates x 3 seeds, 15 runs beyond the small-data study's)")


def _plan(a: str, b: str, margin: str | None, description: str) -> Plan:
    return Plan(kind="ordering_scores", tier=TIER, a_label=a, b_label=b, margin=margin, description=description)


def _ready(claim_check, study, plan: Plan, tuned_models: tuple[str, ...]):
    """The study, or the check ends: not run without the option, or when a run at a tuned rate did not fit."""
    if study is None:
        claim_check.not_run("App. D.3's from-scratch analogue is off by default (it adds minutes to the main job "
                            "cold on 2 cores)", needs=[OPTION_NEED], plan=plan)
    low = []
    for model in tuned_models:
        for index in sorted(set(study.tuned(model).tolist())):
            lr = study.rates[index]
            low += [f"{model} lr {lr:g} seed {r.spec.seed}: {r.stats['train_accuracy']:.3f}"
                    for r in study.runs(model, lr) if r.stats["train_accuracy"] < MIN_TRAIN_ACCURACY]
    if low:
        claim_check.not_run(f"not judged: {len(low)} run(s) at a tuned learning rate ended below "
                            f"{MIN_TRAIN_ACCURACY:.0%} training accuracy, so a loss could be under-training rather "
                            f"than the head — {'; '.join(low)}", needs=[CONVERGENCE_NEED], plan=plan)
    return study


def _rates(study, model: str) -> dict:
    folds = study.tuned(model)
    return {"even_images": f"{study.rates[folds[0]]:g}", "odd_images": f"{study.rates[folds[1]]:g}"}


def _details(study, models: tuple[str, ...]) -> dict:
    return {
        "analogue_of": "App. D.3, Figure 9: class-token vs global-average-pooling classifiers, JFT pre-training",
        "dataset": f"sklearn digits 8×8, whole pool of {SIZE} training images, 500 stratified test images",
        "tuning": "each head's learning rate chosen on the other fold of the test images (even/odd positions), "
                  "judged on this fold (two-fold cross-fitting); ties: the smaller rate",
        "scores": f"per test image, correct predictions averaged over the {len(SEEDS)} seeds",
        "recipe": {k: v for k, v in asdict(POOLING_ANALOGUE[0].recipe).items() if k != "lr"},
        "min_train_accuracy": MIN_TRAIN_ACCURACY,
        "by_model": {m: {"label": LABELS[m], "facts": study.model_facts(m), "tuned_lr": _rates(study, m),
                         "test_accuracy_by_lr": {f"{lr:g}": round(float(row.mean()), 4)
                                                 for lr, row in zip(study.rates, study.by_rate(m), strict=True)},
                         "train_accuracy_by_lr": {f"{lr:g}": [r.stats["train_accuracy"] for r in study.runs(m, lr)]
                                                  for lr in study.rates}}
                     for m in models},
    }


PAIRS = [("vit", "vit-gap"), ("vit-gap", "vit")]


@pytest.mark.parametrize("a, b", PAIRS, ids=[f"{HEADS[a]}-vs-{HEADS[b]}" for a, b in PAIRS])
def test_class_token_and_gap_work_similarly_well(claim_check, pooling_study, a: str, b: str) -> None:
    a_label, b_label = f"{LABELS[a]} at its own tuned lr", f"{LABELS[b]} at its own tuned lr"
    plan = _plan(a_label, b_label, MARGIN, "\"Both work similarly well\" (Figure 9; App. D.3): digits test accuracy "
                                           "per image, averaged over seeds, each head at its own tuned learning rate: "
                                           "this head better than or comparable to the other")
    study = _ready(claim_check, pooling_study, plan, (a, b))
    claim_check.ordering_scores(study.scores(a, study.tuned(a)), study.scores(b, study.tuned(b)), metric="mean",
                                tier=TIER, margin=MARGIN, a_label=a_label, b_label=b_label, plan=plan,
                                details=_details(study, (a, b)), cannot_refute=LIMIT)


@pytest.mark.parametrize("model", ["vit-gap", "vit"], ids=["gap", "cls"])
def test_each_head_needs_its_own_learning_rate(claim_check, pooling_study, model: str) -> None:
    other = OTHER[model]
    a_label = f"{LABELS[model]} at its own tuned lr"
    b_label = f"{LABELS[model]} at the lr tuned for the {LABELS[other]}"
    plan = _plan(a_label, b_label, None, "\"the difference in performance is fully explained by the requirement for "
                                         "a different learning-rate\" (App. D.3): digits test accuracy per image, "
                                         "averaged over seeds, of this head at its own tuned learning rate above the "
                                         "same head at the rate tuned for the other head")
    study = _ready(claim_check, pooling_study, plan, (model,))
    own, others = study.tuned(model), study.tuned(other)
    details = _details(study, (model, other))
    if np.array_equal(own, others):
        details["note"] = ("both heads' tuned learning rates are the same on every image: the two sides are the same "
                           "runs, and the check cannot show a learning-rate requirement")
    claim_check.ordering_scores(study.scores(model, own), study.scores(model, others), metric="mean", tier=TIER,
                                a_label=a_label, b_label=b_label, details=details, cannot_refute=LIMIT, plan=plan)
