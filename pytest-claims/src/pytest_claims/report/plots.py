"""One figure per claim, as inline SVG: paper vs measured with intervals.

Value checks are drawn as a forest plot of the measured value relative to the paper's (checks of one
claim mix units — layers, widths, parameter counts — so a shared absolute axis would hide them):
the accepted band of the tolerance, the paper's ± and the measured interval, all in % of the
paper's value. Orderings are drawn as the A − B difference with its interval against 0 (and
−margin for "better or comparable"); an ordering without an interval (printed numbers compared as printed) is
left to the checks table.

The SVG must be byte-identical when re-rendered from the same JSON, hence the fixed hash salt and
no date in the metadata. Only ``matplotlib.figure.Figure`` is used (no pyplot, no GUI backend).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .svgmin import compact

COLORS = {
    "verified": "#1a7f37",
    "refuted": "#cf222e",
    "inconclusive": "#9a6700",
    "error": "#8250df",
    "untestable": "#6e7781",
    "not_run": "#57606a",
}
PAPER_COLOR = "#0969da"
BAND_COLOR = "#d0d7de"
# Text stays text (svg.fonttype none): drawn as paths it made the figures 3-4 times larger.
_RC = {"svg.hashsalt": "pytest-claims", "svg.fonttype": "none", "font.size": 9,
       "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial"],
       "axes.spines.top": False, "axes.spines.right": False}


def _short(text: str, width: int = 42) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def check_label(check_id: str, width: int = 42) -> str:
    """A check's id cut to ``width`` where the cut keeps its parameters (``…beats_none[1d]``): the parameters are
    what tell a function's checks apart, so they are kept and the function's name is shortened."""
    name, bracket, params = check_id.partition("[")
    if len(check_id) <= width or not bracket or len(params) + 2 > width // 2:
        return _short(check_id, width)
    return name[: width - len(params) - 2] + "…[" + params


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.4g}"


def _value_rows(checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in checks if c["kind"] == "value" and c.get("measured") and c.get("paper")
            and c["paper"]["value"] not in (0, None) and c["measured"]["value"] is not None]


def _ordering_rows(checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # An ordering without an interval (two printed numbers compared as printed) is a sign, not an estimate:
    # its row in the checks table says all there is, and a dot per check would only lengthen the figure.
    return [c for c in checks if c["kind"] in ("ordering", "ordering_scores") and c.get("measured")
            and c["measured"]["value"] is not None and c["measured"].get("low") is not None]


def _pct(x: float | None, paper: float) -> float | None:
    return None if x is None else 100.0 * (x - paper) / abs(paper)


def _draw_values(ax, rows) -> None:
    from matplotlib.lines import Line2D  # matplotlib only when a figure is drawn, never at import
    from matplotlib.patches import Patch

    for i, c in enumerate(rows):
        y = -i
        p = c["paper"]["value"]
        std = c["paper"].get("std")
        m = c["measured"]
        accepted = (c.get("rule") or {}).get("accepted")
        if accepted:
            lo, hi = _pct(accepted[0], p), _pct(accepted[1], p)
            if hi - lo > 0:
                ax.barh(y, hi - lo, left=lo, height=0.55, color=BAND_COLOR, zorder=1)
        if std:
            s = 100.0 * std / abs(p)
            ax.plot([-s, s], [y + 0.18, y + 0.18], color=PAPER_COLOR, lw=2.5, solid_capstyle="butt", zorder=2)
        ax.plot([0], [y + 0.18], marker="|", ms=9, mew=2, color=PAPER_COLOR, zorder=3)
        color = COLORS.get(c["verdict"], "#000000")
        x = _pct(m["value"], p)
        if m.get("low") is not None and m.get("high") is not None:
            err = [[x - _pct(m["low"], p)], [_pct(m["high"], p) - x]]
            ax.errorbar([x], [y - 0.12], xerr=err, fmt="o", ms=5, color=color, capsize=3, lw=1.5, zorder=4)
        else:
            ax.plot([x], [y - 0.12], "o", ms=5, color=color, zorder=4)
        unit = c["paper"].get("unit") or ""
        ax.annotate(f"measured {_fmt(m['value'])} · paper {_fmt(p)} {unit}".rstrip(), xy=(1.01, y), xycoords=("axes fraction", "data"),
                    va="center", fontsize=8, color=color, annotation_clip=False)
    ax.axvline(0, color=PAPER_COLOR, lw=0.8, zorder=0)
    ax.set_yticks([-i for i in range(len(rows))], [check_label(c["id"]) for c in rows])
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.set_xlabel("measured − paper, in % of the paper's value (dot: measured with interval; blue: paper)")
    lo, hi = ax.get_xlim()
    if hi - lo < 1e-6:
        ax.set_xlim(-1, 1)
    _legend(ax, [
        Patch(color=BAND_COLOR, label="accepted band (tolerance)"),
        Line2D([], [], color=PAPER_COLOR, lw=2.5, marker="|", ms=9, mew=2, label="paper (± std)"),
        Line2D([], [], color="#24292f", marker="o", ms=5, lw=1.5, label="measured [interval], colour = verdict"),
    ])


def _draw_orderings(ax, rows) -> None:
    from matplotlib.lines import Line2D

    for i, c in enumerate(rows):
        y = -i
        m = c["measured"]
        color = COLORS.get(c["verdict"], "#000000")
        if m.get("low") is not None and m.get("high") is not None:
            ax.errorbar([m["value"]], [y], xerr=[[m["value"] - m["low"]], [m["high"] - m["value"]]], fmt="o",
                        ms=5, color=color, capsize=3, lw=1.5, zorder=3)
        else:
            ax.plot([m["value"]], [y], "o", ms=5, color=color, zorder=3)
        margin = (c.get("rule") or {}).get("margin")
        if margin is not None:
            ax.plot([-margin], [y], marker="|", ms=12, mew=2, color=COLORS["refuted"], zorder=2)
        rule = c.get("rule") or {}
        a, b = rule.get("a_label", "A"), rule.get("b_label", "B")
        value = f": {m['value']:+.4g}"  # the number is what the label is for: only the names are cut
        ax.annotate(_short(f"{a} − {b}", 36 - len(value)) + value, xy=(1.01, y), xycoords=("axes fraction", "data"),
                    va="center", fontsize=8, color=color, annotation_clip=False)
    ax.axvline(0, color="#24292f", lw=0.8, zorder=0)
    ax.set_yticks([-i for i in range(len(rows))], [check_label(c["id"]) for c in rows])
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.set_xlabel("difference A − B with its interval (right of 0: A ahead)")
    handles = [Line2D([], [], color="#24292f", marker="o", ms=5, lw=1.5, label="A − B [interval], colour = verdict")]
    if any((c.get("rule") or {}).get("margin") is not None for c in rows):
        handles.append(Line2D([], [], color=COLORS["refuted"], marker="|", ms=12, mew=2, lw=0,
                              label="−margin (better or comparable)"))
    _legend(ax, handles)


def _legend(ax, handles) -> None:
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncols=len(handles), fontsize=8,
              frameon=False, borderaxespad=0.2)


def claim_svg(claim: Mapping[str, Any]) -> str | None:
    """The claim's figure as an ``<svg>`` element, or None when it has nothing measured to draw."""
    values, orderings = _value_rows(claim["checks"]), _ordering_rows(claim["checks"])
    panels = [(rows, draw) for rows, draw in ((values, _draw_values), (orderings, _draw_orderings)) if rows]
    if not panels:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    heights = [1.0 + 0.32 * len(rows) for rows, _ in panels]
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(10, sum(heights) + 0.3), layout="constrained")
        axes = fig.subplots(len(panels), 1, height_ratios=heights, squeeze=False)[:, 0]
        for ax, (rows, draw) in zip(axes, panels):
            draw(ax, rows)
            ax.grid(axis="x", color="#eaeef2", lw=0.6)
            ax.set_axisbelow(True)
        return _svg(fig)


