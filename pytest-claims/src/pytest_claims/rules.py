"""Verdict rules: pure functions from a measurement (and the paper's number) to a verdict.

Each rule returns a :class:`RuleOutcome` whose ``rule`` dict is JSON-safe and holds everything that
decided the verdict (tolerance, accepted band, alpha, margin, p-value, counts), so a report can show
*why* without re-running anything.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from . import stats
from .records import ERROR, INCONCLUSIVE, LABELS, NOT_RUN, REFUTED, UNTESTABLE, VERIFIED
from .records import VERDICTS as CHECK_VERDICTS

__all__ = [
    "CHECK_VERDICTS",
    "CLAIM_VERDICTS",
    "RuleOutcome",
    "Tolerance",
    "aggregate_claim",
    "bootstrap_ordering_rule",
    "noninferiority_rule",
    "superiority_rule",
    "value_rule",
]

RULE_VERDICTS = (VERIFIED, REFUTED, INCONCLUSIVE)
CLAIM_VERDICTS = CHECK_VERDICTS  # a claim's verdict is one of its checks' verdicts (aggregate_claim)

# Paper numbers come from decimal text and are not exact in binary floating point; a measurement
# sitting exactly on the edge of the accepted band must not flip verdict on the last bit.
_EDGE_RTOL = 1e-9


@dataclass(frozen=True)
class RuleOutcome:
    verdict: str
    reason: str
    rule: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in RULE_VERDICTS:
            raise ValueError(f"verdict must be one of {RULE_VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Tolerance:
    """Accepted distance from the paper's value: ``abs + rel * |paper| + sigmas * paper_std + digits * unit``,
    where ``unit`` is one unit of the paper value's last printed digit (10^-decimals: 0.01 for 0.27, 1 for 18);
    ``digits = 0.5`` accepts what rounds to the printed number."""

    name: str
    abs: float = 0.0
    rel: float = 0.0
    sigmas: float = 0.0
    digits: float = 0.0

    def __post_init__(self) -> None:
        for part in ("abs", "rel", "sigmas", "digits"):
            v = getattr(self, part)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(
                    f"tolerance {self.name!r}: {part} must be a finite number >= 0, got {v!r} "
                    f"(check [tool.claims.tolerances] in pyproject.toml)"
                )
            object.__setattr__(self, part, float(v))

    def band(self, paper: float, paper_std: float | None = None, decimals: int | None = None) -> float:
        band = self.abs + self.rel * math.fabs(paper) + self.sigmas * (paper_std or 0.0)
        if self.digits:
            if decimals is None:
                raise ValueError(f"tolerance {self.name!r} counts units of the paper's last printed digit (digits = "
                                 f"{_fmt(self.digits)}), but this paper value does not say how many decimals were "
                                 f"printed: load it with pytest_claims.paper.load_numbers, or give it ``decimals``")
            band += self.digits * 10.0 ** -decimals
        return band

    def describe(self) -> str:
        parts = [f"abs {_fmt(self.abs)}"] if self.abs or not (self.rel or self.sigmas or self.digits) else []
        if self.rel:
            parts.append(f"rel {_fmt(self.rel)}·|paper|")
        if self.sigmas:
            parts.append(f"{_fmt(self.sigmas)}·paper std")
        if self.digits:
            parts.append(f"{_fmt(self.digits)}·last printed digit")
        return f"tolerance '{self.name}': " + " + ".join(parts)

    def to_dict(self) -> dict:
        out = asdict(self)
        if not self.digits:  # tolerances without it keep their recorded shape
            del out["digits"]
        return out


def _fmt(x: float | None) -> str:
    if x is None:
        return "None"
    x = float(x)
    if x.is_integer() and math.fabs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _finite(x, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} is {v}: a verdict is never produced from a missing or undefined value")
    return v


def _check_alpha(alpha: float, one_sided_pair: bool = False) -> float:
    alpha = float(alpha)
    upper = 0.5 if one_sided_pair else 1.0
    if not 0.0 < alpha < upper:
        raise ValueError(f"alpha must lie strictly between 0 and {upper}, got {alpha}")
    return alpha


def _check_margin(margin) -> float:
    m = _finite(margin, "margin")
    if m < 0:
        raise ValueError(f"margin is how much worse still counts as comparable and must be >= 0, got {m}")
    return m


def _le(x: float, y: float) -> bool:
    """x <= y, forgiving a last-bit difference."""
    return x <= y or math.isclose(x, y, rel_tol=_EDGE_RTOL, abs_tol=0.0)


def refute_p_at(p: float, refuted: bool, alpha: float) -> float:
    """A rule's refutation p-value, agreeing with its own verdict at ``alpha``: below ``alpha`` iff the rule
    refuted. The p-value comes from inverting the rule's interval, and a root or bootstrap share can land a
    last bit on the wrong side of ``alpha`` where the interval's bound sits on the threshold."""
    p = min(max(float(p), 0.0), 1.0)
    if refuted and p >= alpha:
        return math.nextafter(alpha, 0.0)
    if not refuted and p < alpha:
        return alpha
    return p


