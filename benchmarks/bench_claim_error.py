"""Figures of issue 15 (claim-level error control, skewed draws, fine-tune seeds, power), larger than the tests.

    PYTHONPATH=pytest-claims/src python benchmarks/bench_claim_error.py [runs]

Prints, from the simulations of tests/test_claim_error_control.py (same generators, fixed seeds):
* how often a true claim of 14, 40 and 134 orderings (equal sides, exact McNemar each) is refuted, with and
  without Holm's correction;
* how often skewed draws (5 % of A's draws 4 points low, means equal) are wrongly decided, and A at exactly
  −margin verified, at 20, 50 and 100 draws, with the plain t interval and with Hall's skewness correction;
* how often fine-tune seeds (2, 3) verify A at exactly −margin (Pets: 3,669 images, ± 0.1–0.3 pt spreads);
* power: a 1- and a 2-point gap verified at CIFAR-10 size (10,000 images) over 100 draws, and over 3 seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_claim_error_control import ALPHA, draws_pair, equal_quality_claim

import pytest_claims.draws as draws_module
from pytest_claims.assemble import build_claims
from pytest_claims.draws import repeated_draws_rule


def rate(hits: int, runs: int) -> str:
    return f"{hits / runs:.3f} (±{1.96 * np.sqrt(max(hits, 1) / runs * (1 - hits / runs) / runs):.3f})"


def main(runs: int = 2000) -> None:
    for orderings in (14, 40, 134):
        rng = np.random.default_rng(orderings)
        refuted = uncorrected = 0
        for _ in range(runs):
            checks = equal_quality_claim(rng, orderings)
            refuted += build_claims(None, checks)[0].verdict == "refuted"
            uncorrected += any(c.verdict == "refuted" for c in checks)
        print(f"claim of {orderings:3d} equal orderings refuted: Holm {rate(refuted, runs)}, "
              f"uncorrected {rate(uncorrected, runs)}")
    for draws in (20, 50, 100):
        for name, skew_from in (("t", 10 ** 9), ("t + Hall", 2)):
            draws_module.SKEW_MIN_DRAWS = skew_from
            rng = np.random.default_rng(5)
            decided = at_margin = 0
            for _ in range(runs):
                a, b = draws_pair(rng, draws, 2000, bad=0.04, fresh=0.0)
                decided += repeated_draws_rule(a, b, ALPHA).verdict != "inconclusive"
                a, b = draws_pair(rng, draws, 2000, shift=-0.005, bad=0.04, fresh=0.0)
                at_margin += repeated_draws_rule(a, b, ALPHA, margin=0.005).verdict == "verified"
            print(f"skewed draws, {draws:3d} draws, {name:8s}: equal sides ordered {rate(decided, runs)}, "
                  f"A at −margin verified {rate(at_margin, runs)}")
    draws_module.SKEW_MIN_DRAWS = 50
    for seeds in (2, 3):
        for spread in (0.001, 0.002, 0.003):
            rng = np.random.default_rng(seeds)
            verified = sum(repeated_draws_rule(*draws_pair(rng, seeds, 3669, shift=-0.005, spread=spread, base=0.94,
                                                           p_bad=0.0), ALPHA, margin=0.005).verdict == "verified"
                           for _ in range(runs))
            print(f"fine-tune, {seeds} seeds, spread ±{100 * spread:.1f} pt, A at −margin verified {rate(verified, runs)}")
    for label, count, n, spread, base in (("few-shot, 100 draws", 100, 10_000, 0.01, 0.8),
                                          ("fine-tune, 3 seeds", 3, 10_000, 0.003, 0.9)):
        for gap in (0.01, 0.02):
            rng = np.random.default_rng(7)
            power = min(runs, 300)
            verified = sum(repeated_draws_rule(*draws_pair(rng, count, n, shift=gap, spread=spread, base=base,
                                                           p_bad=0.0), ALPHA).verdict == "verified"
                           for _ in range(power))
            print(f"power, {label}, CIFAR-10 size, {100 * gap:.0f}-point gap verified {rate(verified, power)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