def _svg(fig) -> str:
    """The figure as a compact inline ``<svg>``: no prolog, DOCTYPE or metadata, and path data on one line."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, count=1, flags=re.DOTALL)
    svg = re.sub(r'="([^"]*)"', lambda m: '="' + _ROUND.sub(r"\1", m[1]) + '"', svg)  # attributes, never text
    return compact(re.sub(r"\s*\n\s*", "\n", re.sub(r" \n(?=[LMCQz])", " ", svg)))


_ROUND = re.compile(r"(\d\.\d)\d+")  # coordinates to 1/10 pt: finer than a screen shows at this size


TRENDS_PER_CLAIM = 12  # small multiples drawn per claim; the rest are in the history


def trend_svg(checks: Sequence[Mapping[str, Any]], trends: Mapping[str, Sequence[Mapping[str, Any]]]) -> str | None:
    """Small multiples of measured value over comparable runs, one panel per check of ``trends``:
    the value with its interval (colour = that run's verdict), the paper's value and the accepted band
    (of this run's rule) for a value check, 0 and −margin for an ordering."""
    rows = [c for c in checks if c["nodeid"] in trends][:TRENDS_PER_CLAIM]
    if not rows:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    ncols = min(3, len(rows))
    nrows = -(-len(rows) // ncols)
    with matplotlib.rc_context({**_RC, "font.size": 8}):
        fig = Figure(figsize=(10, 1.7 * nrows + 0.2), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, check in zip(axes, rows):
            _draw_trend(ax, check, trends[check["nodeid"]])
        for ax in axes[len(rows):]:
            fig.delaxes(ax)
        return _svg(fig)


def _draw_trend(ax, check: Mapping[str, Any], points: Sequence[Mapping[str, Any]]) -> None:
    xs = list(range(len(points)))
    rule = check.get("rule") or {}
    if check["kind"] == "value" and check.get("paper"):
        # Each run against the paper value it was judged with (a corrected transcription moves it): the band is
        # this run's tolerance around that value, drawn per run.
        now = check["paper"]["value"]
        accepted = rule.get("accepted")
        for x, p in zip(xs, points):
            paper = p.get("paper") if p.get("paper") is not None else now
            if accepted and accepted[1] > accepted[0]:
                ax.fill_between([x - 0.5, x + 0.5], accepted[0] - now + paper, accepted[1] - now + paper,
                                color=BAND_COLOR, zorder=0, lw=0)
            ax.plot([x - 0.5, x + 0.5], [paper, paper], color=PAPER_COLOR, lw=1, ls="--", zorder=1)
    else:
        ax.axhline(0, color="#24292f", lw=0.8, zorder=1)
        if rule.get("margin") is not None:
            ax.axhline(-rule["margin"], color=COLORS["refuted"], lw=0.8, ls=":", zorder=1)
    ax.plot(xs, [p["value"] for p in points], color="#8c959f", lw=0.8, zorder=2)
    for x, p in zip(xs, points):
        color = COLORS.get(p["verdict"], "#000000")
        if p.get("low") is not None and p.get("high") is not None:
            ax.errorbar([x], [p["value"]], yerr=[[p["value"] - p["low"]], [p["high"] - p["value"]]], fmt="o",
                        ms=3.5, color=color, capsize=2, lw=1, zorder=3)
        else:
            ax.plot([x], [p["value"]], "o", ms=3.5, color=color, zorder=3)
    step = max(1, -(-len(xs) // 6))
    ticks = sorted({*xs[::step], xs[-1]})
    ax.set_xticks(ticks, ["this run" if i == xs[-1] else f"#{points[i]['run']}" for i in ticks])
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_title(check_label(check["id"], 48), loc="left", fontsize=8)
    ax.grid(axis="y", color="#eaeef2", lw=0.6)


FIGURE_KINDS = ("scatter", "heatmaps")


def figure_svg(spec: Mapping[str, Any]) -> str | None:
    """A check's own figure (``details["figure"]``) as an ``<svg>``, or None when it is not one the plugin
    draws. Two generic kinds, plain JSON: ``scatter`` — ``series`` of ``{label, x, y}`` points and optional
    ``hlines`` of ``{y, label}``, with ``xlabel``/``ylabel``; ``heatmaps`` — ``maps`` of ``{label, z}`` (2-D
    lists) laid out ``rows`` x ``cols``, on one colour scale ``vmin``..``vmax``. Both take a ``title``."""
    if not isinstance(spec, Mapping) or spec.get("kind") not in FIGURE_KINDS:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({**_RC, "font.size": 8}):
        if spec["kind"] == "scatter":
            fig = Figure(figsize=(6.4, 3.2), layout="constrained")
            ax = fig.subplots()
            _draw_scatter(ax, spec)
        else:
            rows, cols = int(spec.get("rows") or 1), int(spec.get("cols") or len(spec.get("maps") or ()))
            fig = Figure(figsize=(min(1.25 * cols, 7.5) + 0.6, min(1.25 * rows, 7.5) + 0.4), layout="constrained")
            axes = fig.subplots(rows, cols, squeeze=False)
            image = None
            for ax, grid in zip(axes.ravel(), spec.get("maps") or ()):
                image = ax.imshow(grid["z"], vmin=spec.get("vmin"), vmax=spec.get("vmax"), cmap="viridis",
                                  interpolation="nearest")
                ax.set_title(_short(str(grid.get("label", "")), 18), fontsize=6)
                ax.set_xticks([])
                ax.set_yticks([])
            for ax in axes.ravel()[len(spec.get("maps") or ()):]:
                fig.delaxes(ax)
            if image is not None:
                fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label=spec.get("colorbar", ""))
        if spec.get("title"):
            fig.suptitle(_short(str(spec["title"]), 90), fontsize=8)
        return _svg(fig)


def _draw_scatter(ax, spec: Mapping[str, Any]) -> None:
    markers = "os^Dv"
    for i, series in enumerate(spec.get("series") or ()):
        ax.scatter(series["x"], series["y"], s=12, alpha=0.75, marker=markers[i % len(markers)],
                   label=_short(str(series.get("label", "")), 30))
    for line in spec.get("hlines") or ():
        ax.axhline(line["y"], color="#8c959f", lw=0.8, ls="--")
        ax.annotate(_short(str(line.get("label", "")), 30), xy=(1.0, line["y"]), xycoords=("axes fraction", "data"),
                    fontsize=7, color="#57606a", ha="right", va="bottom")
    ax.set_xlabel(spec.get("xlabel", ""))
    ax.set_ylabel(spec.get("ylabel", ""))
    ax.grid(color="#eaeef2", lw=0.6)
    if spec.get("series"):
        ax.legend(fontsize=7, frameon=False)
