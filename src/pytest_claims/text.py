"""How the report's data reads to a person: pure functions of ``claims.json`` content (plain dicts).

Used by the terminal summary and the HTML report alike; imports nothing but the standard library,
so a report can be re-rendered from the JSON without the code that assembled it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def partial_headline(run: Mapping[str, Any] | None) -> str | None:
    """The one-line warning a partial run's report opens with (None for a complete run)."""
    if not run or not run.get("partial"):
        return None
    parts = []
    if run.get("not_executed"):
        n = run["not_executed"]
        parts.append(f"{n} check{'s' if n != 1 else ''} not executed")
    if run.get("caveat"):
        parts.append(str(run["caveat"]))
    return "partial run: " + "; ".join(parts) + " — no claim is verified from a subset of its checks"


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def describe_tolerance(name: str, parts: Mapping[str, Any] | None) -> str:
    """``tolerance 'accuracy' (abs 1 + 2·std)``; the name alone where the values are unknown."""
    if not parts:
        return f"tolerance '{name}'"
    terms = []
    if parts.get("abs") or not (parts.get("rel") or parts.get("sigmas")):
        terms.append(f"abs {_num(parts.get('abs', 0))}")
    if parts.get("rel"):
        terms.append(f"{_num(parts['rel'])}·|paper|")
    if parts.get("sigmas"):
        terms.append(f"{_num(parts['sigmas'])}·std")
    return f"tolerance '{name}' ({' + '.join(terms)})"


_KIND_WORDS = {"value": "value", "ordering": "ordering", "ordering_scores": "ordering of scores"}


def describe_plan(plan: Mapping[str, Any] | None) -> str:
    """One line saying what a planned check checks (``plan`` of a check in ``claims.json``); "" for none.

    The paper cell of a value check is shown beside it by the report, so it is not repeated here."""
    if not plan:
        return ""
    kind = str(plan.get("kind", ""))
    if kind in ("ordering", "ordering_scores"):
        if plan.get("margin") is None:
            what = f"{plan.get('a')} better than {plan.get('b')}"
        else:
            value = plan.get("margin_value")
            margin = f"margin '{plan['margin']}'" + (f" = {_num(value)}" if value is not None else "")
            what = f"{plan.get('a')} better than or comparable to {plan.get('b')} ({margin})"
    else:
        what = "the paper's number"
        if plan.get("tolerance") is not None:
            what += " within " + describe_tolerance(plan["tolerance"], plan.get("tolerance_value"))
    parts = [str(plan["description"])] if plan.get("description") else []
    parts += [f"{_KIND_WORDS.get(kind, kind)}: {what}", f"tier: {plan.get('tier')}"]
    return " · ".join(parts)
