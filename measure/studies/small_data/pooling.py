"""App. D.3's analogue on digits: the class-token ViT and the GAP ViT at every learning rate of a grid, and each
one's learning rate tuned without the images it is judged on.

"Tuned" means chosen on held-out images: the 500 test images are split in two folds (even and odd positions); for
the images of one fold, a model's learning rate is the one with the best seed-averaged accuracy on the *other* fold
(ties: the smaller rate), and each fold in turn (two-fold cross-fitting, as `measure.analysis.attention.chosen_heads`
picks heads). Picking the rate on the same images it is judged on would favour whichever model's grid happens to
contain a lucky run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from measure.studies.small_data.design import POOLING_ANALOGUE, StudyDesign
from measure.studies.small_data.pool import ensure_trained
from measure.studies.small_data.study import SmallDataStudy

__all__ = ["PoolingStudy", "cross_fitted_choice"]

SIZE = 1297


def cross_fitted_choice(by_rate: np.ndarray) -> np.ndarray:
    """(images,) index of the rate chosen for each image from `by_rate` (rates, images) of per-image scores: the
    best mean over the other fold's images (even/odd positions; ties: the first, i.e. the smaller rate)."""
    by_rate = np.asarray(by_rate, dtype=np.float64)
    folds = np.arange(by_rate.shape[1]) % 2
    chosen = np.empty(by_rate.shape[1], dtype=int)
    for fold in (0, 1):
        chosen[folds == fold] = int(np.argmax(by_rate[:, folds != fold].mean(axis=1)))
    return chosen


class PoolingStudy:
    """Seed-averaged per-image correctness of the class-token and GAP ViTs at each learning rate of the grid."""

    def __init__(self, cache_root: Path, designs: tuple[StudyDesign, ...] = POOLING_ANALOGUE,
                 workers: int | None = None) -> None:
        self.cache_root, self.workers = Path(cache_root), workers
        self.designs = designs
        self.rates = tuple(d.recipe.lr for d in designs)
        self.studies = {d.recipe.lr: SmallDataStudy(d, cache_root, workers) for d in designs}
        self._trained = False

    def _ensure(self) -> None:
        if not self._trained:  # one process pool for every run of every rate, longest first
            ensure_trained(self.cache_root, [s for d in self.designs for s in d.specs()], self.workers)
            self._trained = True

    def by_rate(self, model: str) -> np.ndarray:
        """(rates, test images): per image, the fraction of the seeds right at each rate of the grid."""
        self._ensure()
        return np.stack([self.studies[lr].correctness(model, SIZE).mean(axis=0) for lr in self.rates])

    def tuned(self, model: str) -> np.ndarray:
        """(test images,) rate index chosen for each image (`cross_fitted_choice`)."""
        return cross_fitted_choice(self.by_rate(model))

    def scores(self, model: str, rates: np.ndarray) -> np.ndarray:
        """(test images,) the model's seed-averaged correctness at the given per-image rate indices."""
        grid = self.by_rate(model)
        return grid[np.asarray(rates), np.arange(grid.shape[1])]

    def runs(self, model: str, lr: float) -> list:
        self._ensure()
        return self.studies[lr].runs(model, SIZE)

    def model_facts(self, model: str) -> dict:
        return self.studies[self.rates[0]].model_facts(model)
