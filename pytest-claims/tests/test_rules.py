"""pytest_claims.rules: every rule refuses a contradicting measurement, and the ordering rules keep
their false-decision rate at alpha when the two systems are equally good."""

import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_claims.rules import (
    CHECK_VERDICTS,
    RuleOutcome,
    Tolerance,
    aggregate_claim,
    bootstrap_ordering_rule,
    noninferiority_rule,
    superiority_rule,
    value_rule,
)

fast = settings(max_examples=100, deadline=None)
ACCURACY = Tolerance("accuracy", abs=1.0, sigmas=2)


def paired_from_table(both: int, a_only: int, b_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1] * both + [1] * a_only + [0] * b_only + [0] * neither, dtype=bool)
    b = np.array([1] * both + [0] * a_only + [1] * b_only + [0] * neither, dtype=bool)
    return a, b


def simulate_pairs(rng, probs, n, reps):
    """reps paired correctness vectors of length n; probs = P(both, A only, B only, neither)."""
    cells = rng.choice(4, size=(reps, n), p=probs)
    return cells <= 1, (cells == 0) | (cells == 2)


def assert_json_safe(outcome: RuleOutcome) -> None:
    json.dumps(outcome.rule, allow_nan=False)


# --- value rule -----------------------------------------------------------------------------------

def test_value_far_outside_band_is_refuted_with_reason():
    out = value_rule(85.1, 84.8, 85.4, 88.55, 0.04, Tolerance("accuracy", abs=1.0))
    assert out.verdict == "refuted"
    assert out.reason == (
        "measured 85.1 [84.8, 85.4] vs paper 88.55 ± 0.04: outside paper ± 1 (tolerance 'accuracy': abs 1)"
    )
    assert out.rule["band"] == 1.0
    assert out.rule["accepted"] == pytest.approx([87.55, 89.55])
    assert_json_safe(out)


def test_value_inside_band_is_verified():
    out = value_rule(88.1, 87.9, 88.3, 88.55, 0.04, ACCURACY)
    assert out.verdict == "verified"
    assert out.rule["band"] == pytest.approx(1.08)
    assert "within paper ± 1.08" in out.reason and "2·paper std" in out.reason


def test_value_interval_overlap_decides_not_the_point():
    # Point 3.0 is outside 5 ± 1, but its interval reaches the band.
    tol = Tolerance("t", abs=1.0)
    assert value_rule(3.0, 2.0, 4.2, 5.0, None, tol).verdict == "verified"
    assert value_rule(3.0, 2.0, 3.9, 5.0, None, tol).verdict == "refuted"
    assert value_rule(3.0, None, None, 5.0, None, tol).verdict == "refuted"


def test_exact_tolerance_accepts_only_equality():
    exact = Tolerance("exact", abs=0)
    assert value_rule(12, None, None, 12, None, exact).verdict == "verified"
    assert value_rule(13, None, None, 12, None, exact).verdict == "refuted"
    assert value_rule(11.999, None, None, 12, None, exact).verdict == "refuted"


def test_relative_and_sigma_parts_of_the_band():
    rel = Tolerance("exaflops", rel=0.2)
    assert value_rule(11.9, None, None, 10.0, None, rel).verdict == "verified"
    assert value_rule(12.1, None, None, 10.0, None, rel).verdict == "refuted"
    assert value_rule(-12.1, None, None, -10.0, None, rel).verdict == "refuted"  # |paper| in the band
    sig = Tolerance("sig", sigmas=2)
    assert value_rule(10.5, None, None, 10.0, 0.3, sig).verdict == "verified"
    assert value_rule(10.5, None, None, 10.0, 0.2, sig).verdict == "refuted"
    assert value_rule(10.5, None, None, 10.0, None, sig).verdict == "refuted"  # no std, no sigma band


