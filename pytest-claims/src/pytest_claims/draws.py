"""Orderings whose evidence was obtained over repeated random draws (e.g. few-shot training sets).

A few-shot classifier is trained on one random draw of k examples per class; its test-set correctness is
per-example *and* per-draw. Treating one draw's classifier as fixed (McNemar / Newcombe on its examples)
ignores the spread between draws — typically larger than the test-set noise — so two systems of equal
quality would be "ordered" far more often than α. Here the difference of accuracies is judged with both
sources of error:

* ``a``, ``b``: per-draw, per-example correctness, shape (draws, examples); draw s of A and of B are paired
  (trained on the same draw), and so are the examples;
* d_s = acc_s(A) − acc_s(B) per draw, d̄ their mean; e_i = the mean over draws of a_si − b_si per example;
* variance of d̄: var(d_s)·(1/S + f/(1 − f)) + var(e_i)/n, where S is the number of draws and f the fraction
  of its pool one draw takes (``draw_fraction``, e.g. 5 shots of 10 images per class: 0.5; 0 for an
  unlimited pool; 1 — every draw is the whole pool — leaves this unknown: inconclusive). The first term is the spread between draws: the mean over S draws from *one* finite pool
  estimates that pool's mean, whose own spread around the population's is at most f·var(one draw from the
  population) (Hoeffding's bound on U-statistics) — and draws within a pool vary less than draws from the
  population, by about (1 − f) (the finite-population correction), hence f/(1 − f) on the within-pool
  var(d_s). The second is the test-set sampling error. Both include the draw × example interaction once,
  so the sum is slightly conservative.
* a t interval with Welch–Satterthwaite degrees of freedom (the draws' term has S − 1); below ``FEW_DRAWS`` —
  fine-tune seeds, 2–3 of them — S − 1 degrees of freedom for the whole: Welch–Satterthwaite trusts a draws'
  variance that came out small by chance, and 2–3 seeds at exactly −margin then verify 5–6.7 % of the time;
* from ``SKEW_MIN_DRAWS`` draws on, the studentized difference T is first passed through Hall's (1992)
  skewness-removing transformation H(T) = T + γT²/(3√S) + γ²T³/(27S) + γ/(6√S), γ the sample skewness of the
  d_s weighted by the draws' share of the variance (the examples' term is symmetric): H is monotone, so the
  interval is {μ: |H((d̄ − μ)/se)| ≤ t quantile}. A t interval assumes symmetric per-draw differences; one side
  that now and then has a bad draw (a few points low) makes them skewed, and with 20 draws a plain t interval
  then orders equal sides 5.6–28 % of the time (benchmarks/bench_draws_skew.py). The correction needs the bad
  draws to be seen: with 5 % bad draws, 0.95^S of runs see none, so it holds α from about 100 draws on
  (tests/test_claim_error_control.py). Below ``SKEW_MIN_DRAWS`` a skewness is too noisy to correct with (at 20
  draws the correction orders equal sides more often than the plain t does) and the t interval is used as is.
* with fewer than 2 draws (seeds) the spread between them is unknown: ``repeated_draws_rule`` cannot decide.

The verdict follows the plugin's ordering conventions: "A better than B" (two-sided 1 − α interval
against 0) or "A better than or comparable to B" (1 − 2α interval against −margin). numpy/scipy only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as _sps

from .records import INCONCLUSIVE, REFUTED, VERIFIED

__all__ = ["FEW_DRAWS", "MIN_DRAWS", "SKEW_MIN_DRAWS", "DrawsInterval", "draws_difference_interval",
           "repeated_draws_rule"]

MIN_DRAWS = 2  # fewer: the spread between draws (seeds) is unknown
FEW_DRAWS = 10  # below: t with S − 1 degrees of freedom (fine-tune seeds), Welch–Satterthwaite from here on
SKEW_MIN_DRAWS = 50  # from here on the interval is corrected for the skewness of the per-draw differences


class DrawsInterval(NamedTuple):
    """mean over draws of acc(A) − acc(B), its interval and what it is made of."""

    diff: float
    low: float
    high: float
    se: float
    df: float
    draw_variance: float      # var(d_s)·(1/S + f/(1 − f)): the draws' share of var(d̄)
    example_variance: float   # var(e_i)/n: the test examples' share
    draw_diffs: tuple[float, ...]
    skewness: float = 0.0     # γ of Hall's transformation (0: not corrected, fewer than SKEW_MIN_DRAWS draws)

    def transform(self, t: float) -> float:
        """Hall's H of a studentized difference t (the identity when ``skewness`` is 0)."""
        b = self.skewness / (3.0 * math.sqrt(len(self.draw_diffs)))
        return t + b * t * t + b * b * t ** 3 / 3.0 + b / 2.0

    def inverse(self, h: float) -> float:
        b = self.skewness / (3.0 * math.sqrt(len(self.draw_diffs)))
        return h if b == 0.0 else (float(np.cbrt(1.0 + 3.0 * b * (h - b / 2.0))) - 1.0) / b

    def tail_below(self, threshold: float) -> float:
        """One-sided p-value of "the difference is below ``threshold``" against the t reference (small when the
        upper bound falls below it)."""
        if self.se == 0.0:
            return 0.0 if self.diff < threshold else 1.0
        if math.isinf(self.se):
            return 1.0
        return float(_sps.t.cdf(self.transform((self.diff - threshold) / self.se), self.df))


