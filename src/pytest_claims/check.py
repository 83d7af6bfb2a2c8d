"""``ClaimCheck``: the object behind the ``claim_check`` fixture.

Each method judges one measurement with a rule from ``rules``, stores one JSON-safe record on the
test item (``item.user_properties``, so it travels to the xdist controller) and ends the test:
verified → returns, refuted → ``pytest.fail``, inconclusive / untestable / not run → ``pytest.skip``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from .config import ClaimsConfig
from .records import (
    INCONCLUSIVE,
    LABELS,
    NOT_RUN,
    ORDERING,
    ORDERING_SCORES,
    REFUTED,
    UNTESTABLE,
    VALUE,
    VERIFIED,
    CheckRecord,
    Measurement,
    PaperValue,
    Plan,
)

RECORD_PROPERTY = "claims_record"
RECORD_KEY = pytest.StashKey[CheckRecord]()

_STATISTICS = {"mean": "mean", "median": "median"}


def expected_refutation(item: pytest.Item) -> str | None:
    """The evidence of an established refutation: the reason of an applicable xfail(strict=True).

    String conditions (``xfail("sys.platform == 'win32'")``) are not evaluated and do not count.
    """
    for mark in item.iter_markers("xfail"):
        conditions = list(mark.args)
        if "condition" in mark.kwargs:
            conditions.append(mark.kwargs["condition"])
        if any(isinstance(c, str) for c in conditions) or (conditions and not any(conditions)):
            continue
        strict = mark.kwargs.get("strict", item.config.getini("xfail_strict"))
        if strict:
            return str(mark.kwargs.get("reason", "")) or "expected refutation (xfail strict, no reason given)"
    return None


def store(item: pytest.Item, record: CheckRecord) -> None:
    """Put ``record`` on the item, replacing an earlier one (later report phases carry the latest)."""
    data = record.to_json()  # first: a record that is not JSON-safe must not half-exist
    item.stash[RECORD_KEY] = record
    item.user_properties[:] = [p for p in item.user_properties if p[0] != RECORD_PROPERTY]
    item.user_properties.append((RECORD_PROPERTY, data))


class ClaimCheck:
    """Judge one measurement for the claim named by the test's ``claim`` marker."""

    def __init__(self, item: pytest.Item, claim_id: str, config: ClaimsConfig) -> None:
        self._item = item
        self.claim_id = claim_id
        self._config = config

    # -- the API of docs/DESIGN.md section 2 ---------------------------------------------------

    def value(self, measured: Measurement, paper: Any, tolerance: str, tier: str,
              details: Mapping[str, Any] | None = None, cannot_refute: str | None = None) -> CheckRecord:
        """Verified iff measured [low, high] (or value) overlaps paper ± tolerance band; else refuted.

        ``cannot_refute``: why this check cannot count against the claim (e.g. one side is a
        substitute biased against it); a refutation then ends inconclusive, with this text."""
        from .rules import value_rule

        self._ensure_first()
        _check_cannot_refute(cannot_refute)
        plan = self._resolve(Plan(VALUE, tier, tolerance=tolerance))
        if not isinstance(measured, Measurement):
            raise TypeError(f"measured must be a pytest_claims.Measurement, got {type(measured).__name__}")
        pv = PaperValue.of(paper)
        tol = self._config.tolerance(tolerance)
        outcome = value_rule(measured.value, measured.low, measured.high, pv.value, pv.std, tol)
        verdict, reason = _limit_refutation(outcome, cannot_refute)
        return self._finish("value", verdict, reason, tier, paper=pv, measured=measured,
                            rule=outcome.rule, details=details, plan=plan)

    def ordering(self, a, b, tier: str, margin: str | None = None, a_label: str = "A", b_label: str = "B",
                 details: Mapping[str, Any] | None = None, cannot_refute: str | None = None) -> CheckRecord:
        """"A better than B" (margin None: exact McNemar, two-sided at alpha) or "A better or
        comparable" (margin names [tool.claims.margins]: non-inferiority) on paired per-example
        correctness ``a``, ``b`` (same examples, same order). ``cannot_refute``: as for ``value``."""
        from . import rules, stats

        self._ensure_first()
        _check_cannot_refute(cannot_refute)
        plan = self._resolve(Plan(ORDERING, tier, a_label=a_label, b_label=b_label, margin=margin))
        alpha = self._config.alpha
        if margin is None:
            outcome = rules.superiority_rule(a, b, alpha, a_label, b_label)
            confidence = 1 - alpha
            diff, low, high = stats.paired_difference_interval(a, b, confidence)
        else:
            margin_value = self._config.margin(margin)
            outcome = rules.noninferiority_rule(a, b, alpha, margin_value, a_label, b_label)
            outcome.rule["margin_name"] = margin
            confidence = 1 - 2 * alpha  # the rule's interval: each bound one-sided 1 - alpha
            diff, low, high = outcome.rule["diff"], outcome.rule["low"], outcome.rule["high"]
        table = stats.paired_table(a, b)
        sides = {}
        for side, label, k in (("a", a_label, table.both + table.a_only), ("b", b_label, table.both + table.b_only)):
            lo, hi = stats.wilson_interval(k, table.n, confidence)
            sides[side] = {"label": label, "accuracy": k / table.n, "low": lo, "high": hi, "correct": k, "n": table.n}
        measured = Measurement(
            value=diff, low=low, high=high, n=table.n,
            method=f"acc({a_label}) − acc({b_label}) on the same {table.n} examples; "
                   f"Newcombe paired interval, {confidence:.0%} two-sided",
            extra={**sides, "confidence": confidence, "interval": "Newcombe (1998) hybrid score, paired",
                   "per_side_interval": "Wilson"},
        )
        verdict, reason = _limit_refutation(outcome, cannot_refute)
        return self._finish("ordering", verdict, reason, tier, measured=measured,
                            rule=outcome.rule, details=details, plan=plan)

    def ordering_scores(self, a, b, metric: Callable[..., float] | str, tier: str, margin: str | None = None,
                        a_label: str = "A", b_label: str = "B", details: Mapping[str, Any] | None = None,
                        n_resamples: int = 9999, seed: int | None = 0,
                        cannot_refute: str | None = None) -> CheckRecord:
        """Ordering on per-example scores (higher is better) by a paired bootstrap of
        metric(A) − metric(B); ``metric`` is a numpy reduction taking ``axis=`` or "mean"/"median".
        ``cannot_refute``: as for ``value``."""
        import numpy as np

        from .rules import bootstrap_ordering_rule

        self._ensure_first()
        _check_cannot_refute(cannot_refute)
        plan = self._resolve(Plan(ORDERING_SCORES, tier, a_label=a_label, b_label=b_label, margin=margin))
        statistic = getattr(np, _STATISTICS[metric]) if isinstance(metric, str) and metric in _STATISTICS else metric
        if not callable(statistic):
            raise TypeError(f"metric must be a numpy reduction (np.mean, np.median) or one of {sorted(_STATISTICS)}, got {metric!r}")
        margin_value = None if margin is None else self._config.margin(margin)
        outcome = bootstrap_ordering_rule(a, b, self._config.alpha, margin_value, a_label, b_label,
                                          statistic=statistic, n_resamples=n_resamples, seed=seed)
        if margin is not None:
            outcome.rule["margin_name"] = margin
        name = outcome.rule["statistic"]
        a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        measured = Measurement(
            value=outcome.rule["diff"], low=outcome.rule["low"], high=outcome.rule["high"], n=int(a_arr.size),
            method=f"{name}({a_label}) − {name}({b_label}) on the same {a_arr.size} examples; paired bootstrap, "
                   f"{outcome.rule['confidence_two_sided']:.0%} two-sided",
            extra={"a": {"label": a_label, name: float(statistic(a_arr)), "n": int(a_arr.size)},
                   "b": {"label": b_label, name: float(statistic(b_arr)), "n": int(b_arr.size)},
                   "confidence": outcome.rule["confidence_two_sided"]},
        )
        verdict, reason = _limit_refutation(outcome, cannot_refute)
        return self._finish("ordering_scores", verdict, reason, tier, measured=measured,
                            rule=outcome.rule, details=details, plan=plan)

    def untestable(self, reason: str, paper: Any = None, plan: Plan | None = None) -> None:
        """Can never be run with public material (e.g. a private dataset); listed with the paper's number
        and, given a ``Plan``, what the check would have checked."""
        why, paper_value, planned = _reason(reason), _paper(paper), self._resolve(plan)
        self._finish("untestable", UNTESTABLE, why, "", paper=paper_value, plan=planned)

    def not_run(self, reason: str, paper: Any = None, needs: Sequence[str] | None = None,
                plan: Plan | None = None) -> None:
        """This machine lacks something; ``reason`` says exactly what to provide. ``needs`` splits it
        into short, self-contained items (one per thing to provide), which the report groups by.
        ``plan``: what the check would have checked (kind, sides and margin or tolerance, tier)."""
        why, paper_value, needs_items, planned = _reason(reason), _paper(paper), _needs(needs), self._resolve(plan)
        self._finish("not_run", NOT_RUN, why, "", paper=paper_value, needs=needs_items, plan=planned)

    def _resolve(self, plan: Plan | None) -> Plan | None:
        """``plan`` with its margin's and tolerance's values from [tool.claims] (unknown names: an error
        listing the known ones), so the record says what the check meant with the settings of the run."""
        if plan is None:
            return None
        if not isinstance(plan, Plan):
            raise TypeError(f"plan must be a pytest_claims.Plan (kind, tier, ...), got {type(plan).__name__}")
        return dataclasses.replace(
            plan,
            margin_value=None if plan.margin is None else self._config.margin(plan.margin),
            tolerance_value=None if plan.tolerance is None else self._config.tolerance_parts(plan.tolerance),
        )

    # -- recording and ending the test ------------------------------------------------------------

    def _ensure_first(self) -> None:
        item = self._item
        if RECORD_KEY in item.stash:
            raise RuntimeError(
                f"{item.nodeid} already recorded a check ({item.stash[RECORD_KEY].kind}); a test records "
                f"exactly one — parametrize the test to record more"
            )

    def _finish(self, kind: str, verdict: str, reason: str, tier: str, *, paper: PaperValue | None = None,
                measured: Measurement | None = None, rule: Mapping | None = None,
                details: Mapping[str, Any] | None = None, needs: tuple[str, ...] = (),
                plan: Plan | None = None) -> CheckRecord:
        self._ensure_first()
        item = self._item
        record = CheckRecord(
            claim=self.claim_id, id=item.name, nodeid=item.nodeid, kind=kind, verdict=verdict,
            reason=reason, tier=str(tier or ""), expected=expected_refutation(item), paper=paper,
            measured=measured, rule=dict(rule or {}), details=dict(details or {}), needs=needs, plan=plan,
        )
        store(item, record)
        if verdict == VERIFIED:
            return record
        if verdict == REFUTED:
            where = f" [paper: {paper.source.table} / {paper.source.row} / {paper.source.column}]" if paper else ""
            pytest.fail(f"refuted ({self.claim_id}): {reason}{where}", pytrace=False)
        pytest.skip(f"{LABELS[verdict]}: {reason}")