def value_rule(
    measured: float,
    low: float | None,
    high: float | None,
    paper: float,
    paper_std: float | None,
    tolerance: Tolerance,
    paper_decimals: int | None = None,
) -> RuleOutcome:
    """Verified iff the measured interval [low, high] (the value when there is none) overlaps
    [paper - band, paper + band] with band = abs + rel·|paper| + sigmas·paper_std + digits·10^-paper_decimals;
    else refuted.
    """
    m = _finite(measured, "measured value")
    p = _finite(paper, "paper value")
    std = None if paper_std is None else _finite(paper_std, "paper std")
    if std is not None and std < 0:
        raise ValueError(f"paper std must be >= 0, got {std}")
    if (low is None) != (high is None):
        raise ValueError("give both low and high of the measured interval, or neither")
    if low is None:
        lo = hi = m
    else:
        lo, hi = _finite(low, "measured low"), _finite(high, "measured high")
        if not lo <= m <= hi:
            raise ValueError(f"measured interval [{lo}, {hi}] does not contain the measured value {m}")
    band = tolerance.band(p, std, paper_decimals)
    accept_lo, accept_hi = p - band, p + band
    inside = _le(lo, accept_hi) and _le(accept_lo, hi)

    shown = _fmt(m) if low is None else f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"
    paper_shown = _fmt(p) if std is None else f"{_fmt(p)} ± {_fmt(std)}"
    where = "within" if inside else "outside"
    reason = (
        f"measured {shown} vs paper {paper_shown}: {where} paper ± {_fmt(band)} ({tolerance.describe()})"
    )
    rule = {
        "rule": "value_within_tolerance",
        "tolerance": tolerance.to_dict(),
        "band": band,
        "accepted": [accept_lo, accept_hi],
        "measured": [lo, hi],
        "paper": p,
        "paper_std": std,
        "refute_p": None,  # a band, not a test at α: its refutation is not corrected across a claim
    }
    return RuleOutcome(VERIFIED if inside else REFUTED, reason, rule)


def superiority_rule(
    a_correct, b_correct, alpha: float, a_label: str = "A", b_label: str = "B"
) -> RuleOutcome:
    """"A better than B" on paired per-example correctness: exact McNemar test, two-sided at alpha.

    p < alpha: verified if A wins more discordant pairs, refuted if B does; otherwise inconclusive.
    """
    alpha = _check_alpha(alpha)
    t = stats.paired_table(a_correct, b_correct)
    res = stats.mcnemar_exact(a_correct, b_correct)
    if res.p_value < alpha:
        verdict = VERIFIED if res.b > res.c else REFUTED
        outcome = f"{a_label} better than {b_label}" if verdict == VERIFIED else f"{b_label} better than {a_label}"
        test = f"p={res.p_value:.3g} < α={_fmt(alpha)}: {outcome}"
    else:
        verdict = INCONCLUSIVE
        test = f"p={res.p_value:.3g} ≥ α={_fmt(alpha)}: no significant difference"
    reason = (
        f"accuracy {a_label} {t.both + t.a_only}/{t.n} vs {b_label} {t.both + t.b_only}/{t.n}; "
        f"{a_label} alone right on {res.b}, {b_label} alone right on {res.c}; exact McNemar two-sided {test}"
    )
    rule = {
        "rule": "mcnemar_exact_two_sided",
        "alpha": alpha,
        "p_value": res.p_value,
        "n": t.n,
        "a_only": res.b,
        "b_only": res.c,
        "both": t.both,
        "neither": t.neither,
        "a_accuracy": (t.both + t.a_only) / t.n,
        "b_accuracy": (t.both + t.b_only) / t.n,
        "a_label": a_label,
        "b_label": b_label,
        # the refutation's p-value: the two-sided p where B won more discordant pairs, else 1
        "refute_p": refute_p_at(res.p_value if res.c > res.b else 1.0, verdict == REFUTED, alpha),
    }
    return RuleOutcome(verdict, reason, rule)


def _interval_decision(low: float, high: float, threshold: float) -> str:
    if low > threshold:
        return VERIFIED
    if high < threshold:
        return REFUTED
    return INCONCLUSIVE