def _as_draws(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (draws x examples) per-example correctness, got shape {arr.shape}")
    if arr.dtype != bool:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) or \
                not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must be binary (bool or 0/1 per draw and example)")
        arr = arr.astype(bool)
    return arr


def draws_difference_interval(a_correct, b_correct, confidence: float = 0.95,
                              draw_fraction: float = 0.0) -> DrawsInterval:
    """acc(A) − acc(B) over paired draws and examples with a t interval (see the module docstring)."""
    a, b = _as_draws(a_correct, "a_correct"), _as_draws(b_correct, "b_correct")
    if a.shape != b.shape:
        raise ValueError(f"paired draws need equal shapes (same draws, same examples): {a.shape} vs {b.shape}")
    draws, n = a.shape
    if draws < 2 or n < 2:
        raise ValueError(f"a repeated-draws interval needs at least 2 draws and 2 examples, got {a.shape}")
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    fraction = float(draw_fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"draw_fraction is the share of its pool one draw takes, in [0, 1]; got {draw_fraction}")
    d = a.astype(float) - b.astype(float)
    per_draw, per_example = d.mean(axis=1), d.mean(axis=0)
    diff = float(per_draw.mean())
    if fraction == 1.0:  # every draw is the whole pool: how another training set would do is unknown
        return DrawsInterval(diff, -1.0, 1.0, math.inf, float(draws - 1), math.inf, float(per_example.var(ddof=1)) / n,
                             tuple(map(float, per_draw)))
    v_draw = float(per_draw.var(ddof=1)) * (1.0 / draws + fraction / (1.0 - fraction))
    v_example = float(per_example.var(ddof=1)) / n
    se = math.sqrt(v_draw + v_example)
    if se == 0.0:  # every draw and every example agree: the difference is exact
        return DrawsInterval(diff, diff, diff, 0.0, math.inf, 0.0, 0.0, tuple(map(float, per_draw)))
    parts = (v_draw ** 2 / (draws - 1) if v_draw else 0.0) + (v_example ** 2 / (n - 1) if v_example else 0.0)
    # Few draws (fine-tune seeds): the draws' variance rests on S − 1 degrees of freedom, and Welch–Satterthwaite
    # trusts it too much when it comes out small by chance; S − 1 for the whole holds α there (simulated).
    df = se ** 4 / parts if draws >= FEW_DRAWS else float(draws - 1)
    skew = 0.0
    if draws >= SKEW_MIN_DRAWS and v_draw > 0:
        centred = per_draw - diff
        skew = float((centred ** 3).mean() / (centred ** 2).mean() ** 1.5) * (v_draw / se ** 2) ** 1.5
    est = DrawsInterval(diff, 0.0, 0.0, se, df, v_draw, v_example, tuple(map(float, per_draw)), skew)
    t = float(_sps.t.ppf(0.5 + confidence / 2, df))
    low, high = diff - se * est.inverse(t), diff - se * est.inverse(-t)
    return est._replace(low=max(-1.0, low), high=min(1.0, high))


