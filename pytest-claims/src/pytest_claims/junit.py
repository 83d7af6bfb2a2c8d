"""What ``--junitxml`` shows of a check: readable properties for CI dashboards.

pytest writes every ``(name, value)`` of a report's ``user_properties`` into the JUnit XML as
``<property name=… value="str(value)">``. The check record travels there as a dict, which would read
as a Python ``repr``; the controller replaces it, before pytest's junitxml plugin sees the report, by
the record as JSON and one property per fact a dashboard shows (claim, verdict, paper, measured).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PREFIX = "claims_"


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def readable_properties(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The facts of a check record as (name, text) pairs; absent facts are left out."""
    paper = record.get("paper") or {}
    source = paper.get("source") or {}
    measured = record.get("measured") or {}
    facts = [
        ("claim", record.get("claim")),
        ("verdict", record.get("verdict")),
        ("tier", record.get("tier") or None),
        ("paper_value", paper.get("value")),
        ("paper_std", paper.get("std")),
        ("paper_unit", paper.get("unit") or None),
        ("paper_source", " / ".join(source[k] for k in ("table", "row", "column") if source.get(k)) or None),
        ("measured_value", measured.get("value")),
        ("measured_low", measured.get("low")),
        ("measured_high", measured.get("high")),
        ("measured_n", measured.get("n")),
        ("reason", record.get("reason") or None),
    ]
    return [(PREFIX + name, _text(value)) for name, value in facts if value is not None]


def junit_user_properties(properties: list[tuple[str, Any]], record_name: str) -> list[tuple[str, Any]]:
    """``properties`` with the record (a dict under ``record_name``) replaced by its readable
    properties followed by the record itself as compact JSON."""
    out: list[tuple[str, Any]] = []
    for name, value in properties:
        if name == record_name and isinstance(value, Mapping):
            out += readable_properties(value)
            out.append((name, json.dumps(value, ensure_ascii=False, separators=(",", ":"))))
        else:
            out.append((name, value))
    return out
