"""Small-sample statistics the verdict rules are built on.

Everything here is a pure function of its inputs (numpy / scipy only). Accuracies are proportions
in [0, 1]; paired inputs are per-example results of two systems A and B on the *same* examples in
the *same* order.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import stats as _sps

__all__ = [
    "Interval",
    "McNemarResult",
    "PairedInterval",
    "PairedTable",
    "holm_adjusted",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_bootstrap_test",
    "paired_difference_interval",
    "paired_table",
    "wilson_interval",
]


class Interval(NamedTuple):
    low: float
    high: float


class PairedInterval(NamedTuple):
    """A point estimate of a paired difference (A minus B) and its confidence interval."""

    diff: float
    low: float
    high: float


class PairedTable(NamedTuple):
    """The paired 2x2 table of per-example correctness."""

    both: int  # A right, B right
    a_only: int  # A right, B wrong (McNemar's b)
    b_only: int  # A wrong, B right (McNemar's c)
    neither: int  # A wrong, B wrong

    @property
    def n(self) -> int:
        return self.both + self.a_only + self.b_only + self.neither


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test. ``b``: A right & B wrong; ``c``: A wrong & B right; ``n``: all pairs."""

    b: int
    c: int
    n: int
    p_value: float


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95), got {confidence}")
    return confidence


def _as_binary(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of per-example correctness, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a verdict needs at least one evaluated example")
    if arr.dtype == bool:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold booleans or 0/1, got dtype {arr.dtype}")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        raise ValueError(
            f"{name} must be binary (bool or 0/1 per example); found {arr[bad][:5].tolist()} "
            f"at positions {np.flatnonzero(bad)[:5].tolist()}"
        )
    return arr.astype(bool)


def _as_pair(a, b, kind: str, a_name: str = "a", b_name: str = "b") -> tuple[np.ndarray, np.ndarray]:
    if kind == "binary":
        a_arr, b_arr = _as_binary(a, a_name), _as_binary(b, b_name)
    else:
        a_arr, b_arr = _as_scores(a, a_name), _as_scores(b, b_name)
    if a_arr.shape != b_arr.shape:
        raise ValueError(
            f"paired data need equal lengths (same examples, same order): "
            f"{a_name} has {a_arr.size}, {b_name} has {b_arr.size}"
        )
    return a_arr, b_arr


