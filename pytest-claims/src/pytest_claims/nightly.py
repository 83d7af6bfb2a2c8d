"""A run against its history: record it, then say what changed since the last comparable complete run.

The result is the report's ``history`` block (``claims.json``), so the HTML renders it from the JSON
alone: ``run`` (this run's id in the database), ``compared_with`` (the run it is compared with, or
None), ``changes`` (``changes.compare``), ``timeline`` (each claim's verdict over the comparable runs)
and ``trends`` (measured values of checks whose value, verdict or paper value varied over those runs; each point
with the paper value its run judged against).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from .changes import compare
from .history import HistoryError, check_rows, claim_rows, configuration_key, connect, record_run, runs
from .rows import claim_verdicts, document_rows

SHOWN_RUNS = 20  # earlier comparable runs drawn in timelines and trends


def _run_ref(run: Mapping[str, Any]) -> dict[str, Any]:
    return {"run": run["id"], "timestamp": run["timestamp"], "git_commit": run["git_commit"]}


def record_and_compare(document: dict[str, Any], path: Path, source: str = "pytest") -> dict[str, Any]:
    """Append ``document``'s run to the history at ``path`` and set its ``history`` block; ``HistoryError`` for
    anything that stops it (an unusable path, a locked or broken database), so every caller still writes its report."""
    try:
        run_id = record_run(path, document, source)
        document["history"] = history_block(document, path, run_id)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(f"{path}: {exc}") from exc
    return document["history"]


def history_block(document: Mapping[str, Any], path: Path, run_id: int | None = None) -> dict[str, Any]:
    """What the history at ``path`` says about ``document`` (the run ``run_id``, if recorded there)."""
    key = configuration_key((document.get("run") or {}).get("configuration") or {})
    with closing(connect(path)) as conn:
        earlier = runs(conn, key, complete=True, before=run_id, limit=SHOWN_RUNS)
        ids = [r["id"] for r in earlier]
        checks, verdicts = check_rows(conn, ids), claim_rows(conn, ids)
    current = document_rows(document)
    partial = bool((document.get("run") or {}).get("partial"))
    previous = earlier[-1] if earlier else None
    now = {"run": run_id, "timestamp": (document.get("environment") or {}).get("timestamp"),
           "git_commit": ((document.get("environment") or {}).get("git") or {}).get("commit")}
    claims_now = claim_verdicts(document)
    return {
        "path": str(path),
        "run": run_id,
        "partial": partial,
        "configuration_key": key,
        "comparable_runs": len(earlier),
        "compared_with": _run_ref(previous) if previous else None,
        "changes": compare(checks[previous["id"]], current, partial) if previous else None,
        "timeline": {"runs": [_run_ref(r) for r in earlier] + [now],
                     "claims": {cid: [verdicts[i].get(cid) for i in ids] + [v] for cid, (v, _) in claims_now.items()}},
        "trends": _trends(ids, checks, current, run_id),
    }


def _trends(ids: list[int], checks: Mapping[int, Mapping[str, Mapping[str, Any]]],
            current: Mapping[str, Mapping[str, Any]], run_id: int | None) -> dict[str, list[dict[str, Any]]]:
    """Per check measured in this run: its points over the earlier runs and this one, kept only where
    the value or the verdict varied (a steady series says nothing a trend plot could show)."""
    trends = {}
    for nodeid, now in current.items():
        if now["measured_value"] is None or not now["executed"]:
            continue
        points = [_point(checks[i][nodeid], i) for i in ids if nodeid in checks[i]] + [_point(now, run_id)]
        points = [p for p in points if p["value"] is not None]
        if len(points) >= 2 and len({(p["value"], p["low"], p["high"], p["verdict"], p["paper"]) for p in points}) > 1:
            trends[nodeid] = points
    return trends


def _point(row: Mapping[str, Any], run_id: int | None) -> dict[str, Any]:
    return {"run": run_id, "value": row["measured_value"], "low": row["measured_low"],
            "high": row["measured_high"], "verdict": row["verdict"], "paper": row.get("paper_value")}