def test_band_edge_does_not_flip_on_float_rounding():
    # 88.55 - 3.45 is 85.10000000000001 in binary floating point.
    assert value_rule(85.1, None, None, 88.55, None, Tolerance("t", abs=3.45)).verdict == "verified"
    assert value_rule(85.09, None, None, 88.55, None, Tolerance("t", abs=3.45)).verdict == "refuted"


@pytest.mark.parametrize("measured, paper, tolerance, beyond", [
    # 80.02 + 0.1 is 80.11999999999999 in binary: the upper edge lies a last bit inside the decimal one.
    (80.12, 80.02, Tolerance("t", abs=0.1), 80.13),
    # 80.04 - (1 + 2 * 0.04) is 78.96000000000001: the lower edge lies a last bit inside the decimal one.
    (78.96, 80.04, Tolerance("t", abs=1.0, sigmas=2), 78.95),
])
def test_a_measurement_on_an_edge_that_binary_cannot_hold_exactly_is_inside(measured, paper, tolerance, beyond):
    std = 0.04 if tolerance.sigmas else None
    band = tolerance.band(paper, std)
    edge = paper + band if measured > paper else paper - band
    assert edge != measured  # the float edge misses the decimal one: only the slack keeps it inside
    assert value_rule(measured, None, None, paper, std, tolerance).verdict == "verified"
    assert value_rule(beyond, None, None, paper, std, tolerance).verdict == "refuted"
    # an interval that ends on the edge overlaps the band as well
    low, high = (measured, measured + 1) if measured > paper else (measured - 1, measured)
    assert value_rule(measured, low, high, paper, std, tolerance).verdict == "verified"


@fast
@given(
    measured=st.floats(-1e6, 1e6), paper=st.floats(-1e6, 1e6),
    abs_=st.floats(0, 1e3), rel=st.floats(0, 1), std=st.none() | st.floats(0, 10), sigmas=st.floats(0, 3),
)
def test_value_rule_point_verdict_is_distance_within_band(measured, paper, abs_, rel, std, sigmas):
    tol = Tolerance("t", abs=abs_, rel=rel, sigmas=sigmas)
    band = abs_ + rel * abs(paper) + sigmas * (std or 0.0)
    distance = abs(measured - paper)
    if math.isclose(distance, band, rel_tol=1e-6, abs_tol=1e-9):
        return  # on the edge: decided by the float slack, tested above
    out = value_rule(measured, None, None, paper, std, tol)
    assert out.verdict == ("verified" if distance < band else "refuted")


@pytest.mark.parametrize(
    "args, message",
    [((math.nan, None, None, 1.0, None), "missing or undefined"),
     ((1.0, None, None, math.inf, None), "missing or undefined"),
     ((1.0, 0.5, None, 1.0, None), "both low and high"),
     ((1.0, 1.5, 2.0, 1.0, None), "does not contain"),
     ((1.0, None, None, 1.0, -0.1), "std must be >= 0"),
     (("x", None, None, 1.0, None), "must be a number")],
)
def test_value_rule_refuses_to_judge_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        value_rule(*args, ACCURACY)


@pytest.mark.parametrize("kwargs", [{"abs": -1.0}, {"rel": math.nan}, {"sigmas": "2"}])
def test_tolerance_rejects_bad_parts(kwargs):
    with pytest.raises(ValueError, match="pyproject.toml"):
        Tolerance("bad", **kwargs)


# --- superiority (exact McNemar) ------------------------------------------------------------------

def test_superiority_verified_when_a_wins_clearly():
    out = superiority_rule(*paired_from_table(150, 30, 8, 12), alpha=0.05, a_label="CNN", b_label="ViT")
    assert out.verdict == "verified"
    assert out.rule["p_value"] < 0.05 and (out.rule["a_only"], out.rule["b_only"]) == (30, 8)
    assert "CNN better than ViT" in out.reason
    assert_json_safe(out)


