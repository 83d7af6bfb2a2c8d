"""The report's compactions keep what a reader sees: SVG figures with the same elements and geometry, notes that
say a shared measurement method once, one kind/tier line for a uniform table."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from pytest_claims.report.html import method_notes, shared_kind_tier, unindent
from pytest_claims.report.plots import check_label
from pytest_claims.report.svgmin import SVG, compact

FIGURE = f"""<svg xmlns="{SVG}" xmlns:xlink="http://www.w3.org/1999/xlink" width="10pt" height="10pt" viewBox="0 0 10 10">
<defs><clipPath id="clip1"><rect x="0" y="0" width="9" height="9"/></clipPath>
<path id="tick" d="M 0 0 L 0 3.5" style="stroke: #000000; stroke-width: 0.8"/></defs>
<g id="figure_1"><g id="axes_1">
<g id="line2d_1"><path d="M 1 1 L 5 5" clip-path="url(#clip1)" style="fill: none; stroke: #0969da"/></g>
<g><use xlink:href="#tick" x="2.5" y="7" style="stroke: #000000; stroke-width: 0.8"/></g>
<g id="text_1"><text x="3" y="8" transform="rotate(-0 3 8)" style="font-size: 9px">−1.25</text></g>
<g id="text_2"><text x="4" y="8" transform="rotate(-90 4 8)" style="font-size: 9px">up</text></g>
</g></g></svg>"""


def drawn(svg: str) -> list[tuple[str, tuple]]:
    """What is drawn, in order: each path/use/text/rect with its geometry and text."""
    keep = ("d", "x", "y", "width", "height", "{http://www.w3.org/1999/xlink}href")
    def value(key: str, e: ET.Element) -> str:
        return "#ref" if key.endswith("href") else e.get(key)  # compact renames ids: no change to the drawing

    return [(e.tag.split("}")[1], tuple((k, value(k, e)) for k in keep if e.get(k) is not None), (e.text or "").strip())
            for e in ET.fromstring(svg).iter() if e.tag.split("}")[1] in ("path", "use", "text", "rect")]


def test_compact_svg_draws_the_same_elements_in_fewer_bytes():
    small = compact(FIGURE)
    assert drawn(small) == drawn(FIGURE)
    assert len(small) < len(FIGURE)
    root = ET.fromstring(small)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert len(ids) == 2  # what something refers to (the clip, the tick) stays, renamed; matplotlib's labels go
    assert not [e for e in root.iter(f"{{{SVG}}}g") if not e.attrib]  # bare groups unwrapped


def test_compact_svg_moves_each_distinct_style_into_one_class_scoped_to_the_figure():
    small = compact(FIGURE)
    rules = {k: re.sub(r"#i[0-9a-f]{5}-0", "#clip1", v) for k, v in re.findall(r"\.(c[0-9a-f]{5}\d+)\{([^}]*)\}", small)}
    # the tick's path and its use share one rule, both labels another; the line keeps its clip in its rule
    assert sorted(rules.values()) == sorted(["stroke: #000000; stroke-width: 0.8", "font-size: 9px",
                                             "fill: none; stroke: #0969da; clip-path: url(#clip1)"])
    assert "style=" not in small.split("</defs>", 1)[1] and "clip-path=" not in small
    other = compact(FIGURE.replace("#0969da", "#cf222e"))
    prefix = lambda svg: re.search(r"\.(c[0-9a-f]{5})", svg).group(1)
    assert prefix(small) != prefix(other)  # two figures of one page never share a class name by accident


def test_compact_svg_drops_only_rotations_by_zero():
    small = compact(FIGURE)
    assert "rotate(-0" not in small and "rotate(-90 4 8)" in small


def test_method_notes_say_a_long_shared_part_once():
    shared = "timm vit_base_patch16_224 built on the meta device at 224px, head excluded"
    checks = [{"nodeid": f"t[{i}]", "measured": {"method": f"count {i}; {shared}; short"}} for i in range(3)]
    checks.append({"nodeid": "t[x]", "measured": {"method": "something else entirely, measured on its own"}})
    notes, parts = method_notes(checks)
    assert notes == [shared]  # "short" is shared but too short to be worth a note
    assert parts["t[1]"] == ["count 1", 1, "short"] and parts["t[x]"] == ["something else entirely, measured on its own"]


def test_kind_and_tier_are_said_once_only_when_every_check_shares_them():
    same = [{"kind": "value", "tier": "architecture"}, {"kind": "value", "tier": "architecture"}]
    assert shared_kind_tier(same) == ("value", "architecture")
    assert shared_kind_tier(same + [{"kind": "ordering", "tier": "architecture"}]) is None
    assert shared_kind_tier(same[:1]) is None  # one row: its own column says it


def test_unindent_keeps_preformatted_text():
    html = "<div>\n    <p>x</p>\n  <pre>{\n  \"a\": 1\n}</pre>\n    <p>y</p>"
    assert unindent(html) == "<div>\n<p>x</p>\n<pre>{\n  \"a\": 1\n}</pre>\n<p>y</p>"


def test_a_long_check_id_keeps_its_parameters_in_a_figure_label():
    # Before: the first 41 characters and "…", so a function's checks all read "test_position_encoding_beats_non…".
    ids = [f"test_position_encoding_beats_none_on_digits[{p}]" for p in ("1d", "2d", "relative")]
    labels = [check_label(i) for i in ids]
    assert labels == ["test_position_encoding_beats_none_on_…[1d]", "test_position_encoding_beats_none_on_…[2d]",
                      "test_position_encoding_beats_no…[relative]"]
    assert all(len(label) == 42 for label in labels)
    assert check_label("test_short[a]") == "test_short[a]"
    long_params = "test_x[" + "p" * 40 + "]"  # parameters longer than half the width: cut at the end instead
    assert check_label(long_params) == long_params[:41] + "…"


def test_two_figures_with_the_same_marker_share_no_id_and_every_reference_resolves():
    other = FIGURE.replace("M 1 1 L 5 5", "M 1 1 L 6 2")  # another figure, the same marker and clip names
    page = compact(FIGURE) + compact(other)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == 4 and len(set(ids)) == 4
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', page))
    assert refs and refs <= set(ids)


def test_an_ordering_label_cut_to_fit_keeps_its_number():
    from matplotlib.figure import Figure

    from pytest_claims.report.plots import _draw_orderings

    check = {"id": "test_cnn_beats_vit[n=50]", "kind": "ordering", "verdict": "verified",
             "measured": {"value": 12.3456, "low": 10.0, "high": 14.0},
             "rule": {"a_label": "ResNet-style CNN (n=50)", "b_label": "ViT (patch 4, depth 6, width 128)"}}
    ax = Figure().subplots()
    _draw_orderings(ax, [check])
    [label] = [t.get_text() for t in ax.texts]
    assert label.endswith(": +12.35") and len(label) <= 36 and label.startswith("ResNet-style CNN (n=50) − V")