def noninferiority_rule(
    a_correct, b_correct, alpha: float, margin: float, a_label: str = "A", b_label: str = "B"
) -> RuleOutcome:
    """"A better than or comparable to B": non-inferiority of accuracy with a margin (fraction of 1).

    With [low, high] the two-sided (1 - 2α) Newcombe interval of acc(A) - acc(B) (so each bound is a
    one-sided 1 - α bound): low > -margin → verified; high < -margin → refuted (A is worse by more
    than the margin); otherwise inconclusive.
    """
    alpha = _check_alpha(alpha, one_sided_pair=True)
    margin = _check_margin(margin)
    t = stats.paired_table(a_correct, b_correct)
    diff, low, high = stats.paired_difference_interval(a_correct, b_correct, confidence=1 - 2 * alpha)
    verdict = _interval_decision(low, high, -margin)
    rel = {VERIFIED: "lower bound > −margin: {a} not worse than {b} by more than the margin",
           REFUTED: "upper bound < −margin: {a} worse than {b} by more than the margin",
           INCONCLUSIVE: "interval straddles −margin: cannot tell"}[verdict].format(a=a_label, b=b_label)
    reason = (
        f"acc({a_label}) − acc({b_label}) = {diff:+.4f}, one-sided {_fmt(100 * (1 - alpha))} % bounds "
        f"[{low:+.4f}, {high:+.4f}] (Newcombe hybrid score, n={t.n}) vs margin {_fmt(margin)}: {rel}"
    )
    rule = {
        "rule": "noninferiority_newcombe",
        "interval": "Newcombe (1998) hybrid score, paired",
        "alpha": alpha,
        "margin": margin,
        "confidence_two_sided": 1 - 2 * alpha,
        "diff": diff,
        "low": low,
        "high": high,
        "n": t.n,
        "a_only": t.a_only,
        "b_only": t.b_only,
        "a_accuracy": (t.both + t.a_only) / t.n,
        "b_accuracy": (t.both + t.b_only) / t.n,
        "a_label": a_label,
        "b_label": b_label,
        "refute_p": refute_p_at(_newcombe_refute_p(a_correct, b_correct, diff, margin), verdict == REFUTED, alpha),
    }
    return RuleOutcome(verdict, reason, rule)


_P_FLOOR = 1e-15  # below this a confidence of 1 - 2p is 1 in floating point


def _newcombe_refute_p(a_correct, b_correct, diff: float, margin: float) -> float:
    """The one-sided level p at which the Newcombe upper bound equals −margin (the bound of the two-sided
    1 − 2p interval): the p-value of "A worse than B by more than the margin". 1 where diff ≥ −margin (no
    bound can fall below it)."""
    from scipy.optimize import brentq

    if diff >= -margin:
        return 1.0

    def gap(p: float) -> float:
        return stats.paired_difference_interval(a_correct, b_correct, confidence=1 - 2 * p).high + margin

    if gap(_P_FLOOR) < 0:
        return _P_FLOOR
    if gap(0.5 - 1e-12) >= 0:  # diff sits on −margin to the last bits: no evidence either way
        return 0.5
    return float(brentq(gap, _P_FLOOR, 0.5 - 1e-12, xtol=1e-14, rtol=1e-12))