def test_superiority_refuted_when_a_is_clearly_worse():
    out = superiority_rule(*paired_from_table(150, 8, 30, 12), alpha=0.05, a_label="CNN", b_label="ViT")
    assert out.verdict == "refuted"
    assert "ViT better than CNN" in out.reason


def test_superiority_inconclusive_on_tiny_or_balanced_samples():
    # 4 of 4 discordant pairs for A: exact two-sided p = 0.125.
    assert superiority_rule(*paired_from_table(1, 4, 0, 1), alpha=0.05).verdict == "inconclusive"
    assert superiority_rule(*paired_from_table(100, 20, 20, 60), alpha=0.05).verdict == "inconclusive"
    assert superiority_rule(*paired_from_table(100, 0, 0, 60), alpha=0.05).verdict == "inconclusive"


def test_superiority_threshold_is_strict_and_alpha_matters():
    a, b = paired_from_table(50, 15, 4, 31)  # exact p ~ 0.019
    assert superiority_rule(a, b, alpha=0.05).verdict == "verified"
    assert superiority_rule(a, b, alpha=0.01).verdict == "inconclusive"


def test_superiority_at_p_exactly_alpha_is_not_significant():
    # 4 of 4 discordant pairs for A: exact two-sided p = 2 * 0.5**4 = 0.125, exactly representable.
    a, b = paired_from_table(1, 4, 0, 1)
    at = superiority_rule(a, b, alpha=0.125)
    assert at.rule["p_value"] == 0.125 and at.verdict == "inconclusive"
    assert superiority_rule(a, b, alpha=0.1251).verdict == "verified"


def test_superiority_false_decision_rate_is_at_most_alpha_for_equal_classifiers():
    # Two classifiers of equal true accuracy (70 %), correlated as real models are.
    rng = np.random.default_rng(2010_11929)
    alpha, reps, n = 0.05, 2000, 200
    a, b = simulate_pairs(rng, [0.6, 0.1, 0.1, 0.2], n, reps)
    verdicts = Counter(superiority_rule(x, y, alpha).verdict for x, y in zip(a, b))
    rate = (verdicts["verified"] + verdicts["refuted"]) / reps
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps), verdicts
    # ... and the same rule does decide when there is a real 10-point difference.
    a, b = simulate_pairs(rng, [0.6, 0.15, 0.05, 0.2], n, 300)
    power = Counter(superiority_rule(x, y, alpha).verdict for x, y in zip(a, b))
    assert power["verified"] / 300 > 0.8 and power["refuted"] == 0, power


# --- non-inferiority ------------------------------------------------------------------------------

def test_noninferiority_verified_when_a_is_comparable():
    out = noninferiority_rule(*paired_from_table(1600, 60, 50, 290), alpha=0.05, margin=0.02)
    assert out.verdict == "verified"
    assert out.rule["low"] > -0.02 and out.rule["margin"] == 0.02
    assert_json_safe(out)


def test_noninferiority_refuted_when_a_is_worse_by_more_than_the_margin():
    out = noninferiority_rule(*paired_from_table(700, 20, 120, 160), alpha=0.05, margin=0.02)
    assert out.verdict == "refuted"
    assert out.rule["high"] < -0.02
    assert "worse than B by more than the margin" in out.reason


def test_noninferiority_margin_decides_both_ways():
    a, b = paired_from_table(800, 20, 50, 130)  # A is 3 points worse, interval ~ [-0.045, -0.016]
    assert noninferiority_rule(a, b, alpha=0.05, margin=0.06).verdict == "verified"
    assert noninferiority_rule(a, b, alpha=0.05, margin=0.03).verdict == "inconclusive"
    assert noninferiority_rule(a, b, alpha=0.05, margin=0.005).verdict == "refuted"


