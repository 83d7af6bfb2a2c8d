"""Readings of the paper's own printed numbers that a sentence needs and no table prints.

§4.4 / Figure 5 compare architectures at equal pre-training compute ("hybrids slightly outperform ViT at
small computational budgets"), but Table 6 prints each model at its own compute. `accuracy_at_compute`
reads a family's accuracy at any compute from its printed points: the Pareto frontier (a point that costs
more and is not more accurate is dominated), interpolated linearly in log(compute) — Figure 5's log axis —
and never extrapolated. Pure arithmetic: no torch, nothing measured.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence


def frontier(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(compute, accuracy) points on the Pareto frontier, by increasing compute (and accuracy)."""
    kept: list[tuple[float, float]] = []
    for compute, accuracy in sorted(points):
        if not kept or accuracy > kept[-1][1]:
            kept.append((compute, accuracy))
    return kept


def accuracy_at_compute(points: Sequence[tuple[float, float]], compute: float) -> float:
    """The family's frontier accuracy at `compute`, interpolated in log(compute); ValueError outside its range."""
    front = frontier(points)
    if not front or not front[0][0] <= compute <= front[-1][0]:
        span = f"{front[0][0]:g}–{front[-1][0]:g}" if front else "nothing"
        raise ValueError(f"compute {compute:g} lies outside the frontier's range ({span}): no extrapolation")
    for (c0, a0), (c1, a1) in itertools.pairwise(front):
        if c0 <= compute <= c1:
            t = math.log(compute / c0) / math.log(c1 / c0)
            return a0 + t * (a1 - a0)
    return front[0][1]  # a one-point frontier at exactly that compute
