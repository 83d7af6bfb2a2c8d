"""``SmallDataStudy``: per-example test correctness of every (model, size, seed) of a design, and the models' facts.

Both come from the suite's cache when they are there (``pool`` for the runs, ``measure.studies.study_cache``
for the facts), so a fully cached study imports no torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from measure.models import tiny as tiny_models
from measure.studies.small_data.design import SmallDataRun, StudyDesign
from measure.studies.small_data.pool import ensure_trained
from measure.studies.study_cache import RecordCache, library_versions, source_version

__all__ = ["SmallDataStudy"]


class SmallDataStudy:
    """Per-example test correctness of every (model, size, seed) of a design, trained once and cached."""

    def __init__(self, design: StudyDesign, cache_root: Path, workers: int | None = None) -> None:
        self.design = design
        self.cache_root = Path(cache_root)
        self.workers = workers
        self._results: dict[tuple[str, int, int], SmallDataRun] | None = None
        self._facts = RecordCache(self.cache_root / "model-facts")

    def _all(self) -> dict[tuple[str, int, int], SmallDataRun]:
        # Everything at once: one process pool, longest runs first, instead of a pool per size.
        if self._results is None:
            runs = ensure_trained(self.cache_root, self.design.specs(), self.workers)
            self._results = {(r.spec.model, r.spec.size, r.spec.seed): r for r in runs}
        return self._results

    def runs(self, model: str, size: int) -> list[SmallDataRun]:
        """One result per seed, in ``design.seeds`` order."""
        if model not in self.design.models or size not in self.design.sizes:
            raise KeyError(f"({model!r}, {size}) is not in the study: models {self.design.models}, "
                           f"sizes {self.design.sizes}")
        results = self._all()
        return [results[(model, size, seed)] for seed in self.design.seeds]

    def correctness(self, model: str, size: int) -> np.ndarray:
        """bool (seeds, test examples): row i is seed ``design.seeds[i]``, columns the test split's order."""
        return np.stack([r.correct for r in self.runs(model, size)])

    def underfitted(self, sizes: Iterable[int], floor: float,
                    models: Iterable[str] | None = None) -> list[SmallDataRun]:
        """The runs of ``models`` (default: every model) at ``sizes``, every seed, whose final training accuracy is
        below ``floor``."""
        return [r for n in sizes for m in (models or self.design.models) for r in self.runs(m, n)
                if r.stats["train_accuracy"] < floor]

    def model_facts(self, model: str) -> dict:
        """``measure.models.tiny.facts`` of one of the study's models (how it is built, parameters, FLOPs)."""
        key = {"study": "small-data-model-facts", "architecture": tiny_models.architecture(model),
               "code": source_version("measure.models.tiny", "measure.studies.flops"),
               "libraries": library_versions("torch", "timm")}
        return dict(self._facts.get(key, lambda: tiny_models.facts(model)).record)

    @property
    def test_labels(self) -> np.ndarray:
        from measure.studies.small_data.data import digits_split  # scikit-learn: only when asked

        return digits_split(self.design.test_size, self.design.split_seed).y_test
