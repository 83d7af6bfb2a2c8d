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
* a t interval with Welch–Satterthwaite degrees of freedom (the draws' term has S − 1).

The verdict follows the plugin's ordering conventions: "A better than B" (two-sided 1 − α interval
against 0) or "A better than or comparable to B" (1 − 2α interval against −margin). numpy/scipy only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as _sps

from .records import INCONCLUSIVE, REFUTED, VERIFIED

__all__ = ["DrawsInterval", "draws_difference_interval", "repeated_draws_rule"]


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
    df = se ** 4 / parts
    t = float(_sps.t.ppf(0.5 + confidence / 2, df))
    return DrawsInterval(diff, max(-1.0, diff - t * se), min(1.0, diff + t * se), se, df, v_draw, v_example,
                         tuple(map(float, per_draw)))


def repeated_draws_rule(a_correct, b_correct, alpha: float, margin: float | None = None, a_label: str = "A",
                        b_label: str = "B", draw_fraction: float = 0.0):
    """"A better than B" (margin None) or "A better than or comparable to B" (margin, a fraction of 1) on
    per-draw, per-example correctness; returns a ``rules.RuleOutcome`` whose rule dict holds the interval,
    both variance components, the degrees of freedom and every draw's difference."""
    from .rules import RuleOutcome, _check_alpha, _check_margin, _fmt, _interval_decision

    one_sided = margin is not None
    alpha = _check_alpha(alpha, one_sided_pair=one_sided)
    m = _check_margin(margin) if one_sided else 0.0
    confidence = 1 - 2 * alpha if one_sided else 1 - alpha
    est = draws_difference_interval(a_correct, b_correct, confidence, draw_fraction)
    draws, n = np.shape(a_correct)
    verdict = _interval_decision(est.low, est.high, -m)
    threshold = f"−margin {_fmt(m)}" if one_sided else "0"
    rel = {VERIFIED: f"lower bound > {threshold}: " + (f"{a_label} not worse than {b_label} by more than the margin"
                                                      if one_sided else f"{a_label} better than {b_label}"),
           REFUTED: f"upper bound < {threshold}: " + (f"{a_label} worse than {b_label} by more than the margin"
                                                     if one_sided else f"{b_label} better than {a_label}"),
           INCONCLUSIVE: f"interval contains {threshold}: cannot tell"}[verdict]
    bounds = f"one-sided {_fmt(100 * (1 - alpha))} % bounds" if one_sided else f"{_fmt(100 * confidence)} % interval"
    a_acc, b_acc = float(np.mean(a_correct)), float(np.mean(b_correct))
    reason = (f"mean over {draws} draws: acc({a_label}) {a_acc:.4f} − acc({b_label}) {b_acc:.4f} = {est.diff:+.4f}, "
              f"{bounds} [{est.low:+.4f}, {est.high:+.4f}] (t, df {est.df:.3g}; draws and {n} examples both "
              f"random): {rel}")
    if math.isinf(est.se):
        reason += ("; each draw takes the whole pool of training images (draw_fraction 1), so the spread between "
                   "training sets cannot be estimated")
    rule = {
        "rule": "repeated_draws_t_noninferiority" if one_sided else "repeated_draws_t_two_sided",
        "interval": "t over draws and examples: var(d_s)(1/S + f/(1-f)) + var(e_i)/n, Welch-Satterthwaite df",
        "alpha": alpha, "margin": margin if margin is None else m, "confidence_two_sided": confidence,
        "diff": est.diff, "low": est.low, "high": est.high, "se": est.se if math.isfinite(est.se) else None,
        "df": est.df if math.isfinite(est.df) else None, "draws": int(draws), "n": int(n),
        "draw_fraction": float(draw_fraction),
        "draw_variance": est.draw_variance if math.isfinite(est.draw_variance) else None,
        "example_variance": est.example_variance, "draw_diffs": list(est.draw_diffs),
        "a_accuracy": a_acc, "b_accuracy": b_acc, "a_label": a_label, "b_label": b_label,
    }
    return RuleOutcome(verdict, reason, rule)