def test_noninferiority_bounds_are_one_sided_at_one_minus_alpha():
    # Each bound of the two-sided (1 - 2α) interval is a one-sided 1 - α bound; a margin between the
    # 90 % and the 95 % lower bound is met at α = 0.05, and would not be with a 95 % interval.
    from pytest_claims.stats import paired_difference_interval

    a, b = paired_from_table(800, 20, 50, 130)
    low90 = paired_difference_interval(a, b, confidence=0.90).low
    low95 = paired_difference_interval(a, b, confidence=0.95).low
    assert low95 < low90
    out = noninferiority_rule(a, b, alpha=0.05, margin=-(low90 + low95) / 2)
    assert (out.rule["low"], out.rule["high"]) == paired_difference_interval(a, b, confidence=0.90)[1:]
    assert out.verdict == "verified" and out.rule["confidence_two_sided"] == pytest.approx(0.90)


def test_noninferiority_inconclusive_on_tiny_samples():
    assert noninferiority_rule(*paired_from_table(3, 1, 1, 1), alpha=0.05, margin=0.05).verdict == "inconclusive"
    assert noninferiority_rule(*paired_from_table(2, 0, 1, 1), alpha=0.05, margin=0.05).verdict == "inconclusive"


def test_noninferiority_wrongly_verified_at_most_alpha_at_the_margin():
    # True difference exactly -margin: "comparable" must be claimed in at most alpha of cases.
    rng = np.random.default_rng(16)
    alpha, margin, reps = 0.05, 0.05, 1000
    a, b = simulate_pairs(rng, [0.6, 0.075, 0.125, 0.2], 200, reps)
    verified = sum(noninferiority_rule(x, y, alpha, margin).verdict == "verified" for x, y in zip(a, b))
    assert verified / reps <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps), verified


@pytest.mark.parametrize(
    "alpha, margin, message", [(0.5, 0.01, "alpha"), (0.05, -0.01, "margin"), (0.05, math.nan, "margin")]
)
def test_noninferiority_rejects_bad_settings(alpha, margin, message):
    with pytest.raises(ValueError, match=message):
        noninferiority_rule(*paired_from_table(10, 1, 1, 1), alpha=alpha, margin=margin)


# --- paired bootstrap ordering --------------------------------------------------------------------

@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(11)
    difficulty = rng.normal(0.0, 1.0, 400)
    return difficulty, difficulty + rng.normal(0.0, 0.2, 400)


def test_bootstrap_rule_verified_refuted_inconclusive(scores):
    base, noisy = scores
    better = bootstrap_ordering_rule(noisy + 0.1, base, alpha=0.05, n_resamples=1999)
    assert better.verdict == "verified" and better.rule["low"] > 0
    worse = bootstrap_ordering_rule(noisy - 0.1, base, alpha=0.05, n_resamples=1999)
    assert worse.verdict == "refuted" and worse.rule["high"] < 0
    assert "B better than A" in worse.reason
    same = bootstrap_ordering_rule(noisy - noisy.mean() + base.mean(), base, alpha=0.05, n_resamples=1999)
    assert same.verdict == "inconclusive"
    assert_json_safe(better)


def test_bootstrap_rule_margin_decides_both_ways(scores):
    base, noisy = scores
    a = noisy - noisy.mean() + base.mean() - 0.05  # A worse by 0.05, standard error ~0.01
    assert bootstrap_ordering_rule(a, base, 0.05, margin=0.1, n_resamples=1999).verdict == "verified"
    assert bootstrap_ordering_rule(a, base, 0.05, margin=0.05, n_resamples=1999).verdict == "inconclusive"
    assert bootstrap_ordering_rule(a, base, 0.05, margin=0.01, n_resamples=1999).verdict == "refuted"


