"""The repeated-draws ordering rule (`pytest_claims.draws`): its interval against a direct computation of its
definition, and verdicts that follow the evidence — including the spread between draws that a rule on one
draw ignores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pytest_claims.draws import draws_difference_interval, repeated_draws_rule


def draws(p_a: float, p_b: float, n_draws: int = 10, n: int = 2000, spread: float = 0.0, seed: int = 0):
    """Correctness of A and B over `n_draws` draws; each draw shifts both sides' accuracy by its own offsets
    (uniform in ±spread, independently per side), as few-shot training draws do."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)  # shared example difficulty: the two sides agree on most examples
    out = []
    for p in (p_a, p_b):
        offsets = rng.uniform(-spread, spread, size=(n_draws, 1))
        noise = rng.random((n_draws, n)) * 0.1
        out.append((u + noise) / 1.1 < p + offsets)
    return out


@pytest.mark.parametrize("n_draws", [6, 12])
def test_interval_matches_its_definition(n_draws):
    """Welch–Satterthwaite degrees of freedom from FEW_DRAWS (10) draws on, S − 1 below (fine-tune seeds)."""
    a, b = draws(0.80, 0.78, n_draws=n_draws, n=500, spread=0.03, seed=3)
    est = draws_difference_interval(a, b, confidence=0.9, draw_fraction=0.1)
    d = a.astype(float) - b.astype(float)
    per_draw, per_example = d.mean(1), d.mean(0)
    v_draw = per_draw.var(ddof=1) * (1 / n_draws + 0.1 / 0.9)
    v_example = per_example.var(ddof=1) / 500
    se = math.sqrt(v_draw + v_example)
    df = se**4 / (v_draw**2 / (n_draws - 1) + v_example**2 / 499) if n_draws >= 10 else n_draws - 1
    t = stats.t.ppf(0.95, df)
    assert est.diff == pytest.approx(per_draw.mean())
    assert (est.low, est.high) == pytest.approx((per_draw.mean() - t * se, per_draw.mean() + t * se))
    assert est.df == pytest.approx(df) and est.draw_variance == pytest.approx(v_draw)
    assert list(est.draw_diffs) == pytest.approx(per_draw.tolist())


def test_a_clear_difference_is_verified_and_its_mirror_refuted():
    a, b = draws(0.85, 0.75, spread=0.01)
    assert repeated_draws_rule(a, b, 0.05).verdict == "verified"
    flipped = repeated_draws_rule(b, a, 0.05, a_label="B", b_label="A")
    assert flipped.verdict == "refuted" and "A better than B" in flipped.reason


def test_the_spread_between_draws_makes_a_small_difference_inconclusive():
    """On one draw (or ignoring the draws) a 1.5-point gap on 2000 examples looks real; with draws that each
    move accuracy by up to ±4 points it is not established."""
    a, b = draws(0.80, 0.785, n_draws=4, spread=0.04, seed=1)
    steady_a, steady_b = draws(0.80, 0.785, n_draws=4, spread=0.0, seed=1)
    shaky = repeated_draws_rule(a, b, 0.05)
    steady = repeated_draws_rule(steady_a, steady_b, 0.05)
    assert steady.verdict == "verified"
    assert shaky.verdict == "inconclusive" and shaky.rule["draw_variance"] > 10 * steady.rule["draw_variance"]


def test_a_finite_pool_widens_the_interval():
    a, b = draws(0.80, 0.77, n_draws=10, spread=0.03, seed=2)
    unlimited = repeated_draws_rule(a, b, 0.05)
    small_pool = repeated_draws_rule(a, b, 0.05, draw_fraction=0.5)
    assert small_pool.rule["high"] - small_pool.rule["low"] > 1.5 * (unlimited.rule["high"] - unlimited.rule["low"])


def test_noninferiority_uses_the_margin_and_the_one_sided_bound():
    a, b = draws(0.80, 0.80, n_draws=10, n=20000, spread=0.002, seed=4)
    assert repeated_draws_rule(a, b, 0.05, margin=0.01).verdict == "verified"      # equal: comparable
    worse_a, worse_b = draws(0.75, 0.80, n_draws=10, n=20000, spread=0.002, seed=4)
    outcome = repeated_draws_rule(worse_a, worse_b, 0.05, margin=0.01)
    assert outcome.verdict == "refuted" and outcome.rule["confidence_two_sided"] == pytest.approx(0.9)
    assert outcome.rule["rule"] == "repeated_draws_t_noninferiority"


def test_identical_draws_give_an_exact_difference():
    a = np.ones((3, 10), dtype=bool)
    b = np.zeros((3, 10), dtype=bool)
    est = draws_difference_interval(a, b)
    assert (est.diff, est.low, est.high, est.se) == (1.0, 1.0, 1.0, 0.0)
    assert repeated_draws_rule(a, b, 0.05).verdict == "verified"


@pytest.mark.parametrize("a,b,message", [
    (np.ones(5, bool), np.ones(5, bool), "2-D"),
    (np.ones((1, 5), bool), np.ones((1, 5), bool), "at least 2 draws"),
    (np.ones((2, 5), bool), np.ones((2, 4), bool), "equal shapes"),
    (np.full((2, 5), 2), np.ones((2, 5)), "binary"),
])
def test_malformed_draws_are_refused(a, b, message):
    with pytest.raises(ValueError, match=message):
        draws_difference_interval(a, b)


def test_draw_fraction_must_be_a_share_of_the_pool():
    with pytest.raises(ValueError, match="draw_fraction"):
        draws_difference_interval(np.ones((2, 3)), np.ones((2, 3)), draw_fraction=1.5)


def test_draws_that_each_take_the_whole_pool_decide_nothing():
    a, b = draws(0.95, 0.10, n_draws=3, n=200)  # a huge gap, but one training set only
    outcome = repeated_draws_rule(a, b, 0.05, draw_fraction=1.0)
    assert outcome.verdict == "inconclusive" and "cannot be estimated" in outcome.reason
    assert outcome.rule["se"] is None and (outcome.rule["low"], outcome.rule["high"]) == (-1.0, 1.0)
