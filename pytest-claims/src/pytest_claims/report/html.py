"""Render ``index.html`` from the report document (the parsed ``claims.json``) alone."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..files import write_atomic
from ..records import LABELS, VERDICTS, alternates_json
from ..text import change_counts, compared_with, describe_plan, partial_headline
from .groups import group_checks, number_needs
from .plots import claim_svg, figure_svg, trend_svg

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SET_ASIDE = ("untestable", "not_run")  # listed in groups (by needs, else reason), not in the checks table
# the untestable and not-run checks of every claim, grouped by why with the paper's numbers (a fifth of the CPU
# report): kept off the main page's budget (≤ 300 KB), each claim's section links to its part
ASIDE_FILE = "set-aside.html"


def fmt_number(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1e4:
        return f"{x:,.1f}"
    return f"{x:.4g}"


def fmt_signed(x: Any) -> str:
    return "—" if x is None else f"{x:+.4g}"


def _needs(check: Mapping[str, Any]) -> tuple[str, ...]:
    """What a not-run check waits for: its ``needs``, or its reason where it gives none (older reports too)."""
    return tuple(check.get("needs") or ()) or (check["reason"],)


def group_by_need(checks: list[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One row per distinct need: the need, the (claim id, check id) pairs waiting on it, and how many
    of them each claim has.

    A check that needs several things counts in each of their rows; most-waited-on first."""
    rows: dict[str, dict[str, Any]] = {}
    for claim_id, c in checks:
        for need in _needs(c):
            row = rows.setdefault(need, {"need": need, "checks": [], "claims": {}})
            row["checks"].append((claim_id, c["id"]))
            row["claims"][claim_id] = row["claims"].get(claim_id, 0) + 1
    return sorted(rows.values(), key=lambda row: -len(row["checks"]))


