"""The evidence tiers the suite knows, and what each one measures — data, importable without torch.

Claim modules parametrize from these at collection time and `--claims-tier` is validated against
them, so this module imports nothing heavy. What a tier *does* lives in its own module
(`measure/tiers/eval.py`, `probe.py`, `finetune.py`, `analysis.py`: one `measure.tiers.protocol.TierBase` object
each); a new kind of evidence adds a scope here and a tier module listed in `protocol.TIER_CLASSES`
(docs/CONTRIBUTING.md walks through a VTAB-1k tier).
"""

from __future__ import annotations

from dataclasses import dataclass

from measure.data.vtab import TASK_KEYS as VTAB_TASK_KEYS


@dataclass(frozen=True)
class TierScope:
    """One evidence tier: its name, the datasets it measures and, where it has several, its methods."""

    name: str
    datasets: tuple[str, ...]
    methods: tuple[str, ...] = ()
    summary: str = ""
    needs_gpu: bool = True  # False: a CPU runs it in minutes, so a not-run check does not ask for a GPU


EVAL = TierScope(
    "eval", ("imagenet", "imagenet_real"),
    summary="the authors' ImageNet fine-tunes, run as published, on ImageNet val (top-1) and ImageNet-ReaL")
PROBE = TierScope(
    "probe", ("cifar10", "cifar100", "pets", "flowers102"), ("fewshot", "linear"),
    summary="frozen pre-trained features read out linearly: the paper's few-shot regression (§4.1) or a full probe")
FINETUNE = TierScope(
    "finetune", ("cifar10", "cifar100", "pets", "flowers102"),
    summary="the paper's fine-tuning recipe (App. B.1.1, Table 4): lr picked on the held-out split, then the final run")
# The finetune tier also fine-tunes ImageNet (the ILSVRC-2012 train folder), for the value cells no released
# fine-tune reproduces (Table 2's ViT-L/16 at 512 px with Polyak averaging, Table 5's ViT-H/14): FINETUNE.datasets
# above stay the datasets claims 1-3 order models on after fine-tuning (claims/cases.py), since their ImageNet
# orderings are read off the authors' own fine-tunes (eval tier).
FINETUNE_IMAGENET: tuple[str, ...] = ("imagenet", "imagenet_real")

ANALYSIS = TierScope(
    "analysis", ("weights", "imagenet"),
    ("posemb_distance", "posemb_row_column", "attention_depth", "attention_lowest_layer", "attention_early_local",
     "attention_local_depth", "attention_second_half_wide", "embedding_filters", "attention_rollout"),
    summary="what §4.5 / Figures 6-7 / App. D.7-D.8 say about trained weights: position-embedding similarity and "
            "embedding-filter components (weights only), mean attention distance per layer and head and the class "
            "token's attention rollout against the object boxes (128 ImageNet val images)",
    needs_gpu=False)

# VTAB-1k (Table 9, Table 2's VTAB column): App. B.1.1's protocol on the 19 tasks (measure/tiers/vtab.py). Not a
# default tier: it trains (about an H100-hour per task and seed for ViT-L/16).
VTAB = TierScope(
    "vtab", VTAB_TASK_KEYS,
    summary="App. B.1.1's VTAB-1k protocol (train800 + val200, Table 4's VTAB row, 384 px) on the 19 tasks of Table 9, "
            "from the folders bin/prepare-vtab writes")

SCOPES: dict[str, TierScope] = {scope.name: scope for scope in (EVAL, PROBE, FINETUNE, ANALYSIS, VTAB)}
TIER_NAMES: tuple[str, ...] = tuple(SCOPES)
DEFAULT_TIERS: tuple[str, ...] = ("eval", "probe", "analysis")  # analysis: cheap (weights, 128 images)