def _as_scores(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of per-example scores, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a verdict needs at least one evaluated example")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite scores at {np.flatnonzero(~np.isfinite(arr))[:5].tolist()}")
    return arr


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion k/n (Wilson 1927; Newcombe 1998, method 3).

    Unlike the Wald interval it stays inside [0, 1] and keeps close to nominal coverage for small n
    and proportions near 0 or 1, which is where test-set accuracies of strong models live.
    """
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
        raise ValueError(f"k and n must be whole counts, got k={k!r}, n={n!r}")
    k, n = int(k), int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1 (no examples, no interval), got n={n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must lie in [0, n]; got k={k}, n={n}")
    ci = _sps.binomtest(k, n).proportion_ci(confidence_level=_check_confidence(confidence), method="wilson")
    return Interval(float(ci.low), float(ci.high))


def paired_table(a_correct, b_correct) -> PairedTable:
    """Counts of the paired 2x2 table of two per-example correctness vectors."""
    a, b = _as_pair(a_correct, b_correct, "binary", "a_correct", "b_correct")
    return PairedTable(
        both=int(np.sum(a & b)),
        a_only=int(np.sum(a & ~b)),
        b_only=int(np.sum(~a & b)),
        neither=int(np.sum(~a & ~b)),
    )


def mcnemar_exact(a_correct, b_correct) -> McNemarResult:
    """Exact (conditional) McNemar test of equal accuracy on paired examples.

    Under equal accuracy the discordant pairs split as Binomial(b + c, 1/2); the p-value is scipy's
    exact two-sided binomial test of b out of b + c. With no discordant pairs there is no evidence
    either way and p = 1.
    """
    t = paired_table(a_correct, b_correct)
    m = t.a_only + t.b_only
    p = 1.0 if m == 0 else float(_sps.binomtest(t.a_only, m, 0.5, alternative="two-sided").pvalue)
    return McNemarResult(b=t.a_only, c=t.b_only, n=t.n, p_value=min(p, 1.0))


def paired_difference_interval(a_correct, b_correct, confidence: float = 0.95) -> PairedInterval:
    """acc(A) - acc(B) on paired binary data with Newcombe's hybrid score interval.

    Method: Newcombe (1998), "Improved confidence intervals for the difference between binomial
    proportions based on paired data", Stat Med 17:2635, method 10 — the square-and-add (MOVER)
    combination of the two marginal Wilson intervals, corrected for the pairing by the
    continuity-corrected phi coefficient, as given in Fagerland, Lydersen & Laake (2017),
    *Statistical Analysis of Contingency Tables*, ch. 8. Closed form, always inside [-1, 1], always
    contains the point estimate, and keeps close to nominal coverage down to small n, where the
    Wald interval does not (Newcombe 1998; Fagerland et al. 2014, Stat Methods Med Res).
    """
    confidence = _check_confidence(confidence)
    t = paired_table(a_correct, b_correct)
    n = t.n
    ka, kb = t.both + t.a_only, t.both + t.b_only
    p1, p2 = ka / n, kb / n
    l1, u1 = wilson_interval(ka, n, confidence)
    l2, u2 = wilson_interval(kb, n, confidence)

    # Correlation of the two marginals; shrunk towards 0 by n/2 when positive (Newcombe's
    # continuity correction), 0 when a margin is empty.
    margins = (t.both + t.a_only) * (t.b_only + t.neither) * (t.both + t.b_only) * (t.a_only + t.neither)
    if margins == 0:
        phi = 0.0
    else:
        cross = t.both * t.neither - t.a_only * t.b_only
        if cross > n / 2:
            cross -= n / 2
        elif cross >= 0:
            cross = 0.0
        phi = cross / math.sqrt(margins)

    diff = p1 - p2
    lower_gap = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    upper_gap = math.sqrt(max((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2, 0.0))
    return PairedInterval(diff, max(-1.0, diff - lower_gap), min(1.0, diff + upper_gap))


def paired_bootstrap(
    a_scores,
    b_scores,
    statistic: Callable[..., float] = np.mean,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> PairedInterval:
    """statistic(A) - statistic(B) with a paired bootstrap interval (scipy.stats.bootstrap, BCa).

    Pairs (a_i, b_i) are resampled together, which keeps the per-example correlation between the
    two systems. ``statistic`` must be a numpy-style reduction accepting ``axis=`` (np.mean,
    np.median, ...). BCa is used; when it is undefined (a degenerate jackknife, e.g. a median that no
    single deletion moves) the percentile interval is used instead. If every pair is identical the
    bootstrap distribution is a point and the interval is that point.
    """
    return paired_bootstrap_test(a_scores, b_scores, None, statistic, n_resamples, confidence, seed)[0]


def paired_bootstrap_test(
    a_scores,
    b_scores,
    threshold: float | None,
    statistic: Callable[..., float] = np.mean,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> tuple[PairedInterval, float | None]:
    """``paired_bootstrap``'s interval and, for ``threshold`` t, the one-sided level at which its upper bound
    would equal t: the BCa interval inverted (Efron & Tibshirani 1993, 14.3) on the same bootstrap
    distribution. With G the share of the distribution below t (scipy's "mean" percentile of score), z0 the
    bias correction and a the acceleration, the upper (1 - p) bound equals t when
    p = Φ(z0 - w / (1 + a·w)), w = Φ⁻¹(G) - z0 (a = z0 = 0 where the percentile interval was used). The upper
    bound lies below t at one-sided level α iff p < α, up to the interpolation between bootstrap values."""
    confidence = _check_confidence(confidence)
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive whole number, got {n_resamples!r}")
    a, b = _as_pair(a_scores, b_scores, "scores", "a_scores", "b_scores")
    if a.size < 2:
        raise ValueError("a paired bootstrap needs at least 2 pairs; got 1")
    diff = float(statistic(a) - statistic(b))
    if np.all(a == a[0]) and np.all(b == b[0]):
        p = None if threshold is None else (0.0 if diff < threshold else 1.0)
        return PairedInterval(diff, diff, diff), p

    def difference(x, y, axis=-1):
        return statistic(x, axis=axis) - statistic(y, axis=axis)

    # Bound memory: scipy materialises batch x n resampled values per array.
    batch = max(1, min(int(n_resamples), 2_000_000 // a.size))
    common = {
        "paired": True, "vectorized": True, "n_resamples": int(n_resamples), "batch": batch,
        "confidence_level": confidence, "rng": np.random.default_rng(seed),
    }
    bca = True
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", _sps.DegenerateDataWarning)
        res = _sps.bootstrap((a, b), difference, method="BCa", **common)
        ci = res.confidence_interval
        if not (np.isfinite(ci.low) and np.isfinite(ci.high)):
            bca = False
            common["rng"] = np.random.default_rng(seed)
            res = _sps.bootstrap((a, b), difference, method="percentile", **common)
            ci = res.confidence_interval
    low, high = float(ci.low), float(ci.high)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("paired bootstrap interval is undefined for these scores (degenerate resamples)")
    if threshold is None:
        return PairedInterval(diff, low, high), None
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    B = dist.size

    def share_below(x: float) -> float:  # scipy's percentile of score, kind "mean"
        return float((np.count_nonzero(dist < x) + np.count_nonzero(dist <= x)) / (2 * B))

    z0 = acc = 0.0
    if bca:
        z0 = float(_sps.norm.ppf(share_below(diff)))
        acc = _jackknife_acceleration(a, b, statistic)
    g = min(max(share_below(float(threshold)), 0.5 / B), 1 - 0.5 / B)
    w = float(_sps.norm.ppf(g)) - z0
    denom = 1.0 + acc * w
    p = float(_sps.norm.cdf(z0 - w / denom)) if denom > 0 else (1.0 if w < 0 else 0.0)
    return PairedInterval(diff, low, high), p


def _jackknife_acceleration(a: np.ndarray, b: np.ndarray, statistic: Callable[..., float]) -> float:
    """BCa's acceleration of statistic(A) - statistic(B) over the paired leave-one-out values (as scipy's)."""
    n = a.size
    if statistic is np.mean:
        theta = (a.sum() - a) / (n - 1) - (b.sum() - b) / (n - 1)
    else:
        theta = np.empty(n)
        step = max(1, 2_000_000 // n)
        for k in range(0, n, step):
            rows = np.arange(k, min(n, k + step))
            keep = np.ones((rows.size, n), dtype=bool)
            keep[np.arange(rows.size), rows] = False
            theta[rows] = statistic(a[None, :].repeat(rows.size, 0)[keep].reshape(rows.size, n - 1), axis=-1) - \
                statistic(b[None, :].repeat(rows.size, 0)[keep].reshape(rows.size, n - 1), axis=-1)
    u = (n - 1) * (theta.mean() - theta)
    den = 6.0 * (np.sum(u ** 2) / n ** 2) ** 1.5
    return float(np.sum(u ** 3) / n ** 3 / den) if den > 0 else 0.0


def holm_adjusted(p_values) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values, in the order given.

    With p_(1) <= ... <= p_(m) sorted, the adjusted p_(k) is max over j <= k of min(1, (m - j + 1)·p_(j)); the
    hypothesis of rank k is rejected at family-wise level α iff its adjusted p-value is below α — i.e. iff
    p_(j) < α / (m - j + 1) for every j <= k (the step-down stops at the first that is not). Ties keep their
    order; the adjusted values do not depend on it.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    if p.size and (not np.isfinite(p).all() or (p < 0).any() or (p > 1).any()):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(scaled)
    return out
