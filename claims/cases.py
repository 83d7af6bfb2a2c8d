"""Cases and check ids shared by the claim modules of claims 1–3 — one place, so ids stay stable.

Check ids are the keys by which nightly runs are compared: the lists here are sorted, so every xdist
worker collects the same order, and the id functions must never change their output.
"""

from __future__ import annotations

import paper
from measure.tiers.scopes import EVAL, FINETUNE, PROBE

PROBE_CASES: list[tuple[str, str]] = sorted((dataset, method) for dataset in PROBE.datasets for method in PROBE.methods)
PROBE_IDS: list[str] = [f"{dataset}-{method}" for dataset, method in PROBE_CASES]
FINETUNE_DATASETS: list[str] = sorted(FINETUNE.datasets)
EVAL_DATASETS: list[str] = list(EVAL.datasets)  # imagenet, imagenet_real: in this order in every id
# App. B.1.1: "all fine-tuning experiments run at 384 resolution" unless said otherwise — Table 5's setting, and
# the resolution of the authors' released ImageNet fine-tunes that claims 2 and 3 read.
FINETUNE_RESOLUTION: int = int(paper.number(table="Appendix B.1.1", row="all models",
                                            column="fine-tuning resolution").value)


def slug(text: str) -> str:
    """A paper model name as it appears in check ids: 'R50+ViT-B/16' -> 'r50_vit-b16'."""
    return text.replace("/", "").replace("+", "_").lower()
