"""The VTAB-1k score of the public ImageNet-21k ViT-L/16, judged against Table 2's VTAB cell (72.72 ± 0.21).

Two checks speak of that cell: Table 2's ImageNet-21k column (``claims/test_claim1_vit_vs_cnn.py``,
``test_table2_i21k_value``) and Table 9's Mean (``claims/test_table9_vtab.py``; Table 9 prints the same number
rounded to 72.7, without its ±). Both judge it here, one way: the vtab tier (``measure/tiers/vtab.py``, App. B.1.1's
VTAB-1k protocol on the task folders ``bin/prepare-vtab`` writes) on all 19 tasks, the mean over the tasks of every
fine-tuning seed's accuracy, against Table 2's cell with its ±. Every task measured, else not run with everything
missing named at once.
"""

from __future__ import annotations

from typing import Any

import paper
from claims.decide import PAPER_RECIPE_NEED, end_unless_measured, references, tier_needed
from measure.data.vtab import VTAB_TASKS
from measure.tiers.paper_models import Model
from measure.tiers.results import Unavailable
from pytest_claims import Measurement, Plan

__all__ = ["MODEL", "TABLE2_VTAB", "paper_recipe_or_end", "plan_for", "vtab_mean_value", "vtab_resolution"]

MODEL = Model("ViT-L/16", "imagenet21k")
TABLE9_MEAN = paper.number(table="Table 9", row="ViT-L/16 (I21k)", column="Mean")
TABLE2_VTAB = paper.number(table="Table 2", row="VTAB (19 tasks)", column="Ours-I21k (ViT-L/16)")


def plan_for(what: str, number: Any, reading: Any = None) -> Plan:
    read = f"; {reading.describe()}" if reading is not None else ""
    return Plan(kind="value", tier=tier_needed("vtab"), tolerance="accuracy",
                description=f"{MODEL.label} top-1 on {what} after App. B.1.1's VTAB-1k fine-tuning, the mean over the "
                            f"fine-tuning seeds, against {number.label}{read}")


def paper_recipe_or_end(claim_check: Any, evidence: Any, number: Any, plan: Plan, refs: list,
                         datasets: tuple[str, ...]) -> None:
    """Not run when the tier is not selected — naming, besides the tier, what else it would lack (the task folders
    and the prepare command, a GPU) — or when the run shortened the recipe, before anything is trained."""
    from measure.tiers.vtab import prerequisites, recipe_for

    unselected = evidence.selected("vtab")
    if unselected is not None:
        lacking = [m for key in datasets for m in prerequisites(evidence.runner, MODEL.paper_model, key)]
        reasons = dict.fromkeys([unselected.reason, *(str(m) for m in lacking)])
        end_unless_measured(claim_check, Unavailable.not_run("; ".join(reasons), [*unselected.needs,
                                                                                  *(m.need for m in lacking)]),
                            plan, number, refs)
    recipe = recipe_for(MODEL.paper_model, getattr(evidence.runner, "finetune_settings", None))
    if recipe.shortened:
        claim_check.not_run(f"shortened recipe: not comparable to the paper's values (ran {recipe.steps} steps x batch "
                            f"{recipe.batch_size} at {recipe.resolution} px; the paper: {recipe.paper_steps} x "
                            f"{recipe.paper_batch_size} at {vtab_resolution()} px)", paper=number,
                            needs=[PAPER_RECIPE_NEED], plan=plan, references=refs or None)


def vtab_resolution() -> int:
    from measure.train.recipe import vtab_recipe

    return vtab_recipe().resolution


def vtab_mean_value(claim_check: Any, evidence: Any, what: str) -> None:
    """Judge the 19-task mean against Table 2's VTAB cell (its ± is the std over 3 fine-tuning runs); ``what`` names
    the cell the calling check is about, in the plan."""
    from measure.tiers.vtab import vtab_score

    paper_cell = TABLE2_VTAB
    plan = plan_for(f"the mean over the 19 VTAB-1k tasks (each seed's mean over the tasks; {what})", paper_cell,
                    evidence.reading("vtab", [MODEL], dataset=next(iter(VTAB_TASKS))))
    refs = references(paper_cell)
    paper_recipe_or_end(claim_check, evidence, paper_cell, plan, refs, tuple(VTAB_TASKS))
    results, reasons, needs = [], [], []
    for key in VTAB_TASKS:
        outcome = evidence.measure("vtab", [MODEL], key, reading=evidence.reading("vtab", [MODEL], dataset=key))
        if isinstance(outcome, Unavailable):
            if outcome.kind == "untestable":
                end_unless_measured(claim_check, outcome, plan, paper_cell, refs)
            reasons.append(outcome.reason)
            needs += outcome.needs
        else:
            results.append(outcome[0])
    if reasons:
        end_unless_measured(claim_check, Unavailable.not_run("; ".join(dict.fromkeys(reasons)), needs), plan,
                            paper_cell, refs)
    score = vtab_score(results)
    low, high, interval = score.interval()
    measured = Measurement(
        value=100.0 * score.mean, low=100.0 * low, high=100.0 * high, n=score.n,
        method=(f"vtab tier: {results[0].checkpoint}, mean top-1 % over the 19 VTAB-1k tasks of each of "
                f"{score.seeds} seed(s), averaged; interval: the wider of ±z·(binomial standard error of the mean) and "
                f"± the seeds' std"),
        extra={"per_seed": [100.0 * s for s in score.per_seed],
               "seed_std": None if score.seed_std is None else 100.0 * score.seed_std,
               "tasks": {task: 100.0 * acc for task, acc in score.task_means.items()},
               "groups (recorded, not judged: the paper prints none for this row)":
                   {group: 100.0 * acc for group, acc in score.group_means.items()},
               "interval": {k: ([100.0 * x for x in v] if isinstance(v, list) else v) for k, v in interval.items()}})
    claim_check.value(measured=measured, paper=paper_cell, tolerance="accuracy", tier=results[0].label,
                      details={"table9_mean": TABLE9_MEAN.value, "checkpoint": results[0].metadata["checkpoint"]},
                      references=refs or None, plan=plan)