def test_bootstrap_rule_with_a_margin_uses_one_sided_bounds_at_one_minus_alpha(scores):
    # Like non-inferiority: with a margin the interval is two-sided 1 - 2α; without one it is 1 - α.
    from pytest_claims.stats import paired_bootstrap

    base, noisy = scores
    a = noisy - noisy.mean() + base.mean() - 0.05
    low90 = paired_bootstrap(a, base, n_resamples=1999, confidence=0.90, seed=0).low
    low95 = paired_bootstrap(a, base, n_resamples=1999, confidence=0.95, seed=0).low
    assert low95 < low90
    out = bootstrap_ordering_rule(a, base, 0.05, margin=-(low90 + low95) / 2, n_resamples=1999)
    assert out.rule["low"] == low90 and out.verdict == "verified"
    plain = bootstrap_ordering_rule(a, base, 0.05, n_resamples=1999)
    assert plain.rule["low"] == low95  # "A better than B": the two-sided 95 % interval


def test_bootstrap_rule_inconclusive_on_tiny_samples():
    out = bootstrap_ordering_rule([0.9, 0.8, 0.95], [0.1, 0.2, 0.15], alpha=0.05)
    assert out.verdict == "inconclusive" and "too few" in out.reason
    assert_json_safe(out)


# --- claim aggregation ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "verdicts, expected, reason",
    [
        (["verified", "refuted", "error", "untestable"], "refuted",
         "1 of 4 checks refuted (1 verified, 1 untestable, 1 error)"),
        (["verified", "error", "not_run"], "error", "1 of 3 checks errored (1 verified, 1 not run)"),
        (["untestable", "untestable"], "untestable", "all 2 checks untestable"),
        (["verified", "verified", "untestable"], "verified", "all 2 testable checks verified (1 untestable)"),
        (["not_run", "untestable"], "not_run", "its one testable check was not run (1 untestable)"),
        # one check: the noun in the singular ("all 1 testable checks verified" was the report's grammar)
        (["verified"], "verified", "its one testable check verified"),
        (["verified", "untestable"], "verified", "its one testable check verified (1 untestable)"),
        (["untestable"], "untestable", "its one check untestable"),
        (["refuted"], "refuted", "1 of 1 check refuted"),
        (["inconclusive"], "inconclusive", "0 of 1 testable check verified; 1 inconclusive"),
        (["error", "error"], "error", "2 of 2 checks errored"),
        ([], "not_run", "no checks recorded for this claim"),
        (["verified"] * 3 + ["not_run"] * 4, "inconclusive", "3 of 7 testable checks verified; 4 not run"),
        (["verified", "inconclusive", "not_run", "untestable"], "inconclusive",
         "1 of 3 testable checks verified; 1 inconclusive, 1 not run (1 untestable)"),
        (["inconclusive", "not_run"], "inconclusive", "0 of 2 testable checks verified; 1 inconclusive, 1 not run"),
    ],
)
def test_aggregate_claim(verdicts, expected, reason):
    assert aggregate_claim(verdicts) == (expected, reason)


@fast
@given(verdicts=st.lists(st.sampled_from(CHECK_VERDICTS), max_size=12), seed=st.integers(0, 1000))
def test_aggregate_claim_properties(verdicts, seed):
    verdict, _ = aggregate_claim(verdicts)
    shuffled = list(np.random.default_rng(seed).permutation(verdicts)) if verdicts else []
    assert aggregate_claim([str(v) for v in shuffled])[0] == verdict
    if "refuted" in verdicts:
        assert verdict == "refuted"
    if verdict == "verified":
        assert "verified" in verdicts and set(verdicts) <= {"verified", "untestable"}
    if verdict == "untestable":
        assert verdicts and set(verdicts) == {"untestable"}


def test_aggregate_claim_rejects_unknown_verdicts():
    with pytest.raises(ValueError, match="unknown check verdict"):
        aggregate_claim(["verified", "passed"])


def test_rule_outcome_is_frozen_and_checked():
    out = RuleOutcome("verified", "r", {})
    with pytest.raises(AttributeError):
        out.verdict = "refuted"
    with pytest.raises(ValueError):
        RuleOutcome("untestable", "r", {})
