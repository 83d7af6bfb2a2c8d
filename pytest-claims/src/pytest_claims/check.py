"""``ClaimCheck``: the object behind the ``claim_check`` fixture.

Each method judges one measurement with a rule from ``rules``, stores one JSON-safe record on the
test item (``item.user_properties``, so it travels to the xdist controller) and ends the test:
verified → returns, refuted → ``pytest.fail``, inconclusive / untestable / not run → ``pytest.skip``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

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
              details: Mapping[str, Any] | None = None, cannot_refute: str | None = None,
              cannot_verify: str | None = None, references: Sequence[Mapping[str, Any]] | None = None,
              plan: Plan | None = None) -> CheckRecord:
        """Verified iff measured [low, high] (or value) overlaps paper ± tolerance band; else refuted.

        ``cannot_refute``: why this check cannot count against the claim (e.g. one side is a
        substitute biased against it); a refutation then ends inconclusive, with this text.
        ``cannot_verify``: the mirror — why it cannot count for the claim (evidence biased in its
        favour); a verification then ends inconclusive. ``references``: independent measurements of
        the same quantity (``{"source", "value", "setting", ...}``), recorded beside the paper's value,
        never judged. ``plan``: what the check checks (`Plan` with a description; its kind and tolerance must
        match the call's) — every judging method takes it, so a decided record states what it checks as a
        not-run one does."""
        from .rules import value_rule

        self._ensure_first()
        _check_limits(cannot_refute, cannot_verify)
        refs = _references(references)
        plan = self._resolve(_planned(plan, Plan(VALUE, tier, tolerance=tolerance)))
        if not isinstance(measured, Measurement):
            raise TypeError(f"measured must be a pytest_claims.Measurement, got {type(measured).__name__}")
        pv = PaperValue.of(paper)
        tol = self._config.tolerance(tolerance)
        outcome = value_rule(measured.value, measured.low, measured.high, pv.value, pv.std, tol, pv.decimals)
        verdict, reason = _limit(outcome, cannot_refute, cannot_verify)
        return self._finish("value", verdict, reason, tier, paper=pv, measured=measured,
                            rule=outcome.rule, details=details, plan=plan, references=refs)

    def value_readings(self, readings: Mapping[str, float], paper: Any, tolerance: str, tier: str, method: str = "",
                       details: Mapping[str, Any] | None = None, cannot_refute: str | None = None,
                       cannot_verify: str | None = None, references: Sequence[Mapping[str, Any]] | None = None,
                       plan: Plan | None = None) -> CheckRecord:
        """A value check (recorded as kind "value") on a set of discrete readings of one quantity — the number
        under each reading the paper leaves open (which layers count, which variant) — verified iff some reading
        lies within paper ± tolerance band, else refuted: no reading reproduces the paper's number. Not an
        interval: readings 3.50 and 4.09 do not verify 3.8 ± 0.05. The measurement recorded is the reading
        closest to the paper's value (the one judged; a verification says only that *some* reading fits), with
        every reading, its distance to the paper and those inside the band in ``measured.extra``. ``method``: how
        each reading was measured; the rest as for ``value``."""
        import math

        if not isinstance(readings, Mapping) or not readings:
            raise TypeError(f"readings must be a non-empty mapping of reading name -> value, got {readings!r}")
        values = {}
        for name, v in readings.items():
            if not isinstance(name, str) or not name.strip() or isinstance(v, bool) or not isinstance(
                    v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"each reading is a name and a finite number, got {name!r}: {v!r}")
            values[name] = float(v)
        from .rules import value_rule

        pv, tol = PaperValue.of(paper), self._config.tolerance(tolerance)
        inside = [name for name, v in values.items()  # each reading as its own point measurement, by the same rule
                  if value_rule(v, None, None, pv.value, pv.std, tol, pv.decimals).verdict == VERIFIED]
        distance = {name: abs(v - pv.value) for name, v in values.items()}
        closest = min(values, key=lambda name: distance[name])  # inside the band iff any reading is
        said = f"{method}; " if method else ""
        measured = Measurement(values[closest], method=f"{said}the closest to the paper of {len(values)} readings: "
                                                       f"{closest}",
                               extra={"readings": values, "closest": closest, "distance": distance,
                                      "inside": inside})
        return self.value(measured, paper, tolerance, tier, details=details, cannot_refute=cannot_refute,
                          cannot_verify=cannot_verify, references=references, plan=plan)

    def ordering(self, a, b, tier: str, margin: str | None = None, a_label: str = "A", b_label: str = "B",
                 details: Mapping[str, Any] | None = None, cannot_refute: str | None = None,
                 cannot_verify: str | None = None, plan: Plan | None = None) -> CheckRecord:
        """"A better than B" (margin None: exact McNemar, two-sided at alpha) or "A better or
        comparable" (margin names [tool.claims.margins]: non-inferiority) on paired per-example
        correctness ``a``, ``b`` (same examples, same order). ``cannot_refute``, ``cannot_verify``, ``plan``: as
        for ``value``."""
        from . import rules, stats

        self._ensure_first()
        _check_limits(cannot_refute, cannot_verify)
        plan = self._resolve(_planned(plan, Plan(ORDERING, tier, a_label=a_label, b_label=b_label, margin=margin)))
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
        verdict, reason = _limit(outcome, cannot_refute, cannot_verify)
        return self._finish("ordering", verdict, reason, tier, measured=measured,
                            rule=outcome.rule, details=details, plan=plan)

    def ordering_draws(self, a, b, tier: str, margin: str | None = None, a_label: str = "A", b_label: str = "B",
                       details: Mapping[str, Any] | None = None, draw_fraction: float = 0.0,
                       cannot_refute: str | None = None, cannot_verify: str | None = None,
                       plan: Plan | None = None) -> CheckRecord:
        """An ordering (recorded as kind "ordering") on per-draw, per-example correctness ``a``, ``b`` of
        shape (draws, examples) — evidence obtained over repeated random draws, e.g. few-shot classifiers
        each trained on one draw of k examples per class; draw s of A and of B are paired, and so are the
        examples. Judged by a t interval whose error holds over draws and examples
        (``pytest_claims.draws``); ``draw_fraction``: the share of its pool one draw takes (0: unlimited).
        ``margin``, ``cannot_refute``, ``cannot_verify``, ``plan``: as for ``ordering``."""
        import numpy as np

        from .draws import repeated_draws_rule

        self._ensure_first()
        _check_limits(cannot_refute, cannot_verify)
        plan = self._resolve(_planned(plan, Plan(ORDERING, tier, a_label=a_label, b_label=b_label, margin=margin)))
        margin_value = None if margin is None else self._config.margin(margin)
        outcome = repeated_draws_rule(a, b, self._config.alpha, margin_value, a_label, b_label,
                                      draw_fraction=draw_fraction)
        if margin is not None:
            outcome.rule["margin_name"] = margin
        rule = outcome.rule
        per_draw = {"a": np.asarray(a, dtype=float).mean(axis=1), "b": np.asarray(b, dtype=float).mean(axis=1)}
        sides = {side: {"label": label, "accuracy": rule[f"{side}_accuracy"], "draw_accuracies": per_draw[side].tolist(),
                        "n": rule["n"], "draws": rule["draws"]} for side, label in (("a", a_label), ("b", b_label))}
        measured = Measurement(
            value=rule["diff"], low=rule["low"], high=rule["high"], n=rule["n"],
            method=f"mean over {rule['draws']} paired draws of acc({a_label}) − acc({b_label}) on the same "
                   f"{rule['n']} examples; t interval over draws and examples, "
                   f"{rule['confidence_two_sided']:.0%} two-sided",
            extra={**sides, "confidence": rule["confidence_two_sided"], "interval": rule["interval"]},
        )
        verdict, reason = _limit(outcome, cannot_refute, cannot_verify)
        return self._finish("ordering", verdict, reason, tier, measured=measured, rule=rule, details=details,
                            plan=plan)

    def ordering_scores(self, a, b, metric: Callable[..., float] | str, tier: str, margin: str | None = None,
                        a_label: str = "A", b_label: str = "B", details: Mapping[str, Any] | None = None,
                        n_resamples: int = 9999, seed: int | None = 0,
                        cannot_refute: str | None = None, cannot_verify: str | None = None,
                        plan: Plan | None = None) -> CheckRecord:
        """Ordering on per-example scores (higher is better) by a paired bootstrap of
        metric(A) − metric(B); ``metric`` is a numpy reduction taking ``axis=`` or "mean"/"median".
        ``cannot_refute``, ``cannot_verify``, ``plan``: as for ``value``."""
        import numpy as np

        from .rules import bootstrap_ordering_rule

        self._ensure_first()
        _check_limits(cannot_refute, cannot_verify)
        plan = self._resolve(_planned(plan, Plan(ORDERING_SCORES, tier, a_label=a_label, b_label=b_label,
                                                 margin=margin)))
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
        verdict, reason = _limit(outcome, cannot_refute, cannot_verify)
        return self._finish("ordering_scores", verdict, reason, tier, measured=measured,
                            rule=outcome.rule, details=details, plan=plan)

    def ordering_summary(self, a, b, tier: str, margin: str | None = None, a_label: str = "A", b_label: str = "B",
                         details: Mapping[str, Any] | None = None, description: str | None = None,
                         cannot_refute: str | None = None, cannot_verify: str | None = None,
                         paper_a: Any = None, paper_b: Any = None, higher_is_better: bool = True) -> CheckRecord:
        """An ordering (recorded as kind "ordering") of two published summaries ``a``, ``b``
        (``pytest_claims.Summary``: mean, and ± over n runs where printed; a bare number is a mean without
        spread) — e.g. a sentence of a paper read against its own table. Judged by Welch's t where both
        sides print a spread, else as printed (``pytest_claims.summary``). ``description``: what the check
        checks, in one sentence (say how ties are read); ``margin``, limits: as for ``ordering``.
        ``paper_a``, ``paper_b``: the paper cells the sides come from (anything ``PaperValue.of`` takes), recorded
        with each side (``measured.extra.a.paper``) and shown in the report's Paper column. ``higher_is_better=False``:
        "A better" means A below B (errors, costs); a side that was not printed says how it was read
        (``Summary(..., source="computed")``)."""
        from .summary import Summary, summary_ordering_rule

        self._ensure_first()
        _check_limits(cannot_refute, cannot_verify)
        plan = self._resolve(Plan(ORDERING, tier, description=description, a_label=a_label, b_label=b_label,
                                  margin=margin))
        a, b = Summary.of(a), Summary.of(b)
        margin_value = None if margin is None else self._config.margin(margin)
        outcome = summary_ordering_rule(a, b, self._config.alpha, margin_value, a_label, b_label,
                                        higher_is_better=higher_is_better)
        if margin is not None:
            outcome.rule["margin_name"] = margin
        rule = outcome.rule
        sides = {}
        for side, label, summary, cell in (("a", a_label, a, paper_a), ("b", b_label, b, paper_b)):
            sides[side] = {"label": label, summary.source: summary.describe()}  # "printed", or how read
            if cell is not None:
                sides[side]["paper"] = PaperValue.of(cell).to_json()
        measured = Measurement(value=rule["diff"], low=rule["low"], high=rule["high"], method=rule["method"],
                               extra=sides)
        verdict, reason = _limit(outcome, cannot_refute, cannot_verify)
        return self._finish("ordering", verdict, reason, tier, measured=measured, rule=rule, details=details,
                            plan=plan)

    def untestable(self, reason: str, paper: Any = None, plan: Plan | None = None,
                   references: Sequence[Mapping[str, Any]] | None = None) -> NoReturn:
        """Can never be run with public material (e.g. a private dataset); listed with the paper's number
        and, given a ``Plan``, what the check would have checked. ``references``: as for ``value``."""
        why, paper_value, planned = _reason(reason), _paper(paper), self._resolve(plan)
        self._finish("untestable", UNTESTABLE, why, "", paper=paper_value, plan=planned,
                     references=_references(references))

    def not_run(self, reason: str, paper: Any = None, needs: Sequence[str] | None = None,
                plan: Plan | None = None, references: Sequence[Mapping[str, Any]] | None = None) -> NoReturn:
        """This machine lacks something; ``reason`` says exactly what to provide. ``needs`` splits it
        into short, self-contained items (one per thing to provide), which the report groups by.
        ``plan``: what the check would have checked (kind, sides and margin or tolerance, tier).
        ``references``: as for ``value``."""
        why, paper_value, needs_items, planned = _reason(reason), _paper(paper), _needs(needs), self._resolve(plan)
        self._finish("not_run", NOT_RUN, why, "", paper=paper_value, needs=needs_items, plan=planned,
                     references=_references(references))

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
                plan: Plan | None = None, references: tuple[Mapping[str, Any], ...] = ()) -> CheckRecord:
        self._ensure_first()
        item = self._item
        record = CheckRecord(
            claim=self.claim_id, id=item.name, nodeid=item.nodeid, kind=kind, verdict=verdict,
            reason=reason, tier=str(tier or ""), expected=expected_refutation(item), paper=paper,
            measured=measured, rule=dict(rule or {}), details=dict(details or {}), needs=needs, plan=plan,
            references=references,
        )
        store(item, record)
        if verdict == VERIFIED:
            return record
        if verdict == REFUTED:
            where = f" [paper: {paper.source.table} / {paper.source.row} / {paper.source.column}]" if paper else ""
            pytest.fail(f"refuted ({self.claim_id}): {reason}{where}", pytrace=False)
        pytest.skip(f"{LABELS[verdict]}: {reason}")


NOT_A_REFUTATION = "not counted as a refutation"
NOT_A_VERIFICATION = "not counted as a verification"


def _planned(given: Plan | None, implied: Plan) -> Plan:
    """The plan a judging method records: the one the call implies (kind, the evidence tier and sides as measured,
    margin or tolerance) with the description of `given`, the check's plan — which must be of the same kind and
    margin or tolerance (its tier and sides name what was planned, before the checkpoints were known)."""
    if given is None:
        return implied
    if not isinstance(given, Plan):
        raise TypeError(f"plan must be a pytest_claims.Plan (kind, tier, ...), got {type(given).__name__}")
    differ = [f"{f} {getattr(given, f)!r} in the plan, {getattr(implied, f)!r} in the call"
              for f in ("kind", "margin", "tolerance") if getattr(given, f) != getattr(implied, f)]
    if differ:
        raise ValueError("the plan does not describe this check: " + "; ".join(differ))
    return dataclasses.replace(implied, description=given.description)


def _check_limits(cannot_refute: str | None, cannot_verify: str | None) -> None:
    for name, text, what in (("cannot_refute", cannot_refute, "refute"), ("cannot_verify", cannot_verify, "verify")):
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValueError(f"{name} must be None or a non-empty reason why this check cannot {what} "
                             f"the claim, got {text!r}")


def _limit(outcome, cannot_refute: str | None, cannot_verify: str | None = None) -> tuple[str, str]:
    """The verdict and reason to record: a refutation by a check that cannot refute, or a verification by
    one that cannot verify (evidence biased in the claim's favour), is inconclusive.

    The rule's own verdict stays in ``outcome.rule`` (``rule_verdict``), with each limit's text."""
    if cannot_refute is None and cannot_verify is None:
        return outcome.verdict, outcome.reason
    outcome.rule["rule_verdict"] = outcome.verdict
    limits = [(verdict, key, text.strip(), words) for verdict, key, text, words in (
        (REFUTED, "cannot_refute", cannot_refute, NOT_A_REFUTATION),
        (VERIFIED, "cannot_verify", cannot_verify, NOT_A_VERIFICATION)) if text is not None]
    outcome.rule.update({key: text for _, key, text, _ in limits})
    for verdict, _, text, words in limits:
        if outcome.verdict == verdict:
            return INCONCLUSIVE, f"{outcome.reason}; {words}: {text}"
    return outcome.verdict, outcome.reason


def _references(references: Sequence[Mapping[str, Any]] | None) -> tuple[dict[str, Any], ...]:
    """Independent measurements as records hold them: each a mapping with a non-empty ``source`` and
    ``setting`` and a numeric ``value`` (other JSON-safe keys — repository, file, commit, unit — kept)."""
    if references is None:
        return ()
    if isinstance(references, (Mapping, str)):
        raise TypeError(f"references must be a list of mappings, got {type(references).__name__}")
    out = []
    for ref in references:
        if not isinstance(ref, Mapping):
            raise TypeError(f"a reference must be a mapping with source, value and setting, got {ref!r}")
        missing = [k for k in ("source", "setting") if not isinstance(ref.get(k), str) or not ref[k].strip()]
        value = ref.get("value")
        if missing or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"a reference needs a non-empty source and setting and a numeric value; got {dict(ref)!r}")
        out.append({str(k): v for k, v in ref.items()})
    return tuple(out)


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
