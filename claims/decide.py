"""How claims 1–3 turn what the measurement library hands back into checks.

Only claim code calls `claim_check`. The library returns a `TierResult` per model or an `Unavailable`;
here an `Unavailable` becomes a not-run or untestable check that still states what it would have
checked (a `Plan`: the kind, the two sides and the margin, or the paper cell and tolerance, the tier it
needs, and how each side would be read: preprocessing pipeline and representation), and this is where a
claim says when a measurement cannot refute it, or cannot verify it:

* cannot refute — the sides were not read alike (another pipeline, representation kind, or evaluation
  resolution / resize after fine-tuning), a substitute checkpoint biased against the claim, a shortened
  recipe, or side A handicapped;
* cannot verify — the sides were not read alike (a difference may come from the reading in either
  direction), or side B handicapped (measured under conditions that can only lower it, e.g. a ResNet
  without BiT-HyperRule): a win against a handicapped rival proves nothing for the claim.

Orderings after fine-tuning are judged over the fine-tuning seeds, paired by seed (`claim_check.ordering_draws`
with the seeds as draws: seed-to-seed and example variance both count); with fewer than `SEEDS_NEEDED` seeds
such an ordering cannot decide and says how many it needs.

Value checks carry the independent references of their paper cell (paper/references.csv) beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import paper
from measure.tiers.finetune import SEEDS_NEEDED
from measure.tiers.paper_models import Model
from measure.tiers.protocol import tier as tier_named
from measure.tiers.reading import Reading, unlike
from measure.tiers.results import TierResult, Unavailable
from pytest_claims import Measurement, Plan

__all__ = ["SEEDS_NEEDED", "compare", "end_unless_measured", "ordering_plan", "value_plan"]

PAPER_RECIPE_NEED = "the paper's fine-tuning recipe: run without --claims-finetune-steps / --claims-finetune-batch"


def tier_needed(tier: str, method: str | None = None) -> str:
    """The tier a check needs, as its plan names it (the tier's own words)."""
    return tier_named(tier).words(method)


def _reading_text(reading: Reading | None) -> str:
    """How each side would be read, and — where that is not like for like — that the check can neither verify nor
    refute."""
    if reading is None:
        return ""
    limits = f"; so it can neither verify nor refute: {'; '.join(reading.unlike)}" if reading.unlike else ""
    return f"; {reading.describe()}{limits}"


def ordering_plan(tier: str, a: Model, b: Model, dataset: str, *, method: str | None = None,
                  margin: str | None = None, reading: Reading | None = None) -> Plan:
    relation = "better than" if margin is None else "better than or comparable to"
    handler = tier_named(tier)
    return Plan(kind="ordering", tier=handler.words(method), a_label=a.label, b_label=b.label, margin=margin,
                description=f"{a.label} {relation} {b.label} on {dataset}{handler.how(method)}, "
                            f"{handler.pairing(method)}{_reading_text(reading)}")


def value_plan(tier: str, model: Model, number: Any, tolerance: str = "accuracy",
               reading: Reading | None = None) -> Plan:
    return Plan(kind="value", tier=tier_needed(tier), tolerance=tolerance,
                description=f"{model.label} top-1 on {number.dataset} against {number.label}{_reading_text(reading)}")


def references(number: Any) -> list[dict[str, Any]]:
    """The independent measurements beside paper cell `number`, as records carry them."""
    return [ref.to_record() for ref in paper.references(number=number)]


def end_unless_measured(claim_check: Any, outcome: list[TierResult] | Unavailable, plan: Plan,
                        paper_cell: Any = None, refs: list[dict[str, Any]] | None = None) -> list[TierResult]:
    """The results, or the test ends here as not run / untestable — the library's `Unavailable` recorded as it
    is (kind, reason, needs), with `plan`, the paper cell and its references."""
    if isinstance(outcome, Unavailable):
        if outcome.kind == "untestable":
            claim_check.untestable(outcome.reason, paper=paper_cell, plan=plan, references=refs or None)
        claim_check.not_run(outcome.reason, paper=paper_cell, needs=list(outcome.needs) or None, plan=plan,
                            references=refs or None)
    return outcome


def cannot_refute(*results: TierResult, biased: TierResult | None = None, bias: str = "") -> str | None:
    """Why an ordering on `results` cannot count against the claim (None: it may refute).

    * the sides were not read alike (`measure.tiers.reading.unlike`: another preprocessing, another kind of
      representation): a difference may come from the reading, not the models;
    * `biased`/`bias`: that side is a substitute checkpoint whose difference from the paper's model
      favours it against the claim (e.g. a SAM-trained ImageNet-1k ViT is stronger than the paper's)
      — applied only while the registry row read is a substitute;
    * a shortened fine-tuning recipe on any side: the paper's orderings are claimed after its full
      recipe, and a shorter run can rank models differently;
    * the first side (A, claimed better) handicapped: measured under conditions that can only lower it.
    Either way a refutation would say nothing about the paper; a verification holds a fortiori (the
    substitute, A's handicap) or only as labelled (shortened recipe) — except for unlike readings, which
    `cannot_verify` names too.
    """
    reasons = list(unlike(*results)) if results else []
    if biased is not None and biased.provenance == "substitute":
        reasons.append(f"substitute checkpoint {biased.checkpoint}: {bias}")
    shortened = next((r for r in results if r.shortened), None)
    if shortened is not None:
        recipe = shortened.recipe
        reasons.append(f"shortened recipe ({recipe.get('steps')} steps, batch {recipe.get('batch_size')}; the "
                       f"paper's: {recipe.get('paper_steps')} x {recipe.get('paper_batch_size')}): the paper "
                       f"claims its orderings after its full fine-tuning recipe, and a shorter run can rank "
                       f"models differently, so it cannot refute them")
    if results and results[0].handicap:
        reasons.append(f"{results[0].checkpoint} (the side claimed better) is handicapped: {results[0].handicap}")
    return "; ".join(reasons) or None


def cannot_verify(*results: TierResult) -> str | None:
    """Why an ordering "A better than (or comparable to) B" on `results` cannot count for the claim: the sides
    were not read alike (`measure.tiers.reading.unlike`: a difference may come from the reading, in either
    direction), or B (or any side after the first) was measured under conditions that can only lower it (e.g.
    a ResNet fine-tuned without BiT-HyperRule, the paper's second recipe for ResNets), which favours the claim."""
    reasons = list(unlike(*results)) if results else []
    reasons += [f"{r.checkpoint} is handicapped in the claim's favour: {r.handicap}" for r in results[1:] if r.handicap]
    return "; ".join(reasons) or None


def seeds_of(result: TierResult) -> tuple[int, ...]:
    """The fine-tuning seeds of `result`'s runs, in the order of `seeds_correct`."""
    runs = (result.metadata or {}).get("runs") or ()
    seeds = tuple(int(run["seed"]) for run in runs if "seed" in run)
    return seeds if len(seeds) == len(result.seeds_correct) else tuple(range(len(result.seeds_correct)))


def too_few_seeds(seeds: tuple[int, ...]) -> str | None:
    """Why an ordering after fine-tuning on `seeds` cannot decide (None: enough seeds)."""
    if len(seeds) >= SEEDS_NEEDED:
        return None
    return (f"{len(seeds)} fine-tuning seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds)) or 'none'}): "
            f"an ordering after fine-tuning is judged over seeds paired by seed, since the spread between fine-tuning "
            f"runs (the paper's ± is the std of 3) is part of its error; it needs at least {SEEDS_NEEDED} seeds — the "
            f"paper's 3: --claims-seeds 0,1,2")


def _join(*reasons: str | None) -> str | None:
    return "; ".join(r for r in reasons if r) or None


def _judge_over_seeds(claim_check: Any, first: TierResult, second: TierResult, common: dict[str, Any]) -> None:
    """A finetune-tier ordering: seeds as draws (draw fraction 0: each seed is a fresh run), paired by seed; with
    fewer than `SEEDS_NEEDED` seeds the one run's ordering is recorded but cannot verify or refute."""
    seeds = seeds_of(first)
    if seeds != seeds_of(second):
        raise ValueError(f"cannot pair {first.checkpoint} and {second.checkpoint} by seed: seeds {seeds} vs "
                         f"{seeds_of(second)}")
    few = too_few_seeds(seeds)
    if few is not None:
        claim_check.ordering(first.correct, second.correct, **{
            **common, "cannot_refute": _join(common["cannot_refute"], few),
            "cannot_verify": _join(common["cannot_verify"], few)})
        return
    claim_check.ordering_draws(np.stack(first.seeds_correct), np.stack(second.seeds_correct), draw_fraction=0.0,
                               **common)


def compare(claim_check: Any, evidence: Any, tier: str, a: Model, b: Model, dataset: str, *,
            method: str | None = None, margin: str | None = None, bias: str | None = None) -> None:
    """The ordering "A better than B" (margin None) or "A better than or comparable to B" (margin) on
    `dataset` under `tier`. `bias`: B is (where its registry row is a substitute) biased against the
    claim for this reason, so the check cannot refute. Few-shot probes are judged over their repeated
    draws and fine-tunes over their seeds (`claim_check.ordering_draws`), everything else on one set of
    per-example correctness."""
    reading = evidence.reading(tier, [a, b], dataset=dataset)  # planned once: the plan and the measurement use it
    plan = ordering_plan(tier, a, b, dataset, method=method, margin=margin, reading=reading)
    first, second = end_unless_measured(claim_check, evidence.measure(tier, [a, b], dataset, method, reading=reading),
                                        plan)
    limits = {"cannot_refute": cannot_refute(first, second, biased=second if bias else None, bias=bias or ""),
              "cannot_verify": cannot_verify(first, second)}
    common = {"tier": evidence.tier(first, second), "margin": margin, "a_label": evidence.label(a, first),
              "b_label": evidence.label(b, second), "details": evidence.details(first, second), "plan": plan, **limits}
    if tier_named(first.tier).repeats == "seeds":
        _judge_over_seeds(claim_check, first, second, common)
    elif first.draws_correct and second.draws_correct:
        claim_check.ordering_draws(np.stack(first.draws_correct), np.stack(second.draws_correct),
                                   draw_fraction=max(first.draw_fraction, second.draw_fraction), **common)
    else:
        claim_check.ordering(first.correct, second.correct, **common)


def paper_recipe_or_end(claim_check: Any, evidence: Any, model: Model, number: Any, plan: Plan) -> None:
    """A value check is judged against the paper only after the paper's fine-tuning recipe: not run when
    the tier is not selected or the run asked for a shortened recipe, before anything is trained. The message
    names the model's own paper setting (Table 2's ViT-L/16 on ImageNet: 512 px, §4.1; else 384 px)."""
    from measure.train.settings import FinetuneSettings

    refs = references(number)
    unselected = evidence.selected("finetune")
    if unselected is not None:
        end_unless_measured(claim_check, unselected, plan, number, refs)
    recipe = evidence.finetune_recipe(number.dataset, model.paper_model, model.pretraining)
    if recipe.shortened:
        paper_resolution = FinetuneSettings().recipe(number.dataset, model.paper_model, model.pretraining).resolution
        claim_check.not_run(f"shortened recipe ({recipe.steps} steps): not comparable to the paper's values "
                            f"(ran {recipe.steps} steps x batch {recipe.batch_size} at {recipe.resolution} px; "
                            f"the paper: {recipe.paper_steps} x {recipe.paper_batch_size} at {paper_resolution} px)",
                            paper=number, needs=[PAPER_RECIPE_NEED], plan=plan, references=refs or None)


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
    prints the mean ± std of 3 runs, so it is judged on the seeds' mean. A handicapped model (a ResNet
    without BiT-HyperRule) cannot refute the cell: its measurement can only be too low."""
    reading = evidence.reading("finetune", [model], dataset=number.dataset)  # planned once, as for orderings
    plan = value_plan("finetune", model, number, reading=reading)
    refs = references(number)
    paper_recipe_or_end(claim_check, evidence, model, number, plan)
    outcome = evidence.measure("finetune", [model], number.dataset, reading=reading)
    (result,) = end_unless_measured(claim_check, outcome, plan, number, refs)
    claim_check.value(measured=accuracy_measurement(result), paper=number, tolerance="accuracy", tier=result.label,
                      details={"checkpoint": result.metadata["checkpoint"], "seeds": result.metadata.get("seeds")},
                      cannot_refute=(f"{result.checkpoint} is handicapped: {result.handicap}" if result.handicap
                                     else None), references=refs or None, plan=plan)


def value_from_published_finetune(claim_check: Any, evidence: Any, model: Model, number: Any) -> None:
    """A printed ImageNet / ReaL accuracy read off the authors' released fine-tune (eval tier), through the
    evaluation pipeline its authors used."""
    reading = evidence.reading("eval", [model])
    plan = value_plan("eval", model, number, reading=reading)
    refs = references(number)
    outcome = evidence.measure("eval", [model], number.dataset, reading=reading)
    (result,) = end_unless_measured(claim_check, outcome, plan, number, refs)
    claim_check.value(measured=accuracy_measurement(result), paper=number, tolerance="accuracy", tier="eval",
                      details={"checkpoint": result.metadata["checkpoint"], "pipeline": result.metadata.get("pipeline")},
                      references=refs or None, plan=plan)
