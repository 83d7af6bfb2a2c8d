"""What a tier hands back to a claim test: a measurement, or why none could be made.

* `TierResult` — one checkpoint on one dataset's test examples under one tier: per-example
  correctness (or, for evidence that is not right/wrong, per-example scores; for few-shot probes, per
  draw too), which examples those are, and how they were obtained (checkpoint row and revision,
  preprocessing pipeline, representation, recipe, tier label, any handicap), all JSON-safe.
* `Unavailable` (`measure.errors`, the one form a missing input has from library to check) — the measurement
  cannot be made: `not_run` (this machine lacks something; `needs` lists each thing to provide) or
  `untestable` (nothing public could ever make it).

Neither decides anything: the claim test turns an `Unavailable` into a not-run or untestable check
with the paper cell it was going to check, and hands a `TierResult` to the plugin's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from measure.errors import NOT_RUN, UNTESTABLE, MeasureError, Unavailable

__all__ = ["NOT_RUN", "UNTESTABLE", "ExampleMismatch", "TierResult", "Unavailable", "require_same_examples"]


@dataclass(frozen=True)
class TierResult:
    """Per-example evidence of one checkpoint on one dataset's test examples, under one tier."""

    tier: str                        # tier name (measure.tiers.scopes)
    label: str                       # the evidence tier as a record shows it: tier + representation / recipe
    dataset: str
    checkpoint: str                  # registry key
    correct: np.ndarray | None       # bool per test example, dataset order (ReaL: the scored images only)
    examples: Mapping[str, Any]      # which examples: dataset, split, n, content fingerprint
    provenance: str = ""             # the registry row's provenance: authors | substitute
    recipe: Mapping[str, Any] = field(default_factory=dict)
    representation: Mapping[str, Any] | None = None  # probe: which layer's features were read (key, label, ...)
    method: str = ""                 # probe: fewshot | linear
    metadata: Mapping[str, Any] = field(default_factory=dict)  # JSON-safe: everything a record shows
    scores: np.ndarray | None = None  # per-example scores (higher is better) where evidence is not right/wrong
    seeds_correct: tuple[np.ndarray, ...] = ()  # finetune: every seed's correctness (`correct` is the first's)
    shortened: bool = False          # finetune: trained with a shortened recipe (labelled; never the paper's)
    draws_correct: tuple[np.ndarray, ...] = ()  # probe (few-shot): every training draw's correctness, paired by draw
    draw_fraction: float = 0.0       # probe (few-shot): the share of its class's training images one draw takes
    pipeline: Mapping[str, Any] = field(default_factory=dict)  # the preprocessing it was read through (name, ...)
    handicap: str = ""               # why this side was measured under conditions that can only lower it ("": none)

    def __post_init__(self) -> None:
        if self.correct is None and self.scores is None:
            raise ValueError(f"{self.checkpoint} on {self.dataset}: a tier result holds correctness or scores")

    @property
    def per_example(self) -> np.ndarray:
        return self.correct if self.correct is not None else self.scores

    @property
    def n(self) -> int:
        return int(np.asarray(self.per_example).size)

    @property
    def accuracy(self) -> float:
        if self.correct is None:
            raise ValueError(f"{self.checkpoint} on {self.dataset}: a scores result has no accuracy")
        return float(self.correct.mean())

    @property
    def percent(self) -> float:
        return 100.0 * self.accuracy


class ExampleMismatch(MeasureError, RuntimeError):
    """Two results meant to be paired (an ordering) are not over the same examples in the same order."""


def require_same_examples(*results: TierResult) -> None:
    """Orderings pair results example by example: raise (an error, never a verdict) unless every result is
    over the same examples — same dataset content fingerprint, split and count — in the same order."""
    identities = [(dict(r.examples), r.n) for r in results]
    first, first_n = identities[0]
    for result, (examples, n) in zip(results[1:], identities[1:]):
        if not examples or not first or examples != first or n != first_n:
            raise ExampleMismatch(
                f"cannot pair {results[0].checkpoint} and {result.checkpoint} on {results[0].dataset}: their "
                f"results are over different examples ({first or 'unknown'}, n={first_n} vs {examples or 'unknown'}, "
                f"n={n}); the dataset changed between the two measurements, or one came from a stale cache")