def provide(rows: list[dict[str, Any]], settings: Mapping[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """``group_by_need``'s rows arranged as ``[tool.claims.provide]`` says (config.parse_provide): the folds first
    (one command each, with the rows it covers, checks counted once), then what a user can provide, then what no
    user can (``beyond``: the suite does not implement it), then advice (``advice``: it only speeds a run)."""
    settings = settings or {}
    folds = [{**fold, "rows": [], "claims": {}} for fold in settings.get("fold") or ()]
    out: dict[str, list] = {"user": [], "beyond": [], "advice": []}
    for row in rows:
        fold = next((f for f in folds if row["need"].startswith(f["prefix"])), None)
        if fold is not None:  # its subject only (before ": "): how to provide it alone is what the command replaces
            fold["rows"].append({**row, "subject": row["need"].split(": ", 1)[0]})
        elif any(text in row["need"] for text in settings.get("beyond") or ()):
            out["beyond"].append(row)
        elif any(text in row["need"] for text in settings.get("advice") or ()):
            out["advice"].append(row)
        else:
            out["user"].append(row)
    out["folds"] = []
    for fold in folds:
        if fold["rows"]:
            checks = list(dict.fromkeys(check for row in fold["rows"] for check in row["checks"]))  # each once
            for cid, _ in checks:
                fold["claims"][cid] = fold["claims"].get(cid, 0) + 1
            out["folds"].append({**fold, "checks": checks})
    return out


DECIDED = ("verified", "refuted", "inconclusive")


def consistency_only(claim: Mapping[str, Any], consistency: set[str]) -> bool:
    """Whether every decided check of ``claim`` is of a family in ``consistency`` (``consistency_families`` of
    [tool.claims]: checks of the paper's numbers against each other), so its verdict rests on no measurement."""
    decided = [f["family"] for f in claim.get("families") or () if any(f["counts"].get(v) for v in DECIDED)]
    return bool(decided) and all(name in consistency for name in decided)


def anchor(nodeid: str) -> str:
    """The HTML id of a check's row (sections and other links point at it): a short digest of its node id,
    the same in every report (a readable id cost ~90 bytes a check, a fifth of the CPU report)."""
    return "k" + hashlib.blake2b(nodeid.encode("utf-8"), digest_size=5).hexdigest()


NOTE_MIN_CHARS = 40  # a part of a method text this long, shared by several checks of a table, becomes a note


def side_papers(checks: list[Mapping[str, Any]]) -> dict[str, list[tuple[str, Mapping[str, Any] | None]]]:
    """The paper cells of an ordering's two sides (``measured.extra.a.paper``, ``.b.paper``), by node id, for the
    checks with at least one and no paper value of their own: [(label, cell or None), (label, cell or None)]."""
    out = {}
    for c in checks:
        extra = (c.get("measured") or {}).get("extra") or {}
        sides = [extra.get(k) for k in ("a", "b")]
        if c.get("paper") or not all(isinstance(s, Mapping) for s in sides) or not any(s.get("paper") for s in sides):
            continue
        out[c["nodeid"]] = [(str(s.get("label", "")), s.get("paper")) for s in sides]
    return out


def method_notes(checks: list[Mapping[str, Any]]) -> tuple[list[str], dict[str, list[str | int]]]:
    """How a table's checks were measured, with what they share said once.

    Each ``measured.method`` is split at "; ". A part at least ``NOTE_MIN_CHARS`` long that two or more
    checks share becomes a numbered note under the table; a check's text keeps its own parts and refers to
    the notes by number. Returns (notes, {nodeid: [text or note number, ...]})."""
    split = {c["nodeid"]: [part for part in (c.get("measured") or {}).get("method", "").split("; ") if part]
             for c in checks}
    counts: dict[str, int] = {}
    for parts in split.values():
        for part in dict.fromkeys(parts):
            counts[part] = counts.get(part, 0) + 1
    notes: list[str] = []
    numbered: dict[str, int] = {}
    out: dict[str, list[str | int]] = {}
    for nodeid, parts in split.items():
        out[nodeid] = []
        for part in parts:
            if counts[part] > 1 and len(part) >= NOTE_MIN_CHARS:
                if part not in numbered:
                    notes.append(part)
                    numbered[part] = len(notes)
                out[nodeid].append(numbered[part])
            else:
                out[nodeid].append(part)
    return notes, out


def shared_kind_tier(checks: list[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(kind, tier) when every check of a table has the same: said once above it, not on every row."""
    pairs = {(c["kind"], c.get("tier") or "") for c in checks}
    return next(iter(pairs)) if len(pairs) == 1 and len(checks) > 1 else None


def check_figures(checks: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Markup]]:
    """(check, SVG) for every decided check that carries a figure of its evidence (``details["figure"]``)."""
    out = []
    for check in checks:
        svg = figure_svg((check.get("details") or {}).get("figure"))
        if svg:
            out.append((check, Markup(svg)))  # matplotlib escapes every text it writes into the SVG
    return out


def history_context(history: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The report's first section: what changed since the last comparable complete run."""
    if not history:
        return None
    changes = history.get("changes")
    rows = [{"kind": kind, **c} for kind in ("flips", "gone", "new", "moved") for c in (changes or {}).get(kind) or ()]
    timeline = history.get("timeline") or {}
    return {"block": history, "compared_with": compared_with(history) if changes is not None else None,
            "counts": change_counts(changes) if changes is not None else None, "rows": rows,
            "runs": timeline.get("runs") or [], "claims": timeline.get("claims") or {}}


def _timeline(history: dict[str, Any] | None, claim_id: str) -> list[tuple[Mapping[str, Any], str | None]]:
    """(run, verdict) of the claim over the comparable runs, oldest first; empty with fewer than two."""
    if not history or len(history["runs"]) < 2:
        return []
    return list(zip(history["runs"], history["claims"].get(claim_id) or []))


def build_context(document: Mapping[str, Any]) -> dict[str, Any]:
    claims = []
    not_run: list[tuple[str, Mapping[str, Any]]] = []
    not_executed: list[tuple[str, Mapping[str, Any]]] = []
    history = history_context(document.get("history"))
    trends = (document.get("history") or {}).get("trends") or {}
    settings = (document.get("environment") or {}).get("claims_settings") or {}
    consistency = set(settings.get("consistency_families") or ())
    for claim in document["claims"]:
        checks = claim["checks"]
        svg, trend = claim_svg(claim), trend_svg(checks, trends)
        groups = {v: group_checks([c for c in checks if c["verdict"] == v]) for v in SET_ASIDE}
        decided = [c for c in checks if c["verdict"] not in SET_ASIDE]
        claims.append({
            "claim": claim,
            "alternates": alternates_json(claim),  # also from a report written before they existed
            "families": list(claim.get("families") or ()),  # likewise
            "decided": decided,
            "shared": shared_kind_tier(decided),
            "method_notes": method_notes(decided),
            "side_papers": side_papers(decided),
            "figures": check_figures(decided),
            "needs": {v: number_needs(groups[v]) for v in SET_ASIDE},
            # checks waiting on needs, without a paper table of their own: one row each, needs by number
            "waiting": {v: [(c, g["need_numbers"]) for g in groups[v] if g["needs"] and not g["grids"]
                            for c in g["checks"]] for v in SET_ASIDE},
            "groups": {v: [g for g in groups[v] if not g["needs"] or g["grids"]] for v in SET_ASIDE},
            "svg": Markup(svg) if svg else None,  # matplotlib escapes every text it writes into the SVG
            "trend": Markup(trend) if trend else None,
            "n_trends": sum(c["nodeid"] in trends for c in checks),
            "timeline": _timeline(history, claim["id"]),
            "consistency_only": consistency_only(claim, consistency),
            "aside": any(c["verdict"] in SET_ASIDE for c in checks),  # listed on ASIDE_FILE, linked from here
        })
        # what this machine lacks; checks this run merely did not execute are listed under the banner
        not_run += [(claim["id"], c) for c in checks if c["verdict"] == "not_run" and c.get("executed", True)]
        not_executed += [(claim["id"], c) for c in checks if not c.get("executed", True)]
    env = dict(document.get("environment") or {})
    return {
        "doc": document,
        "history": history,
        "partial": partial_headline(document.get("run")),
        "problems": list((document.get("run") or {}).get("problems") or ()),
        "stale": document.get("stale"),
        "not_executed": not_executed,
        "summary": document["summary"],
        "claims": claims,
        "missing": group_by_need(not_run),
        "provide": provide(group_by_need(not_run), (env.get("claims_settings") or {}).get("provide")),
        "sections": list(document.get("sections") or ()),
        "nodeids": {c["nodeid"] for claim in document["claims"] for c in claim["checks"]},
        # the page each check's row is on: decided checks here, the ones set aside on ASIDE_FILE
        "pages": {c["nodeid"]: ASIDE_FILE if c["verdict"] in SET_ASIDE else ""
                  for claim in document["claims"] for c in claim["checks"]},
        "aside_file": ASIDE_FILE,
        "n_not_run": len(not_run),
        "env": env,
        "env_json": {k: json.dumps(v, indent=1, ensure_ascii=False) for k, v in env.items()
                     if isinstance(v, (dict, list))},
        "verdicts": VERDICTS,
        "labels": LABELS,
    }


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # claim text, reasons and ids are data: never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = fmt_number
    env.filters["signed"] = fmt_signed
    env.filters["label"] = lambda v: LABELS.get(v, v)
    env.filters["plan"] = lambda check: describe_plan(check.get("plan"))  # absent in older reports
    env.filters["anchor"] = anchor
    return env


APPENDIX_FILE = "appendix.html"  # the catalog's appendix tables: static paper data, kept off the main page's budget


def render_html(document: Mapping[str, Any]) -> str:
    return unindent(_environment().get_template("report.html.j2").render(**build_context(document), part="report"))


def render_aside_html(document: Mapping[str, Any]) -> str:
    return unindent(_environment().get_template("report.html.j2").render(**build_context(document), part="aside"))


def render_appendix_html(document: Mapping[str, Any]) -> str:
    return unindent(_environment().get_template("report.html.j2").render(doc=document, part="appendix"))


_PRE = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL)


def unindent(html: str) -> str:
    """The template's indentation removed (it is a tenth of the page), except inside <pre>."""
    parts = _PRE.split(html)
    return "".join(part if i % 2 else re.sub(r"\n[ \t]+", "\n", part) for i, part in enumerate(parts))


def render(json_path: Path | str, html_path: Path | str | None = None) -> Path:
    """Render ``html_path`` (default: index.html beside the JSON) from ``json_path`` alone, and the catalog's
    appendix tables, where it has any, into appendix.html beside it, and the checks set aside (untestable, not run),
    where there are any, into set-aside.html beside it."""
    json_path = Path(json_path)
    html_path = Path(html_path) if html_path is not None else json_path.with_name("index.html")
    document = json.loads(json_path.read_text(encoding="utf-8"))
    if document.get("appendix"):  # first, so the main page never links to a missing one
        write_atomic(html_path.with_name(APPENDIX_FILE), render_appendix_html(document))
    if any(c["verdict"] in SET_ASIDE for claim in document["claims"] for c in claim["checks"]):
        write_atomic(html_path.with_name(ASIDE_FILE), render_aside_html(document))
    else:  # an earlier run's page would describe checks this report does not set aside
        html_path.with_name(ASIDE_FILE).unlink(missing_ok=True)
    write_atomic(html_path, render_html(document))
    return html_path
