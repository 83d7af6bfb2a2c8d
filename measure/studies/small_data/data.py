"""The digits data of the small-data study: a fixed stratified test split and nested class-balanced subsets.

scikit-learn is imported only to load and split the data; the data's fingerprint (part of every cache
key) is the sha256 of the file scikit-learn ships, read without importing scikit-learn.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from measure.models import tiny as tiny_models

__all__ = ["DigitsSplit", "digits_file", "digits_fingerprint", "digits_split", "nested_order", "training_subset"]


@dataclass(frozen=True)
class DigitsSplit:
    """The fixed test split and the training pool; indices refer to ``load_digits()`` order."""

    pool_index: np.ndarray   # int, sorted
    test_index: np.ndarray   # int, sorted
    images: np.ndarray       # float32 (1797, 1, 8, 8), scaled to [-1, 1]
    labels: np.ndarray       # int64 (1797,)
    fingerprint: str         # of the data file: a changed scikit-learn copy invalidates the cache

    @property
    def y_test(self) -> np.ndarray:
        return self.labels[self.test_index]


def digits_file() -> Path:
    """The file ``sklearn.datasets.load_digits`` parses (``tests/test_small_data.py`` checks that it is)."""
    spec = importlib.util.find_spec("sklearn")  # a top-level spec: found, not imported
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-learn is not installed: the small-data study uses its digits data")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: this scikit-learn keeps its digits data elsewhere; "
                                "update measure.studies.small_data.data.digits_file")
    return path


@cache
def digits_fingerprint() -> str:
    return hashlib.sha256(digits_file().read_bytes()).hexdigest()[:16]


@lru_cache(maxsize=4)
def digits_split(test_size: int = 500, split_seed: int = 0) -> DigitsSplit:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    pool, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=split_seed)
    # Pixel values are 0..16; map to [-1, 1] (mean 0.5, std 0.5, as the original ViT preprocessing does).
    images = (x.astype(np.float32) / 16.0 - 0.5) / 0.5
    return DigitsSplit(pool_index=np.sort(pool), test_index=np.sort(test),
                       images=images.reshape(-1, tiny_models.IN_CHANS, tiny_models.IMAGE_SIZE, tiny_models.IMAGE_SIZE),
                       labels=y.astype(np.int64), fingerprint=digits_fingerprint())


def nested_order(pool_labels: np.ndarray, seed: int) -> np.ndarray:
    """A class-balanced ordering of positions 0..len(pool)-1: every prefix has n/C per class (±1).

    Each class's members are shuffled, then dealt round-robin (class order reshuffled every round)
    until every class is used up; subsets of different sizes are prefixes of it, hence nested.
    """
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(np.flatnonzero(pool_labels == c))) for c in np.unique(pool_labels)]
    order: list[int] = []
    while any(queues):
        for c in rng.permutation(len(queues)):
            if queues[c]:
                order.append(int(queues[c].pop()))
    return np.asarray(order, dtype=np.int64)


def training_subset(split: DigitsSplit, size: int, seed: int) -> np.ndarray:
    """Indices (``load_digits`` order) of the first ``size`` images of seed ``seed``'s nested ordering."""
    if not 0 < size <= split.pool_index.size:
        raise ValueError(f"training size must be in 1..{split.pool_index.size} (the pool), got {size}")
    order = nested_order(split.labels[split.pool_index], seed)
    return split.pool_index[order[:size]]
