"""What the small-data study is made of: its runs, their recipe, and what one run returns (numpy only).

The claim tests read ``STUDY`` at collection time (its sizes are test ids), so nothing here imports
torch or scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CACHE_FOLDER", "POOLING_ANALOGUE", "POOLING_RATES", "POSEMB_ABLATION", "STUDY", "Recipe", "RunSpec", "SmallDataRun", "StudyDesign"]

CACHE_FOLDER = "small-data-digits"  # under the suite's --claims-cache


@dataclass(frozen=True)
class Recipe:
    """How both models are trained. Part of every cache key."""

    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    steps_per_sqrt_image: float = 30.0   # steps = ⌈30·√n⌉: 213 at n=50, 600 at 400, 1081 at 1297
    step_scale: float = 1.0              # 2.0 for the "twice as long" convergence check

    def steps(self, n: int) -> int:
        return max(1, math.ceil(self.step_scale * self.steps_per_sqrt_image * math.sqrt(n)))


@dataclass(frozen=True)
class RunSpec:
    model: str
    size: int
    seed: int
    recipe: Recipe
    test_size: int = 500
    split_seed: int = 0


@dataclass(frozen=True)
class SmallDataRun:
    """One trained model's test predictions and how its training ended."""

    spec: RunSpec
    correct: np.ndarray        # bool, test-split order
    stats: dict = field(default_factory=dict)  # JSON-safe: steps, params, train loss curve, train acc, seconds

    @property
    def test_accuracy(self) -> float:
        return float(self.correct.mean())


@dataclass(frozen=True)
class StudyDesign:
    """Which runs make up the study. ``sizes`` are training-set sizes; the last one is the whole pool."""

    sizes: tuple[int, ...] = (50, 100, 200, 400, 1297)
    seeds: tuple[int, ...] = (0, 1, 2)
    models: tuple[str, ...] = ("resnet", "vit")
    recipe: Recipe = Recipe()
    test_size: int = 500
    split_seed: int = 0

    def specs(self, models: Iterable[str] | None = None, sizes: Iterable[int] | None = None) -> list[RunSpec]:
        return [RunSpec(m, n, s, self.recipe, self.test_size, self.split_seed)
                for m in (models or self.models) for n in (sizes or self.sizes) for s in self.seeds]


STUDY = StudyDesign()


# App. D.4 / Table 8's analogue: the ViT with each position encoding (measure.models.tiny.TinyViTPosition; "vit" is
# the default learned 1-D embedding), trained like the small-data study's ViT on the whole pool. Its "vit" runs are
# the small-data study's own (same spec, same cache entry): the ablation adds 3 encodings × 3 seeds = 9 runs.
POSEMB_ABLATION = StudyDesign(sizes=(1297,), models=("vit", "vit-none", "vit-2d", "vit-relative"))


# App. D.3 / Figure 9's analogue: the class-token ViT ("vit") against the same ViT with global average pooling
# ("vit-gap"), each trained on the whole pool at every learning rate of a 3-point grid around the study's 3e-3 (the
# rest of the recipe unchanged). The class token at 3e-3 is the small-data study's own runs (same spec, same cache
# entry): the analogue adds 2 x 3 + 3 = 15 runs.
POOLING_RATES = (1e-3, 3e-3, 1e-2)
POOLING_ANALOGUE = tuple(StudyDesign(sizes=(1297,), models=("vit", "vit-gap"), recipe=Recipe(lr=lr))
                         for lr in POOLING_RATES)