def bootstrap_ordering_rule(
    a_scores,
    b_scores,
    alpha: float,
    margin: float | None = None,
    a_label: str = "A",
    b_label: str = "B",
    statistic: Callable[..., float] = np.mean,
    n_resamples: int = 9999,
    seed: int | None = 0,
    min_pairs: int = 10,
) -> RuleOutcome:
    """Ordering of A and B on a per-example score (higher is better; negate losses) by a paired
    bootstrap interval of statistic(A) - statistic(B).

    margin None — "A better than B": two-sided (1 - α) interval; low > 0 → verified, high < 0 →
    refuted. margin m — "A better or comparable": two-sided (1 - 2α) interval; low > -m → verified,
    high < -m → refuted. Otherwise inconclusive. Below ``min_pairs`` pairs the verdict is
    inconclusive: bootstrap intervals badly under-cover on a handful of points.
    """
    one_sided = margin is not None
    alpha = _check_alpha(alpha, one_sided_pair=one_sided)
    m = _check_margin(margin) if one_sided else 0.0
    confidence = 1 - 2 * alpha if one_sided else 1 - alpha
    stat_name = getattr(statistic, "__name__", repr(statistic))
    a_arr, b_arr = stats._as_pair(a_scores, b_scores, "scores", "a_scores", "b_scores")
    rule = {
        "rule": "paired_bootstrap_noninferiority" if one_sided else "paired_bootstrap_two_sided",
        "interval": "scipy.stats.bootstrap paired BCa (percentile where BCa is undefined)",
        "statistic": stat_name,
        "alpha": alpha,
        "margin": margin if margin is None else m,
        "confidence_two_sided": confidence,
        "n": int(a_arr.size),
        "n_resamples": int(n_resamples),
        "seed": seed,
        "min_pairs": int(min_pairs),
        "a_label": a_label,
        "b_label": b_label,
    }
    if a_arr.size < min_pairs:
        diff = float(statistic(a_arr) - statistic(b_arr))
        rule.update(diff=diff, low=None, high=None, refute_p=1.0)
        return RuleOutcome(
            INCONCLUSIVE,
            f"{stat_name}({a_label}) − {stat_name}({b_label}) = {diff:+.4g} on only {a_arr.size} pairs "
            f"(< {min_pairs}): too few for a bootstrap interval",
            rule,
        )
    (diff, low, high), tail = stats.paired_bootstrap_test(
        a_arr, b_arr, -m, statistic=statistic, n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    verdict = _interval_decision(low, high, -m)
    refute_p = refute_p_at(min(1.0, tail if one_sided else 2 * tail), verdict == REFUTED, alpha)
    threshold = f"−margin {_fmt(m)}" if one_sided else "0"
    rel = {VERIFIED: f"lower bound > {threshold}: "
                     + (f"{a_label} not worse than {b_label} by more than the margin" if one_sided
                        else f"{a_label} better than {b_label}"),
           REFUTED: f"upper bound < {threshold}: "
                    + (f"{a_label} worse than {b_label} by more than the margin" if one_sided
                       else f"{b_label} better than {a_label}"),
           INCONCLUSIVE: f"interval contains {threshold}: cannot tell"}[verdict]
    bounds = f"one-sided {_fmt(100 * (1 - alpha))} % bounds" if one_sided else f"{_fmt(100 * confidence)} % interval"
    reason = (
        f"{stat_name}({a_label}) − {stat_name}({b_label}) = {diff:+.4g}, {bounds} [{low:+.4g}, {high:+.4g}] "
        f"(paired bootstrap, n={a_arr.size}): {rel}"
    )
    rule.update(diff=diff, low=low, high=high, refute_p=refute_p)
    return RuleOutcome(verdict, reason, rule)


def _breakdown(counts: Counter, skip: Sequence[str] = ()) -> str:
    return ", ".join(f"{counts[v]} {LABELS[v]}" for v in CHECK_VERDICTS if counts[v] and v not in skip)


def aggregate_claim(verdicts: Sequence[str]) -> tuple[str, str]:
    """A claim's verdict from its checks' verdicts, applied in this order:

    1. **refuted** if any check is refuted;
    2. **error** if any check errored (and none is refuted);
    3. **untestable** if every check is untestable (or there are none that are not);
    4. **verified** if every check that is not untestable is verified (at least one is);
    5. **not run** if none of the testable checks was decided (all not run, or no checks at all);
    6. **inconclusive** otherwise, e.g. "3 of 7 testable checks verified; 2 inconclusive, 2 not run".

    Untestable checks (material that will never be public) neither help nor hurt a claim; a claim
    with no checks at all is "not run".
    """
    unknown = sorted({v for v in verdicts if v not in CHECK_VERDICTS})
    if unknown:
        raise ValueError(f"unknown check verdict(s) {unknown}; expected one of {CHECK_VERDICTS}")
    counts = Counter(verdicts)
    total = len(verdicts)
    testable = total - counts[UNTESTABLE]
    untestable_note = f" ({counts[UNTESTABLE]} untestable)" if counts[UNTESTABLE] else ""

    if total == 0:
        return NOT_RUN, "no checks recorded for this claim"
    if counts[REFUTED]:
        return REFUTED, f"{counts[REFUTED]} of {_checks(total)} refuted{_others(counts, REFUTED)}"
    if counts[ERROR]:
        return ERROR, f"{counts[ERROR]} of {_checks(total)} errored{_others(counts, ERROR)}"
    if testable == 0:
        return UNTESTABLE, f"all {_checks(total)} untestable" if total != 1 else "its one check untestable"
    if counts[VERIFIED] == testable:
        return VERIFIED, (f"all {_checks(testable, 'testable')} verified" if testable != 1 else
                          "its one testable check verified") + untestable_note
    if counts[NOT_RUN] == testable:
        return NOT_RUN, (f"none of {_checks(testable, 'testable')} was run" if testable != 1 else
                         "its one testable check was not run") + untestable_note
    rest = _breakdown(counts, skip=(VERIFIED, UNTESTABLE))
    return INCONCLUSIVE, f"{counts[VERIFIED]} of {_checks(testable, 'testable')} verified; {rest}{untestable_note}"


def _others(counts: Counter, verdict: str) -> str:
    """" (2 verified, 1 not run)": the other verdicts, or nothing where there are none (never "()")."""
    rest = _breakdown(counts, skip=(verdict,))
    return f" ({rest})" if rest else ""


def _checks(n: int, adjective: str = "") -> str:
    """"1 check", "3 testable checks": a count with its noun in the number it takes."""
    return " ".join(filter(None, (str(n), adjective, "check" if n == 1 else "checks")))
