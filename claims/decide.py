"""How claims 1–3 turn what the measurement library hands back into checks.

Only claim code calls `claim_check`. The library returns a `TierResult` per model or an `Unavailable`;
here an `Unavailable` becomes a not-run or untestable check that still states what it would have
checked (a `Plan`: the kind, the two sides and the margin, or the paper cell and tolerance, and the
tier it needs), and this is where a claim says when a measurement cannot refute it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from measure.tiers.models import Model
from measure.tiers.results import TierResult, Unavailable
from pytest_claims import Measurement, Plan

PAPER_RECIPE_NEED = "the paper's fine-tuning recipe: run without --claims-finetune-steps / --claims-finetune-batch"
FINETUNE_TIER = "finetune (paper recipe, App. B.1.1)"


def tier_needed(tier: str, method: str | None = None) -> str:
    """The tier a check needs, as its plan names it."""
    if tier == "probe":
        return f"probe ({method or 'fewshot'})"
    return FINETUNE_TIER if tier == "finetune" else tier


def ordering_plan(tier: str, a: Model, b: Model, dataset: str, *, method: str | None = None,
                  margin: str | None = None) -> Plan:
    relation = "better than" if margin is None else "better than or comparable to"
    how = f" ({method})" if tier == "probe" else ""
    return Plan(kind="ordering", tier=tier_needed(tier, method), a_label=a.label, b_label=b.label, margin=margin,
                description=f"{a.label} {relation} {b.label} on {dataset}{how}, per-example correctness paired")


def value_plan(tier: str, model: Model, number: Any, tolerance: str = "accuracy") -> Plan:
    return Plan(kind="value", tier=tier_needed(tier), tolerance=tolerance,
                description=f"{model.label} top-1 on {number.dataset} against {number.label}")


def end_unless_measured(claim_check: Any, outcome: list[TierResult] | Unavailable, plan: Plan,
                        paper: Any = None) -> list[TierResult]:
    """The results, or the test ends here as not run / untestable, recording `plan` and `paper`."""
    if isinstance(outcome, Unavailable):
        if outcome.kind == "untestable":
            claim_check.untestable(outcome.reason, paper=paper, plan=plan)
        claim_check.not_run(outcome.reason, paper=paper, needs=list(outcome.needs) or None, plan=plan)
    return outcome


def cannot_refute(*results: TierResult, biased: TierResult | None = None, bias: str = "") -> str | None:
    """Why an ordering on `results` cannot count against the claim (None: it may refute).

    * a shortened fine-tuning recipe on any side: the paper's orderings are claimed after its full
      recipe, and a shorter run can rank models differently;
    * `biased`/`bias`: that side is a substitute checkpoint whose difference from the paper's model
      favours it against the claim (e.g. a SAM-trained ImageNet-1k ViT is stronger than the paper's)
      — applied only while the registry row read is a substitute.
    Either way a refutation would say nothing about the paper; a verification holds a fortiori (the
    substitute) or only as labelled (shortened recipe).
    """
    reasons = []
    if biased is not None and biased.provenance == "substitute":
        reasons.append(f"substitute checkpoint {biased.checkpoint}: {bias}")
    shortened = next((r for r in results if r.shortened), None)
    if shortened is not None:
        recipe = shortened.recipe
        reasons.append(f"shortened recipe ({recipe.get('steps')} steps, batch {recipe.get('batch_size')}; the "
                       f"paper's: {recipe.get('paper_steps')} x {recipe.get('paper_batch_size')}): the paper "
                       f"claims its orderings after its full fine-tuning recipe, and a shorter run can rank "
                       f"models differently, so it cannot refute them")
    return "; ".join(reasons) or None


def compare(claim_check: Any, evidence: Any, tier: str, a: Model, b: Model, dataset: str, *,
            method: str | None = None, margin: str | None = None, bias: str | None = None) -> None:
    """The ordering "A better than B" (margin None) or "A better than or comparable to B" (margin) on
    `dataset` under `tier`. `bias`: B is (where its registry row is a substitute) biased against the
    claim for this reason, so the check cannot refute."""
    plan = ordering_plan(tier, a, b, dataset, method=method, margin=margin)
    first, second = end_unless_measured(claim_check, evidence.measure(tier, [a, b], dataset, method), plan)
    why_not = cannot_refute(first, second, biased=second if bias else None, bias=bias or "")
    claim_check.ordering(first.correct, second.correct, tier=evidence.tier(first, second), margin=margin,
                         a_label=evidence.label(a, first), b_label=evidence.label(b, second),
                         details=evidence.details(first, second), cannot_refute=why_not)


def paper_recipe_or_end(claim_check: Any, evidence: Any, dataset: str, paper: Any, plan: Plan) -> None:
    """A value check is judged against the paper only after the paper's fine-tuning recipe: not run when
    the tier is not selected or the run asked for a shortened recipe, before anything is trained."""
    unselected = evidence.selected("finetune")
    if unselected is not None:
        end_unless_measured(claim_check, unselected, plan, paper)
    recipe = evidence.finetune_recipe(dataset)
    if recipe.shortened:
        claim_check.not_run(f"shortened recipe ({recipe.steps} steps): not comparable to the paper's values "
                            f"(ran {recipe.steps} steps x batch {recipe.batch_size} at {recipe.resolution} px; "
                            f"the paper: {recipe.paper_steps} x {recipe.paper_batch_size} at 384 px)", paper=paper,
                            needs=[PAPER_RECIPE_NEED], plan=plan)


def accuracy_measurement(result: TierResult, confidence: float = 0.95) -> Measurement:
    """Top-1 accuracy in % with an interval, for value checks.

    One run: the accuracy and its Wilson interval. Several fine-tuning seeds (`--claims-seeds 0,1,2`; the
    paper's values are means over 3 runs, its ± their std): the mean accuracy over the seeds, n = examples
    x seeds, and as interval the *wider on each side* of (a) the Wilson interval of the pooled correctness
    (k of n x seeds) and (b) the mean ± the seeds' standard deviation (ddof=1) — the more conservative of
    the two, since pooling the same test images over seeds understates the run-to-run spread and a std of 3
    runs is itself uncertain. Which bound came from which is recorded in `extra["interval"]`.
    """
    from pytest_claims.stats import wilson_interval

    runs = tuple(result.seeds_correct) or (result.correct,)
    if len(runs) == 1:
        k = int(result.correct.sum())
        low, high = wilson_interval(k, result.n, confidence)
        method = (f"{result.tier} tier: {result.checkpoint} on {result.dataset} ({result.n} images), "
                  f"top-1 %, Wilson {confidence:.0%} interval")
        return Measurement(value=100.0 * k / result.n, low=100.0 * low, high=100.0 * high, n=result.n,
                           method=method, extra=dict(result.metadata))
    accuracies = np.array([run.mean() for run in runs], dtype=float)
    mean, std = float(accuracies.mean()), float(accuracies.std(ddof=1))
    k, n = int(sum(int(run.sum()) for run in runs)), int(sum(run.size for run in runs))
    w_low, w_high = wilson_interval(k, n, confidence)
    s_low, s_high = mean - std, mean + std
    low, high = min(w_low, s_low), max(w_high, s_high)
    interval = {"used": "the wider on each side of the pooled Wilson interval and mean ± seeds' std",
                "wilson_pooled": [100.0 * w_low, 100.0 * w_high], "mean_pm_std": [100.0 * s_low, 100.0 * s_high],
                "low_from": "wilson_pooled" if w_low <= s_low else "mean_pm_std",
                "high_from": "wilson_pooled" if w_high >= s_high else "mean_pm_std"}
    method = (f"{result.tier} tier: {result.checkpoint} on {result.dataset} ({result.n} images x {len(runs)} seeds), "
              f"mean top-1 % over the seeds; interval: the wider of the pooled Wilson {confidence:.0%} interval "
              f"and mean ± the seeds' std")
    extra = {**dict(result.metadata), "interval": interval,
             "seed_accuracies": [100.0 * float(a) for a in accuracies], "seed_std": 100.0 * std}
    return Measurement(value=100.0 * mean, low=100.0 * low, high=100.0 * high, n=n, method=method, extra=extra)


def value_after_finetuning(claim_check: Any, evidence: Any, model: Model, number: Any) -> None:
    """A printed accuracy after the paper's fine-tuning recipe (Tables 2 and 5, small datasets); the paper
    prints the mean ± std of 3 runs, so it is judged on the seeds' mean."""
    plan = value_plan("finetune", model, number)
    paper_recipe_or_end(claim_check, evidence, number.dataset, number, plan)
    (result,) = end_unless_measured(claim_check, evidence.measure("finetune", [model], number.dataset), plan, number)
    claim_check.value(measured=accuracy_measurement(result), paper=number, tolerance="accuracy", tier=result.label,
                      details={"checkpoint": result.metadata["checkpoint"], "seeds": result.metadata.get("seeds")})


def value_from_published_finetune(claim_check: Any, evidence: Any, model: Model, number: Any) -> None:
    """A printed ImageNet / ReaL accuracy read off the authors' released fine-tune (eval tier)."""
    plan = value_plan("eval", model, number)
    (result,) = end_unless_measured(claim_check, evidence.measure("eval", [model], number.dataset), plan, number)
    claim_check.value(measured=accuracy_measurement(result), paper=number, tolerance="accuracy", tier="eval",
                      details={"checkpoint": result.metadata["checkpoint"]})
