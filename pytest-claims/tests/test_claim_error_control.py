"""Claim-level error control (`pytest_claims.familywise`) and the draws rule's error over skewed draws and seeds.

Holm's procedure is checked against hand-computed adjusted p-values, and against the two likely mistakes: a
Bonferroni correction (every check held to α/m: refutes less than Holm) and a step-up order (Hochberg: refutes
more than Holm allows). The simulations use fixed seeds and the plugin's own code: synthetic records from the
real rules, judged by `assemble.build_claims`. Sizes: 1,000 runs each (under a minute in all); the benchmark
benchmarks/bench_claim_error.py runs them larger and prints the figures.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from pytest_claims.assemble import build_claims
from pytest_claims.draws import MIN_DRAWS, repeated_draws_rule
from pytest_claims.families import family_verdicts
from pytest_claims.familywise import annotate
from pytest_claims.records import CheckRecord
from pytest_claims.rules import Tolerance, superiority_rule, value_rule
from pytest_claims.stats import holm_adjusted

ALPHA = 0.05
RUNS = 1000


def record(i: int, verdict: str, refute_p: float | None, claim: str = "c", tier: str = "eval", **rule) -> CheckRecord:
    return CheckRecord(claim=claim, id=f"t{i}", nodeid=f"t.py::t{i}", kind="ordering", verdict=verdict,
                       reason="r", tier=tier, rule={"alpha": ALPHA, "refute_p": refute_p, **rule})


def counts(ps, verdicts=None) -> list[bool]:
    verdicts = verdicts or ["refuted" if p < ALPHA else "inconclusive" for p in ps]
    return [c.claim_level["counts"] for c in annotate([record(i, v, p) for i, (v, p) in enumerate(zip(verdicts, ps))])]


@pytest.mark.parametrize("ps,adjusted", [
    ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),  # sorted ×4, ×3, ×2, ×1; then running maximum
    ([0.03, 0.04, 0.001], [0.06, 0.06, 0.003]),  # 0.04 × 1 = 0.04 is raised to 0.06 by the step before it
    ([0.5], [0.5]),
    ([], []),
])
def test_holm_adjusted_p_values_by_hand(ps, adjusted):
    assert holm_adjusted(ps).tolist() == pytest.approx(adjusted)


def test_holm_refutes_more_than_bonferroni():
    # 0.001 < 0.05/3, 0.02 < 0.05/2, 0.03 < 0.05/1: all three count; Bonferroni (α/3 each) would keep one
    assert counts([0.001, 0.02, 0.03]) == [True, True, True]


def test_holm_steps_down_not_up():
    # 0.03 ≥ 0.05/2 stops the procedure: neither counts (a step-up, Hochberg, would count both as 0.04 < 0.05)
    assert counts([0.03, 0.04]) == [False, False]
    assert counts([0.03, 0.04, 0.001]) == [False, False, True]


def test_a_lone_refutation_counts_as_the_check_said():
    # a family of one: Holm is the check's own rule at α
    assert counts([0.049]) == [True] and counts([0.05]) == [False]


def test_each_check_records_its_claim_level():
    checks = annotate([record(0, "refuted", 0.004), record(1, "refuted", 0.03), record(2, "verified", 1.0),
                       record(3, "verified", 1.0), record(4, "not_run", None)])
    first, second, third, _, not_run = (c.claim_level for c in checks)
    assert first == {"method": "holm", "alpha": ALPHA, "family_size": 4, "rank": 1, "refute_p": 0.004,
                     "holm_p": pytest.approx(0.016), "adjusted_alpha": pytest.approx(0.0125), "counts": True}
    assert second["rank"] == 2 and second["adjusted_alpha"] == pytest.approx(ALPHA / 3)
    assert second["holm_p"] == pytest.approx(0.09) and second["counts"] is False
    assert third["counts"] is False and not_run == {}
    assert [c.verdict for c in checks][:2] == ["refuted", "refuted"]  # each check keeps its own verdict


def test_a_refutation_that_does_not_survive_makes_the_claim_inconclusive():
    checks = [record(0, "refuted", 0.03)] + [record(i, "verified", 1.0) for i in range(1, 14)]
    (claim,) = build_claims(None, checks)
    assert claim.verdict == "inconclusive"
    assert "1 refuted check not counted" in claim.reason and "Holm–Bonferroni over 14 decided checks" in claim.reason
    assert claim.checks[0].verdict == "refuted" and claim.checks[0].claim_level["counts"] is False
    assert claim.to_json()["checks"][0]["claim_level"]["adjusted_alpha"] == pytest.approx(ALPHA / 14)


def test_a_refutation_that_survives_refutes_the_claim():
    checks = [record(0, "refuted", 1e-6)] + [record(i, "verified", 1.0) for i in range(1, 14)]
    (claim,) = build_claims(None, checks)
    assert claim.verdict == "refuted" and "not counted" not in claim.reason


def test_checks_that_cannot_refute_or_are_not_tests_stay_out_of_the_family():
    band = value_rule(10.0, None, None, 20.0, None, Tolerance("t", abs=1.0))  # refuted by a band: no p-value
    assert band.verdict == "refuted" and band.rule["refute_p"] is None
    value = CheckRecord(claim="c", id="v", nodeid="t.py::v", kind="value", verdict="refuted", reason="r",
                        rule=band.rule)
    barred = record(1, "inconclusive", 0.001, cannot_refute="unlike readings", rule_verdict="refuted")
    checks = annotate([value, barred, record(2, "refuted", 0.04)])
    assert checks[0].claim_level["counts"] is True and checks[0].claim_level["adjusted_alpha"] is None
    assert checks[1].claim_level == {}
    assert checks[2].claim_level["family_size"] == 1 and checks[2].claim_level["counts"] is True


def test_families_are_corrected_over_their_own_checks():
    checks = [record(0, "refuted", 0.03, tier="eval")] + [record(i, "verified", 1.0, tier="eval") for i in (1, 2)]
    checks += [record(3, "refuted", 0.03, tier="consistency")]
    fams = {f["family"]: f for f in family_verdicts(checks, (("eval", ("eval",)), ("consistency", ("consistency",))))}
    assert fams["eval"]["verdict"] == "inconclusive" and fams["eval"]["refutations_not_counted"] == ["t.py::t0"]
    assert fams["consistency"]["verdict"] == "refuted" and fams["consistency"]["refutations_counted"] == ["t.py::t3"]


# --- simulations ----------------------------------------------------------------------------------------------

EXAMPLES, DISCORDANT = 10_000, 0.06  # CIFAR-10's test set; the two sides disagree on 6 % of its examples


@functools.cache
def mcnemar_outcome(a_only: int, b_only: int):
    """The real rule on a paired table with these discordant counts (cached: tables repeat across runs)."""
    both = EXAMPLES - a_only - b_only
    a = np.r_[np.ones(both + a_only, bool), np.zeros(b_only, bool)]
    b = np.r_[np.ones(both, bool), np.zeros(a_only, bool), np.ones(b_only, bool)]
    return superiority_rule(a, b, ALPHA)


def equal_quality_claim(rng: np.random.Generator, orderings: int) -> list[CheckRecord]:
    """A claim of `orderings` checks "A better than B" on sides of equal accuracy: each refutation is false."""
    discordant = rng.binomial(EXAMPLES, DISCORDANT, orderings)
    a_only = rng.binomial(discordant, 0.5)
    out = []
    for i, (x, d) in enumerate(zip(a_only, discordant)):
        outcome = mcnemar_outcome(int(x), int(d - x))
        out.append(CheckRecord(claim="c", id=f"t{i}", nodeid=f"t.py::t{i}", kind="ordering", verdict=outcome.verdict,
                               reason=outcome.reason, rule=outcome.rule))
    return out


@pytest.mark.parametrize("orderings", [14, 40, 134])
def test_a_true_claim_is_falsely_refuted_in_at_most_alpha_of_runs(orderings):
    rng = np.random.default_rng(orderings)
    refuted = uncorrected = 0
    for _ in range(RUNS):
        checks = equal_quality_claim(rng, orderings)
        (claim,) = build_claims(None, checks)
        refuted += claim.verdict == "refuted"
        uncorrected += any(c.verdict == "refuted" for c in checks)
    assert refuted <= ALPHA * RUNS, f"{refuted} of {RUNS} claims of {orderings} orderings refuted"
    # without the correction (any refutation counts) the claim is refuted far more often
    assert uncorrected > 4 * ALPHA * RUNS if orderings >= 40 else uncorrected > 2 * ALPHA * RUNS


def draws_pair(rng: np.random.Generator, draws: int, n: int, shift: float = 0.0, spread: float = 0.003,
               bad: float = 0.0, p_bad: float = 0.05, base: float = 0.8, own: float = 0.05, fresh: float = 0.3):
    """Per-draw, per-example correctness of A and B: shared example difficulty, each side's own errors (a share
    `fresh` of them drawn anew per draw), a per-draw accuracy offset (sd `spread`) per side; A's drops by `bad`
    in a share `p_bad` of draws, its others raised so that its mean accuracy is still `base + shift`."""
    u = rng.random(n)
    out = []
    for side in (0, 1):
        noise = np.where(rng.random((draws, n)) < fresh, rng.random((draws, n)), rng.random(n))
        offset = spread * rng.standard_normal((draws, 1))
        if side == 0:
            offset += shift + p_bad * bad - bad * (rng.random((draws, 1)) < p_bad)
        out.append((1 - own) * u + own * noise < base + offset)
    return out


RECOMMENDED_DRAWS = 100  # see the draws module: 0.95^100 < 1 % of runs see no bad draw


def test_skewed_draws_are_wrongly_decided_in_at_most_alpha_of_runs():
    """5 % of A's draws 4 points low, its others raised to keep the means equal; the draws' spread dominates."""
    rng = np.random.default_rng(5)
    decided = verified_at_margin = 0
    for _ in range(RUNS):
        a, b = draws_pair(rng, RECOMMENDED_DRAWS, 2000, bad=0.04, fresh=0.0)
        decided += repeated_draws_rule(a, b, ALPHA).verdict != "inconclusive"
        a, b = draws_pair(rng, RECOMMENDED_DRAWS, 2000, shift=-0.005, bad=0.04, fresh=0.0)
        verified_at_margin += repeated_draws_rule(a, b, ALPHA, margin=0.005).verdict == "verified"
    assert decided <= ALPHA * RUNS, f"equal sides ordered in {decided} of {RUNS}"
    assert verified_at_margin <= ALPHA * RUNS, f"A at exactly −margin verified in {verified_at_margin} of {RUNS}"


@pytest.mark.parametrize("seeds", [2, 3])
def test_finetune_seeds_at_minus_margin_verify_in_at_most_alpha_of_runs(seeds):
    """Oxford-IIIT Pets' 3,669 test images, accuracy ~94 %, seed spreads ± 0.3 pt per side (Table 2's widest)."""
    rng = np.random.default_rng(seeds)
    verified = 0
    for _ in range(RUNS):
        a, b = draws_pair(rng, seeds, 3669, shift=-0.005, base=0.94, p_bad=0.0)
        verified += repeated_draws_rule(a, b, ALPHA, margin=0.005).verdict == "verified"
    assert verified <= ALPHA * RUNS, f"verified in {verified} of {RUNS}"


def test_one_seed_cannot_decide_and_says_how_many_it_needs():
    a, b = draws_pair(np.random.default_rng(0), 1, 3669, shift=0.05, base=0.9, p_bad=0.0)
    outcome = repeated_draws_rule(a, b, ALPHA)
    assert outcome.verdict == "inconclusive" and outcome.rule["needs_draws"] == MIN_DRAWS
    assert f"at least {MIN_DRAWS} paired draws (seeds)" in outcome.reason


def test_a_real_two_point_gap_is_verified_in_most_runs_at_cifar10_size():
    rng = np.random.default_rng(7)
    verified = []
    for _ in range(100):
        a, b = draws_pair(rng, RECOMMENDED_DRAWS, EXAMPLES, shift=0.02, spread=0.01, p_bad=0.0)
        verified.append(repeated_draws_rule(a, b, ALPHA).verdict)
    assert verified.count("refuted") == 0 and verified.count("verified") >= 90


def test_the_report_shows_which_refutations_count():
    from pytest_claims.assemble import build_document
    from pytest_claims.report.html import render_html

    kept = [record(0, "refuted", 1e-6, claim="kept")] + [record(i, "verified", 1.0, claim="kept") for i in (1, 2)]
    dropped = [record(3, "refuted", 0.03, claim="dropped")] + [record(i, "verified", 1.0, claim="dropped")
                                                               for i in (4, 5)]
    html = render_html(build_document(None, kept + dropped, {}))
    assert "Counts at claim level: yes (Holm over 3 decided checks" in html
    assert "Counts at claim level: no (Holm over 3 decided checks" in html
    assert "p 1e-06, adjusted α 0.01667" in html  # rank 1 of 3: α / 3


def test_the_skewness_corrected_interval_is_halls_by_hand():
    from scipy import stats as sps

    from pytest_claims.draws import SKEW_MIN_DRAWS, draws_difference_interval

    a, b = draws_pair(np.random.default_rng(3), SKEW_MIN_DRAWS + 10, 1500, spread=0.01, bad=0.05)
    est = draws_difference_interval(a, b, confidence=0.9)
    d = a.mean(1) - b.mean(1)
    S, v_draw = d.size, d.var(ddof=1) / d.size
    gamma = ((d - d.mean()) ** 3).mean() / ((d - d.mean()) ** 2).mean() ** 1.5 * (v_draw / est.se ** 2) ** 1.5
    assert est.skewness == pytest.approx(gamma) and gamma < -0.3  # A's bad draws: a long left tail

    def hall(t):
        return t + gamma * t ** 2 / (3 * np.sqrt(S)) + gamma ** 2 * t ** 3 / (27 * S) + gamma / (6 * np.sqrt(S))

    q = sps.t.ppf(0.95, est.df)
    assert hall((est.diff - est.low) / est.se) == pytest.approx(q)
    assert hall((est.diff - est.high) / est.se) == pytest.approx(-q)


@pytest.mark.parametrize("shift", [-0.02, -0.008, -0.004, 0.0, 0.01])
def test_refute_p_agrees_with_the_verdict(shift):
    rng = np.random.default_rng(11)
    for draws in (3, 20, 60):
        a, b = draws_pair(rng, draws, 3000, shift=shift, spread=0.004, p_bad=0.0)
        for margin in (None, 0.005):
            outcome = repeated_draws_rule(a, b, ALPHA, margin=margin)
            assert (outcome.rule["refute_p"] < ALPHA) == (outcome.verdict == "refuted"), (draws, margin)


def test_one_seed_gives_every_key_claim_check_records():
    """ClaimCheck.ordering_draws (the finetune tier's call) builds its measurement from these keys."""
    a, b = draws_pair(np.random.default_rng(1), 1, 500, shift=0.05, base=0.9, p_bad=0.0)
    rule = repeated_draws_rule(a, b, ALPHA).rule
    for key in ("diff", "low", "high", "n", "draws", "confidence_two_sided", "interval", "a_accuracy", "b_accuracy"):
        assert key in rule, key
    assert rule["low"] is None and rule["draws"] == 1 and rule["confidence_two_sided"] == pytest.approx(0.95)
