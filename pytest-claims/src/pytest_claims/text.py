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
    if parts.get("abs") or not (parts.get("rel") or parts.get("sigmas") or parts.get("digits")):
        terms.append(f"abs {_num(parts.get('abs', 0))}")
    if parts.get("rel"):
        terms.append(f"{_num(parts['rel'])}·|paper|")
    if parts.get("sigmas"):
        terms.append(f"{_num(parts['sigmas'])}·std")
    if parts.get("digits"):
        terms.append(f"{_num(parts['digits'])}·last printed digit")
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
    description = str(plan.get("description") or "")
    if description and kind in ("ordering", "ordering_scores") and what.split(" (margin")[0] in description:
        # the description already says "A better (or comparable) than B": only the margin is added
        what = what[len(what.split(" (margin")[0]):].strip(" ()") or ""
    parts = [description] if description else []
    parts += [f"{_KIND_WORDS.get(kind, kind)}{': ' + what if what else ''}", f"tier: {plan.get('tier')}"]
    return " · ".join(parts)


CHANGES_LISTED = 20  # changes named one by one in the terminal; the report lists them all
ARROW = "→"


def _value(measured: Mapping[str, Any] | None) -> str:
    if not measured or measured.get("value") is None:
        return "—"
    text = f"{measured['value']:.4g}"
    if measured.get("low") is not None and measured.get("high") is not None:
        text += f" [{measured['low']:.4g}, {measured['high']:.4g}]"
    return text


def _verdict(v: Any) -> str:
    return str(v).replace("_", " ")


def change_counts(changes: Mapping[str, Any]) -> str:
    """``2 verdict flips, 1 check new, 0 gone, 3 values moved``."""
    flips, new, gone, moved = (len(changes.get(k) or ()) for k in ("flips", "new", "gone", "moved"))
    return (f"{flips} verdict flip{'s' if flips != 1 else ''}, {new} check{'s' if new != 1 else ''} new, "
            f"{gone} gone, {moved} value{'s' if moved != 1 else ''} moved beyond {'their' if moved != 1 else 'its'} "
            f"uncertainty")


def describe_change(kind: str, change: Mapping[str, Any]) -> str:
    """One change in one line, e.g. ``flip  claim-x / check-y: verified → refuted``."""
    where = f"{change['claim']} / {change['id']}"
    if kind == "flips":
        return f"flip   {where}: {_verdict(change['before'])} {ARROW} {_verdict(change['after'])}"
    if kind == "new":
        return f"new    {where}: {_verdict(change['after'])}"
    if kind == "gone":
        return f"gone   {where}: was {_verdict(change['before'])}"
    return f"moved  {where}: {_value(change['before'])} {ARROW} {_value(change['after'])}"


def compared_with(history: Mapping[str, Any]) -> str:
    """``run #12 (2026-01-02T03:04:05+00:00, git 0123abcd)``: the run a report is compared with."""
    ref = history.get("compared_with") or {}
    commit = f", git {ref['git_commit'][:10]}" if ref.get("git_commit") else ""
    return f"run #{ref.get('run')} ({ref.get('timestamp')}{commit})"


def first_run(history: Mapping[str, Any]) -> str:
    """What a run with no earlier complete run of its configuration is, in words (terminal and report)."""
    where = f"run #{history.get('run')} in {history.get('path')}"
    if history.get("partial"):
        return f"{where} is a partial run, and no earlier complete run of its configuration is there"
    return f"{where} is the first complete run of its configuration there"


def change_lines(history: Mapping[str, Any] | None, fail_on: str | None = None,
                 n_alerts: int = 0) -> list[tuple[str, dict[str, bool]]]:
    """The terminal's lines about what changed since the last comparable complete run, with markup."""
    if not history:
        return []
    changes = history.get("changes")
    if changes is None:
        return [(f"history: {first_run(history)}; nothing to compare with yet", {})]
    total = sum(len(changes.get(k) or ()) for k in ("flips", "new", "gone", "moved"))
    if not total:
        return [(f"no change since {compared_with(history)}", {"green": True})]
    lines = [(f"changed since {compared_with(history)}: {change_counts(changes)}",
              {"bold": True, "red": bool(changes.get("flips"))})]
    listed = [(kind, c) for kind in ("flips", "gone", "new", "moved") for c in changes.get(kind) or ()]
    for kind, change in listed[:CHANGES_LISTED]:
        lines.append(("  " + describe_change(kind, change), {"red": bool(change.get("regression")),
                                                             "yellow": not change.get("regression")}))
    if len(listed) > CHANGES_LISTED:
        lines.append((f"  ... and {len(listed) - CHANGES_LISTED} more (all listed in the report)", {"yellow": True}))
    if fail_on and n_alerts:
        lines.append(((f"--claims-fail-on {fail_on}: {n_alerts} change{'s' if n_alerts != 1 else ''} "
                      f"{'fail' if n_alerts != 1 else 'fails'} this run"), {"red": True, "bold": True}))
    return lines
