"""Orderings read off published summaries: two printed means, each with its ± and number of runs where given.

A paper's sentence ("A outperforms B on every task") can be checked against the paper's own table — a
consistency check, not a reproduction. No per-example data exists; what decides is the printed numbers:

* both sides print a spread (± over ``n`` runs): Welch's t on the summaries, d = mean(A) − mean(B), standard
  error sqrt(sd_a²/n_a + sd_b²/n_b), Welch–Satterthwaite degrees of freedom. "A better than B" (no margin):
  the two-sided (1 − α) interval above 0 → verified, below 0 → refuted, else inconclusive; "A better than or
  comparable to B" (margin m): the one-sided (1 − α) lower bound above −m → verified, the upper bound below
  −m → refuted, else inconclusive. A side printed as ± 0.00 adds nothing to the error; if neither side varies
  the comparison is as printed.
* a side prints no spread: the numbers are compared as printed. No margin: d > 0 verified, d < 0 refuted,
  d = 0 (a tie as printed) inconclusive — equal numbers show neither side ahead. Margin: d > −m verified,
  d < −m refuted, d = −m inconclusive. The reason says the comparison ignored an unknown spread.

Equality is judged to 1e-9 of the printed values (they are decimals: 90.54 − 90.54 is 0, 99.42 − 99.37 is not).

``higher_is_better=False`` (errors, costs, parameter counts): "A better than B" means A below B. The rule then
judges d = mean(B) − mean(A) by the same tests (the record's ``diff`` is that difference, ``higher_is_better``
is recorded False), and its reason reads "A below B"; each side's numbers stay as given. A mean that was not
printed (``Summary(source="computed")``, "interpolated") is never called printed in the method or reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .records import INCONCLUSIVE, REFUTED, VERIFIED, json_safe

__all__ = ["Summary", "summary_ordering_rule"]

EQUAL = 1e-9


@dataclass(frozen=True)
class Summary:
    """A published mean, with its ± (standard deviation over ``n`` runs) where printed. ``source``: how the mean
    was read off the paper, in one word the report shows beside it — "printed" (a number of the paper as it
    stands), or e.g. "interpolated" (read between printed numbers, as on a frontier): never called printed."""

    mean: float
    std: float | None = None
    n: int | None = None
    source: str = "printed"

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not math.isfinite(float(value))):
                raise ValueError(f"a summary's {name} must be a finite number, got {value!r}")
        if self.std is not None and self.std < 0:
            raise ValueError(f"a standard deviation is >= 0, got {self.std}")
        if (self.std is None) != (self.n is None) or (self.n is not None and int(self.n) < 2):
            raise ValueError(f"a spread needs both std and the number of runs (n >= 2) it is over; got std="
                             f"{self.std!r}, n={self.n!r}")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError(f"a summary's source says how its mean was read (e.g. 'printed'), got {self.source!r}")

    @classmethod
    def of(cls, value: Summary | float) -> Summary:
        return value if isinstance(value, Summary) else cls(float(value))

    @property
    def has_spread(self) -> bool:
        return self.std is not None

    def to_json(self) -> dict:
        return json_safe({"mean": self.mean, "std": self.std, "n": self.n,
                          **({} if self.source == "printed" else {"source": self.source})})

    def describe(self) -> str:
        return f"{self.mean:g}" + (f" ± {self.std:g} (n={self.n})" if self.has_spread else "")


def _outcome(verdict: str, reason: str, rule: dict):
    from .rules import RuleOutcome  # scipy is imported only by runs that judge something

    return RuleOutcome(verdict, reason, rule)


def summary_ordering_rule(a: Summary, b: Summary, alpha: float, margin: float | None = None, a_label: str = "A",
                          b_label: str = "B", higher_is_better: bool = True):
    """The verdict of "A better than B" (``margin`` None) or "A better than or comparable to B" on two printed
    summaries; returns a ``rules.RuleOutcome`` whose ``rule`` holds the difference, its interval (Welch only),
    the standard error, degrees of freedom and how it was judged. ``higher_is_better``: see above."""
    from scipy import stats as sps

    from .rules import _check_alpha, _check_margin

    a, b = Summary.of(a), Summary.of(b)
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better is True or False, got {higher_is_better!r}")
    one_sided = margin is not None
    alpha = _check_alpha(alpha, one_sided_pair=one_sided)
    m = _check_margin(margin) if one_sided else 0.0
    sign = 1.0 if higher_is_better else -1.0
    diff = sign * (a.mean - b.mean)  # > 0: A better
    if higher_is_better:
        relation = "better than" if not one_sided else "better than or comparable to"
    else:
        relation = "below" if not one_sided else "below or comparable to"
    rule = {"rule": "printed_summaries_noninferiority" if one_sided else "printed_summaries_two_sided",
            "alpha": alpha, "margin": None if not one_sided else m, "diff": diff, "low": None, "high": None,
            "a": a.to_json(), "b": b.to_json(), "a_label": a_label, "b_label": b_label}
    if not higher_is_better:  # recorded only where it applies: records of higher-is-better orderings keep their shape
        rule["higher_is_better"] = False
    said = f"{a.describe()} vs {b.describe()}, difference {diff:+.4g}" + (
        "" if higher_is_better else f" ({b_label} − {a_label}: lower is better)")
    variance = ((a.std ** 2 / a.n) + (b.std ** 2 / b.n)) if a.has_spread and b.has_spread else 0.0
    if variance > 0:
        se = math.sqrt(variance)
        parts = [(s.std ** 2 / s.n) ** 2 / (s.n - 1) for s in (a, b) if s.std > 0]
        df = variance ** 2 / sum(parts)
        quantile = float(sps.t.ppf(1 - alpha if one_sided else 1 - alpha / 2, df))
        low, high = diff - quantile * se, diff + quantile * se
        confidence = 1 - 2 * alpha if one_sided else 1 - alpha
        from .rules import refute_p_at

        tail = float(sps.t.cdf((diff + m) / se, df))  # one-sided p of "A worse than B by more than m"
        rule.update({"method": "Welch t on the printed means, stds and run counts", "se": se, "df": df,
                     "low": low, "high": high, "confidence_two_sided": confidence,
                     "refute_p": refute_p_at(min(1.0, tail if one_sided else 2 * tail), high < 0.0 - m, alpha)})
        interval = f"{confidence:.0%} interval [{low:+.4g}, {high:+.4g}] (Welch, df={df:.1f})"
        threshold = 0.0 - m  # never -0.0 in a reason
        if low > threshold:
            return _outcome(VERIFIED, f"{said}, {interval} above {threshold:+.4g}: {a_label} {relation} {b_label}",
                            rule)
        if high < threshold:
            return _outcome(REFUTED, f"{said}, {interval} below {threshold:+.4g}: {a_label} is not {relation} "
                                     f"{b_label}", rule)
        return _outcome(INCONCLUSIVE, f"{said}, {interval} includes {threshold:+.4g}: the printed spread does not "
                                      f"decide whether {a_label} is {relation} {b_label}", rule)
    missing = [label for label, s in ((a_label, a), (b_label, b)) if not s.has_spread]
    sources = " and ".join(dict.fromkeys((a.source, b.source)))  # an interpolated mean is never called printed
    said_as = "printed" if sources == "printed" else "given"
    spread = f"no ± {said_as}" if len(missing) == 2 else (f"no ± {said_as} for {missing[0]}" if missing
                                                          else f"both {said_as} with ± 0")
    method = ("printed means compared as printed" if sources == "printed" else
              f"{sources} means compared as they stand")
    # as printed there is no sampling error to correct for: refute_p None (a refutation counts as it stands)
    rule.update({"method": f"{method} (no spread to judge with)", "as_printed": True, "refute_p": None})
    threshold = 0.0 - m
    if abs(diff - threshold) <= EQUAL:
        tie = f"equal as {said_as}" if not one_sided else f"exactly at −margin ({threshold:+.4g}) as {said_as}"
        return _outcome(INCONCLUSIVE, f"{said} ({spread}): {tie}, which shows neither {a_label} {relation} "
                                      f"{b_label} nor the opposite", rule)
    if diff > threshold:
        return _outcome(VERIFIED, f"{said} ({spread}): {a_label} {relation} {b_label}", rule)
    return _outcome(REFUTED, f"{said} ({spread}): {a_label} is not {relation} {b_label}", rule)
