"""Checks set aside (untestable, not run) as a reader scans them: grouped by why, numbers as printed.

Checks that wait on the same things (``needs``) or give the same reason form one group. A reason that
opens with the check's own paper cell (``Table 2 / CIFAR-10 / ViT-H/14: …``) is grouped on the rest,
so a listing of many numbers with one cause is one group. Within a group, the paper's numbers are laid
out as the paper prints them: one compact grid per paper table, its rows × columns in the order the
checks were collected; checks without a paper number (and the numbers of a small group) are listed one per line with what
they would check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..text import describe_plan

GRID_AT_LEAST = 8  # paper numbers in a group from which they are laid out as the paper's tables


def cell_label(paper: Mapping[str, Any] | None) -> str | None:
    """``Table 2 / CIFAR-10 / ViT-H/14``: how a paper cell is named in reasons."""
    source = (paper or {}).get("source") or {}
    parts = [source.get(k) for k in ("table", "row", "column")]
    return " / ".join(str(p) for p in parts) if all(parts) else None


def shared_reason(check: Mapping[str, Any]) -> str:
    """The check's reason without a leading mention of its own paper cell."""
    reason = str(check.get("reason") or "")
    label = cell_label(check.get("paper"))
    if label and reason.startswith(label + ": "):
        return reason[len(label) + 2:]
    return reason


def paper_grids(checks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One grid per paper table: ``{"table", "rows", "columns", "cells": {row: {column: check}}}``,
    rows and columns in first-seen order."""
    grids: dict[str, dict[str, Any]] = {}
    for c in checks:
        source = c["paper"]["source"]
        grid = grids.setdefault(source["table"], {"table": source["table"], "rows": [], "columns": [], "cells": {}})
        if source["row"] not in grid["cells"]:
            grid["rows"].append(source["row"])
            grid["cells"][source["row"]] = {}
        if source["column"] not in grid["columns"]:
            grid["columns"].append(source["column"])
        grid["cells"][source["row"]].setdefault(source["column"], c)
    for grid in grids.values():  # one unit for the whole grid goes in its caption
        units = {c["paper"].get("unit") or "" for row in grid["cells"].values() for c in row.values()}
        grid["unit"] = units.pop() if len(units) == 1 else ""
    return list(grids.values())


def group_checks(checks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Groups of set-aside checks, first seen first: ``reason`` (shared), ``needs``, ``reasons`` (the
    distinct full messages of a needs group), ``checks``, ``grids`` (checks with a paper number),
    ``listed`` (the others) and ``plans`` (what the grid's checks would check, without their descriptions:
    distinct lines with counts)."""
    groups: dict[tuple[str, ...] | str, dict[str, Any]] = {}
    for c in checks:
        needs = tuple(c.get("needs") or ())
        reason = shared_reason(c)
        group = groups.setdefault(needs or reason, {"reason": reason, "needs": list(needs), "reasons": [],
                                                    "checks": []})
        group["checks"].append(c)
        if reason not in group["reasons"]:
            group["reasons"].append(reason)
    for group in groups.values():
        with_paper = [c for c in group["checks"] if c.get("paper") and cell_label(c["paper"])]
        if len(with_paper) < GRID_AT_LEAST:  # a few checks read better one per line, each with its plan
            with_paper = []
        group["grids"] = paper_grids(with_paper)
        group["listed"] = [c for c in group["checks"] if not any(c is w for w in with_paper)]
        plans: dict[str, int] = {}
        for c in with_paper:  # a description names its own cell, which the grid shows: left out here
            line = describe_plan({**c["plan"], "description": None} if c.get("plan") else None)
            if line:
                plans[line] = plans.get(line, 0) + 1
        group["plans"] = plans
    return list(groups.values())


def number_needs(groups: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """The distinct needs of ``groups`` (most-waited-on first) with how many checks wait on each; sets
    each group's ``need_numbers`` (1-based positions in that list), so a group names its needs briefly."""
    counts: dict[str, int] = {}
    for group in groups:
        for need in group["needs"]:
            counts[need] = counts.get(need, 0) + len(group["checks"])
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    number = {need: i + 1 for i, (need, _) in enumerate(ordered)}
    for group in groups:
        group["need_numbers"] = [number[need] for need in group["needs"]]
    return ordered
