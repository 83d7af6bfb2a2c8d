"""The development split of a training set, on which the fine-tuning learning rate is picked (App. B.1.1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def held_out_split(labels: Sequence[int] | np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) index arrays, sorted, for picking the fine-tuning learning rate (App. B.1.1).

    The authors slice TFDS's record order (``train[:98%]`` / ``train[98%:]`` in vit_jax/big_vision);
    TFDS stores records in a hash-shuffled order, so the held-out part is a random, unstratified
    subset. We draw it from a seeded permutation, with TFDS's rounding of the slice boundary.
    """
    n = len(labels)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held-out fraction must be in (0, 1), got {fraction}")
    n_train = int(np.floor(n * (1.0 - fraction) + 0.5))
    if n_train in (0, n):
        raise ValueError(f"{n} examples are too few to hold out {fraction:.0%}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:n_train]), np.sort(order[n_train:])
