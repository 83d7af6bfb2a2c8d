"""What changed between two comparable runs: verdict flips, checks new or gone, values that moved.

Pure functions of check rows (``rows.check_row``); standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FAIL_ON = ("flip", "regression")  # --claims-fail-on
VERIFIED = "verified"


def _ref(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"nodeid": row["nodeid"], "claim": row["claim"], "id": row["check"]}


def _point(row: Mapping[str, Any]) -> tuple[float, float, float] | None:
    value = row.get("measured_value")
    if value is None:
        return None
    low, high = row.get("measured_low"), row.get("measured_high")
    if low is None or high is None:
        low = high = value
    return float(value), float(low), float(high)


def moved(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """The measured value moved by more than its uncertainty: each run's value lies outside the other
    run's interval (a value measured without an interval is its own interval, so any change counts)."""
    a, b = _point(before), _point(after)
    if a is None or b is None:
        return False

    def outside(x: float, low: float, high: float) -> bool:
        slack = 1e-9 * max(1.0, abs(low), abs(high))  # the same number re-read through JSON is not a move
        return x < low - slack or x > high + slack

    return outside(b[0], a[1], a[2]) and outside(a[0], b[1], b[2])


def compare(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]],
            partial: bool = False) -> dict[str, list]:
    """The changes from the run ``before`` to the run ``after`` (check rows by node id).

    A check the later run collected but did not execute (deselected, stopped early) says nothing about
    the check and is left out; one it executed with verdict ``not_run`` (a cache volume went missing)
    is a flip like any other. A ``partial`` later run (some files only) never collected the others' checks:
    their absence says nothing either, so nothing is "gone"."""
    flips, new, gone, shifted = [], [], [], []
    for nodeid, now in after.items():
        if not now.get("executed", True):
            continue
        was = before.get(nodeid)
        if was is None:
            new.append({**_ref(now), "after": now["verdict"]})
        elif was["verdict"] != now["verdict"]:
            flips.append({**_ref(now), "before": was["verdict"], "after": now["verdict"],
                          "regression": was["verdict"] == VERIFIED,
                          "measured": {"before": _measured(was), "after": _measured(now)}})
        elif moved(was, now):
            shifted.append({**_ref(now), "verdict": now["verdict"],
                            "before": _measured(was), "after": _measured(now)})
    for nodeid, was in ({} if partial else before).items():
        if nodeid not in after:
            gone.append({**_ref(was), "before": was["verdict"], "regression": was["verdict"] == VERIFIED})
    return {"flips": flips, "new": new, "gone": gone, "moved": shifted}


def _measured(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"value": row.get("measured_value"), "low": row.get("measured_low"), "high": row.get("measured_high"),
            "paper": row.get("paper_value")}


def alerts(changes: Mapping[str, list] | None, fail_on: str | None) -> list[dict[str, Any]]:
    """The changes that make ``--claims-fail-on fail_on`` end the run with a non-zero status.

    ``regression``: a check verified last time that is no longer verified (flipped, or gone);
    ``flip``: every verdict flip, and those regressions."""
    if not changes or fail_on is None:
        return []
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    regressions = [c for key in ("flips", "gone") for c in changes.get(key, ()) if c.get("regression")]
    if fail_on == "regression":
        return regressions
    return list(changes.get("flips", ())) + [g for g in changes.get("gone", ()) if g.get("regression")]