def repeated_draws_rule(a_correct, b_correct, alpha: float, margin: float | None = None, a_label: str = "A",
                        b_label: str = "B", draw_fraction: float = 0.0):
    """"A better than B" (margin None) or "A better than or comparable to B" (margin, a fraction of 1) on
    per-draw, per-example correctness; returns a ``rules.RuleOutcome`` whose rule dict holds the interval,
    both variance components, the degrees of freedom and every draw's difference."""
    from .rules import RuleOutcome, _check_alpha, _check_margin, _fmt, _interval_decision, refute_p_at

    one_sided = margin is not None
    alpha = _check_alpha(alpha, one_sided_pair=one_sided)
    m = _check_margin(margin) if one_sided else 0.0
    confidence = 1 - 2 * alpha if one_sided else 1 - alpha
    shape = np.shape(a_correct)
    if len(shape) == 2 and shape == np.shape(b_correct) and shape[0] < MIN_DRAWS and shape[1] >= 2:
        a1, b1 = _as_draws(a_correct, "a_correct"), _as_draws(b_correct, "b_correct")
        diff = float(a1.mean() - b1.mean())
        return RuleOutcome(INCONCLUSIVE, (
            f"acc({a_label}) − acc({b_label}) = {diff:+.4f} on {shape[0]} draw (seed) of {shape[1]} examples: the "
            f"spread between draws (seeds) is unknown with fewer than {MIN_DRAWS}; it needs at least {MIN_DRAWS} "
            f"paired draws (seeds) per side to decide"), {
            "rule": "repeated_draws_t_noninferiority" if one_sided else "repeated_draws_t_two_sided",
            "interval": f"none: fewer than {MIN_DRAWS} draws", "confidence_two_sided": confidence,
            "alpha": alpha, "margin": margin if margin is None else m, "diff": diff, "low": None, "high": None,
            "se": None, "df": None, "draw_diffs": (a1.mean(axis=1) - b1.mean(axis=1)).tolist(),
            "draws": int(shape[0]), "n": int(shape[1]), "min_draws": MIN_DRAWS, "needs_draws": MIN_DRAWS,
            "a_label": a_label, "b_label": b_label, "a_accuracy": float(a1.mean()), "b_accuracy": float(b1.mean()),
            "refute_p": 1.0})
    est = draws_difference_interval(a_correct, b_correct, confidence, draw_fraction)
    draws, n = np.shape(a_correct)
    verdict = _interval_decision(est.low, est.high, -m)
    tail = est.tail_below(-m)
    refute_p = refute_p_at(min(1.0, tail if one_sided else 2 * tail), verdict == REFUTED, alpha)
    threshold = f"−margin {_fmt(m)}" if one_sided else "0"
    rel = {VERIFIED: f"lower bound > {threshold}: " + (f"{a_label} not worse than {b_label} by more than the margin"
                                                      if one_sided else f"{a_label} better than {b_label}"),
           REFUTED: f"upper bound < {threshold}: " + (f"{a_label} worse than {b_label} by more than the margin"
                                                     if one_sided else f"{b_label} better than {a_label}"),
           INCONCLUSIVE: f"interval contains {threshold}: cannot tell"}[verdict]
    bounds = f"one-sided {_fmt(100 * (1 - alpha))} % bounds" if one_sided else f"{_fmt(100 * confidence)} % interval"
    a_acc, b_acc = float(np.mean(a_correct)), float(np.mean(b_correct))
    reason = (f"mean over {draws} draws: acc({a_label}) {a_acc:.4f} − acc({b_label}) {b_acc:.4f} = {est.diff:+.4f}, "
              f"{bounds} [{est.low:+.4f}, {est.high:+.4f}] (t, df {est.df:.3g}"
              + (f", Hall skewness-corrected, γ {est.skewness:+.3g}" if draws >= SKEW_MIN_DRAWS else "")
              + f"; draws and {n} examples both random): {rel}")
    if math.isinf(est.se):
        reason += ("; each draw takes the whole pool of training images (draw_fraction 1), so the spread between "
                   "training sets cannot be estimated")
    rule = {
        "rule": "repeated_draws_t_noninferiority" if one_sided else "repeated_draws_t_two_sided",
        "interval": "t over draws and examples: var(d_s)(1/S + f/(1-f)) + var(e_i)/n, Welch-Satterthwaite df"
                    + (", Hall (1992) skewness correction" if draws >= SKEW_MIN_DRAWS else ""),
        "skewness": est.skewness, "skew_min_draws": SKEW_MIN_DRAWS, "refute_p": refute_p,
        "alpha": alpha, "margin": margin if margin is None else m, "confidence_two_sided": confidence,
        "diff": est.diff, "low": est.low, "high": est.high, "se": est.se if math.isfinite(est.se) else None,
        "df": est.df if math.isfinite(est.df) else None, "draws": int(draws), "n": int(n),
        "draw_fraction": float(draw_fraction),
        "draw_variance": est.draw_variance if math.isfinite(est.draw_variance) else None,
        "example_variance": est.example_variance, "draw_diffs": list(est.draw_diffs),
        "a_accuracy": a_acc, "b_accuracy": b_acc, "a_label": a_label, "b_label": b_label,
    }
    return RuleOutcome(verdict, reason, rule)