NOT_A_REFUTATION = "not counted as a refutation"


def _check_cannot_refute(text: str | None) -> None:
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise ValueError(f"cannot_refute must be None or a non-empty reason why this check cannot refute "
                         f"the claim, got {text!r}")


def _limit_refutation(outcome, cannot_refute: str | None) -> tuple[str, str]:
    """The verdict and reason to record: a refutation by a check that cannot refute is inconclusive.

    The rule's own verdict stays in ``outcome.rule`` (``rule_verdict``), with the ``cannot_refute`` text."""
    if cannot_refute is None:
        return outcome.verdict, outcome.reason
    text = cannot_refute.strip()
    outcome.rule["rule_verdict"] = outcome.verdict
    outcome.rule["cannot_refute"] = text
    if outcome.verdict != REFUTED:
        return outcome.verdict, outcome.reason
    return INCONCLUSIVE, f"{outcome.reason}; {NOT_A_REFUTATION}: {text}"


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a reason is required: say why the check cannot run and what would make it run")
    return reason.strip()


def _needs(needs: Sequence[str] | None) -> tuple[str, ...]:
    if needs is None:
        return ()
    items = [needs] if isinstance(needs, str) else list(needs)
    if isinstance(needs, str) or not all(isinstance(n, str) and n.strip() for n in items):
        raise TypeError(f"needs must be a list of non-empty strings, one per thing to provide; got {needs!r}")
    return tuple(dict.fromkeys(n.strip() for n in items))  # each need once, in the order given


def _paper(paper: Any) -> PaperValue | None:
    return None if paper is None else PaperValue.of(paper)
