"""pytest_claims.stats: known answers from the literature, properties, input validation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_claims.stats import (
    mcnemar_exact,
    paired_bootstrap,
    paired_difference_interval,
    paired_table,
    wilson_interval,
)

fast = settings(max_examples=100, deadline=None)


def paired_from_table(both: int, a_only: int, b_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1] * both + [1] * a_only + [0] * b_only + [0] * neither, dtype=bool)
    b = np.array([1] * both + [0] * a_only + [1] * b_only + [0] * neither, dtype=bool)
    return a, b


tables = st.tuples(*[st.integers(0, 60)] * 4).filter(lambda t: sum(t) > 0)


# --- Wilson ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "k, n, low, high",
    [
        (8, 10, 0.4902, 0.9433),  # the usual textbook example
        # Newcombe (1998) "Two-sided confidence intervals for the single proportion", Table I, method 3
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(k, n, low, high):
    got = wilson_interval(k, n, 0.95)
    assert got.low == pytest.approx(low, abs=5e-5)
    assert got.high == pytest.approx(high, abs=5e-5)


def test_wilson_matches_closed_form():
    # Wilson (1927): (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), at 90 %.
    k, n, z = 37, 90, 1.6448536269514722
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson_interval(k, n, 0.90) == pytest.approx((centre - half, centre + half), abs=1e-12)


@fast
@given(n=st.integers(1, 5000), data=st.data(), confidence=st.floats(0.5, 0.999))
def test_wilson_contains_estimate_and_stays_in_unit_interval(n, data, confidence):
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n, confidence)
    assert 0.0 <= low <= k / n <= high <= 1.0
    assert low < high


@fast
@given(k=st.integers(0, 200), extra=st.integers(0, 200), factor=st.integers(2, 50))
def test_wilson_narrows_as_n_grows_at_fixed_proportion(k, extra, factor):
    n = k + extra
    if n == 0:
        n = 1
    low1, high1 = wilson_interval(k, n)
    low2, high2 = wilson_interval(k * factor, n * factor)
    assert high2 - low2 < high1 - low1


@fast
@given(n=st.integers(1, 1000), data=st.data())
def test_wilson_is_symmetric_under_complement(n, data):
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n)
    c_low, c_high = wilson_interval(n - k, n)
    assert low == pytest.approx(1 - c_high, abs=1e-12)
    assert high == pytest.approx(1 - c_low, abs=1e-12)


def test_wilson_widens_with_confidence():
    narrow, wide = wilson_interval(40, 100, 0.80), wilson_interval(40, 100, 0.99)
    assert wide.low < narrow.low and wide.high > narrow.high


@pytest.mark.parametrize(
    "k, n, confidence, message",
    [(5, 0, 0.95, "at least 1"), (11, 10, 0.95, r"\[0, n\]"), (-1, 10, 0.95, r"\[0, n\]"),
     (2.5, 10, 0.95, "whole counts"), (5, 10, 95, "between 0 and 1"), (5, 10, 0.0, "between 0 and 1")],
)
def test_wilson_rejects_bad_input(k, n, confidence, message):
    with pytest.raises(ValueError, match=message):
        wilson_interval(k, n, confidence)


# --- McNemar --------------------------------------------------------------------------------------

def test_mcnemar_exact_matches_binomial_by_hand():
    # Cavo et al. (2012) via Fagerland, Lydersen & Laake (2017) ch. 8: b = 6, c = 16.
    a, b = paired_from_table(59, 6, 16, 80)
    res = mcnemar_exact(a, b)
    by_hand = 2 * sum(math.comb(22, i) for i in range(7)) / 2**22
    assert (res.b, res.c, res.n) == (6, 16, 161)
    assert res.p_value == pytest.approx(by_hand, rel=1e-12)
    assert res.p_value == pytest.approx(0.0525, abs=5e-5)


def test_mcnemar_without_discordant_pairs_has_p_one():
    a, b = paired_from_table(30, 0, 0, 10)
    assert mcnemar_exact(a, b).p_value == 1.0


def test_mcnemar_all_discordant_one_way():
    a, b = paired_from_table(0, 10, 0, 0)
    assert mcnemar_exact(a, b).p_value == pytest.approx(2 / 2**10)


@fast
@given(table=tables)
def test_mcnemar_is_symmetric_in_a_and_b(table):
    a, b = paired_from_table(*table)
    ab, ba = mcnemar_exact(a, b), mcnemar_exact(b, a)
    assert ab.p_value == pytest.approx(ba.p_value, rel=1e-12)
    assert (ab.b, ab.c) == (ba.c, ba.b)
    assert 0.0 < ab.p_value <= 1.0


@fast
@given(table=tables, seed=st.integers(0, 2**32 - 1))
def test_paired_table_counts_and_ignores_order(table, seed):
    a, b = paired_from_table(*table)
    perm = np.random.default_rng(seed).permutation(a.size)
    assert tuple(paired_table(a[perm], b[perm])) == table


# --- paired difference interval -------------------------------------------------------------------

def test_newcombe_paired_interval_matches_published_example():
    # Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012): -0.0621 (95 % CI -0.1186 to -0.0046)
    a, b = paired_from_table(59, 6, 16, 80)
    diff, low, high = paired_difference_interval(a, b, 0.95)
    assert diff == pytest.approx(-10 / 161)
    assert low == pytest.approx(-0.1186, abs=5e-5)
    assert high == pytest.approx(-0.0046, abs=5e-5)


@fast
@given(table=tables, confidence=st.floats(0.5, 0.999))
def test_paired_interval_contains_point_difference(table, confidence):
    a, b = paired_from_table(*table)
    diff, low, high = paired_difference_interval(a, b, confidence)
    assert diff == pytest.approx(a.mean() - b.mean())
    assert -1.0 <= low <= diff <= high <= 1.0


@fast
@given(table=tables)
def test_paired_interval_is_antisymmetric_under_swap(table):
    a, b = paired_from_table(*table)
    ab, ba = paired_difference_interval(a, b), paired_difference_interval(b, a)
    assert ab.diff == pytest.approx(-ba.diff, abs=1e-12)
    assert ab.low == pytest.approx(-ba.high, abs=1e-12)
    assert ab.high == pytest.approx(-ba.low, abs=1e-12)


def test_paired_interval_uses_the_pairing():
    # Same marginal accuracies (60 % vs 50 %); concordant pairs make the difference far more certain.
    def width(table):
        _, low, high = paired_difference_interval(*paired_from_table(*table))
        return high - low

    assert width((50, 10, 0, 40)) < 0.7 * width((30, 30, 20, 20))


def test_paired_interval_coverage_is_near_nominal():
    # Newcombe's point: good coverage at small n. n = 40, true diff 0.1, positive correlation.
    rng = np.random.default_rng(20240611)
    probs = [0.55, 0.15, 0.05, 0.25]  # both, a_only, b_only, neither -> true diff 0.10
    reps, n, hits = 600, 40, 0
    for cells in rng.multinomial(n, probs, size=reps):
        _, low, high = paired_difference_interval(*paired_from_table(*cells), 0.95)
        hits += low <= 0.10 <= high
    coverage = hits / reps
    se = math.sqrt(0.95 * 0.05 / reps)
    assert coverage >= 0.95 - 3 * se, coverage


@pytest.mark.parametrize(
    "a, b, message",
    [([1, 0, 1], [1, 0], "equal lengths"), ([], [], "empty"), ([1, 2, 0], [1, 0, 0], "binary"),
     ([1, 0.5], [1, 0], "binary"), ([1, np.nan], [1, 0], "binary"), ([[1, 0]], [[1, 0]], "1-D"),
     (["x", "y"], [1, 0], "booleans or 0/1")],
)
def test_paired_inputs_are_validated(a, b, message):
    for fn in (mcnemar_exact, paired_difference_interval, paired_table):
        with pytest.raises(ValueError, match=message):
            fn(a, b)


# --- paired bootstrap -----------------------------------------------------------------------------

def test_paired_bootstrap_agrees_with_normal_theory_for_large_n():
    rng = np.random.default_rng(7)
    base = rng.normal(size=2000)
    a, b = base + rng.normal(0.2, 1.0, size=2000), base
    diff, low, high = paired_bootstrap(a, b, n_resamples=2000, confidence=0.95, seed=1)
    d = a - b
    half = 1.96 * d.std(ddof=1) / math.sqrt(d.size)
    assert diff == pytest.approx(d.mean())
    assert low == pytest.approx(d.mean() - half, abs=0.1 * half)
    assert high == pytest.approx(d.mean() + half, abs=0.1 * half)


def test_paired_bootstrap_uses_the_pairing():
    # A shared per-example difficulty dominates the scores; pairing removes it.
    rng = np.random.default_rng(3)
    difficulty = rng.normal(0, 5, size=300)
    a, b = difficulty + 0.5 + rng.normal(0, 0.3, 300), difficulty + rng.normal(0, 0.3, 300)
    _, low, high = paired_bootstrap(a, b, n_resamples=2000)
    assert 0 < low < 0.5 < high < 1.0


def test_paired_bootstrap_is_reproducible_with_a_seed_and_supports_other_statistics():
    rng = np.random.default_rng(5)
    a, b = rng.normal(1, 1, 100), rng.normal(0, 1, 100)
    assert paired_bootstrap(a, b, np.median, 999, 0.9, seed=11) == paired_bootstrap(a, b, np.median, 999, 0.9, seed=11)
    diff, low, high = paired_bootstrap(a, b, np.median, 999, 0.9, seed=11)
    assert diff == pytest.approx(np.median(a) - np.median(b)) and low < high


def test_paired_bootstrap_of_identical_pairs_is_a_point():
    assert tuple(paired_bootstrap([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "a, b, message",
    [([1.0, 2.0], [1.0], "equal lengths"), ([], [], "empty"), ([1.0, np.nan], [0.0, 0.0], "NaN"),
     ([1.0], [0.0], "at least 2 pairs")],
)
def test_paired_bootstrap_rejects_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b)
