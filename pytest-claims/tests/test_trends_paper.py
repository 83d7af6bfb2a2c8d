"""Trend panels judge each past run against the paper value of its own run (issue 18, item 4): after a corrected
transcription, an old verified point must not sit outside a band drawn around today's paper value."""

from __future__ import annotations

from pytest_claims.nightly import _trends


def _row(value, paper, verdict="verified"):
    return {"nodeid": "t.py::t", "measured_value": value, "measured_low": value - 0.1, "measured_high": value + 0.1,
            "verdict": verdict, "paper_value": paper, "executed": True}


def test_trend_points_carry_the_paper_value_of_their_run_and_a_changed_paper_value_is_a_trend():
    checks = {1: {"t.py::t": _row(80.0, 80.0)}, 2: {"t.py::t": _row(80.0, 80.0)}}
    points = _trends([1, 2], checks, {"t.py::t": _row(80.0, 81.0)}, 3)["t.py::t"]
    assert [(p["run"], p["paper"]) for p in points] == [(1, 80.0), (2, 80.0), (3, 81.0)]
    assert _trends([1, 2], checks, {"t.py::t": _row(80.0, 80.0)}, 3) == {}  # nothing varied: nothing to draw


def test_the_band_and_paper_line_of_each_point_are_its_runs():
    import matplotlib
    from matplotlib.figure import Figure

    from pytest_claims.report.plots import _draw_trend

    matplotlib.use("Agg")
    check = {"id": "t", "kind": "value", "paper": {"value": 81.0}, "rule": {"accepted": [80.0, 82.0]}}
    points = [{"run": 1, "value": 80.0, "low": 79.9, "high": 80.1, "verdict": "verified", "paper": 80.0},
              {"run": 2, "value": 80.2, "low": 80.1, "high": 80.3, "verdict": "verified", "paper": 81.0}]
    ax = Figure().subplots()
    _draw_trend(ax, check, points)
    dashed = [tuple(line.get_ydata()) for line in ax.lines if line.get_linestyle() == "--"]
    assert dashed == [(80.0, 80.0), (81.0, 81.0)]
    bands = [tuple(sorted({round(y, 6) for y in c.get_paths()[0].vertices[:, 1]})) for c in ax.collections
             if c.get_paths() and len(c.get_paths()[0].vertices) > 2]
    assert (79.0, 81.0) in bands and (80.0, 82.0) in bands  # the run-1 point (80.0) inside its own band


def test_a_flip_row_shows_measured_against_paper_on_both_sides():
    from pytest_claims.changes import compare
    from pytest_claims.report.html import render_html

    before = {"t.py::t": {**_row(80.0, 80.0), "claim": "c", "check": "t"}}
    after = {"t.py::t": {**_row(77.0, 80.0, "refuted"), "claim": "c", "check": "t"}}
    [flip] = compare(before, after)["flips"]
    assert flip["measured"] == {"before": {"value": 80.0, "low": 79.9, "high": 80.1, "paper": 80.0},
                                "after": {"value": 77.0, "low": 76.9, "high": 77.1, "paper": 80.0}}
    from pytest_claims.assemble import build_document

    document = build_document(None, [], {})
    document = {**document,
                "history": {"path": "h", "run": 2, "partial": False, "configuration_key": "k", "comparable_runs": 1,
                            "compared_with": {"run": 1, "timestamp": "t", "git_commit": None},
                            "changes": {"flips": [flip], "new": [], "gone": [], "moved": []},
                            "timeline": {"runs": [], "claims": {}}, "trends": {}}}
    html = render_html(document)
    assert "80 [79.9, 80.1] vs paper 80</span>" in html and "77 [76.9, 77.1] vs paper 80</span>" in html
