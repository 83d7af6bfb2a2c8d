"""The plugin's report additions: a claim's verdict per family of evidence, sections a project adds through
``pytest_claims_sections``, figures a check carries, and orderings of printed summaries (``ordering_summary``).

Each rule is fed evidence that must change its answer: a family whose checks disagree with the claim's other
families, a link to a check the report lacks, a malformed section, printed means that tie or reverse.
"""

from __future__ import annotations

import json
import re

import numpy  # noqa: F401 - loaded once here: numpy refuses a second import after a pytester run drops it
import pytest
from test_plugin import CATALOG, CONFTEST, PYPROJECT, run

from pytest_claims import CheckRecord, Plan, Summary
from pytest_claims.assemble import build_document
from pytest_claims.config import ClaimsConfigError, parse_families
from pytest_claims.families import family_of, family_verdicts
from pytest_claims.records import ClaimRecord
from pytest_claims.report.html import anchor, render_html
from pytest_claims.report.plots import figure_svg
from pytest_claims.sections import SectionError, collect_sections, section
from pytest_claims.summary import summary_ordering_rule

pytest_plugins = ["pytester"]

FAMILIES = parse_families({"consistency": ["consistency*"], "analysis": ["analysis*"], "eval": ["eval*"]})


def record(nodeid: str, verdict: str, tier: str = "", plan_tier: str | None = None, claim: str = "c") -> CheckRecord:
    plan = Plan("value", plan_tier) if plan_tier else None
    return CheckRecord(claim=claim, id=nodeid, nodeid=nodeid, kind="value", verdict=verdict, reason="r", tier=tier,
                       plan=plan)


# -- families -------------------------------------------------------------------------------------------------

def test_a_check_belongs_to_the_first_family_its_tier_or_plan_matches():
    assert family_of(record("a", "verified", tier="consistency (printed)"), FAMILIES) == "consistency"
    assert family_of(record("b", "not_run", plan_tier="analysis (weights)"), FAMILIES) == "analysis"
    assert family_of(record("c", "untestable", plan_tier="pre-training on JFT-300M"), FAMILIES) == "other"
    overlapping = parse_families({"first": ["eval*"], "second": ["eval (timm*"]})
    assert family_of(record("d", "verified", tier="eval (timm preprocessing)"), overlapping) == "first"


def test_each_family_is_judged_by_the_claim_rule_on_its_own_checks():
    checks = [record("a", "verified", tier="consistency"), record("b", "verified", tier="consistency"),
              record("c", "not_run", plan_tier="analysis"), record("d", "refuted", tier="eval"),
              record("e", "untestable", plan_tier="JFT")]
    by_family = {f["family"]: f for f in family_verdicts(checks, FAMILIES)}
    assert list(by_family) == ["consistency", "analysis", "eval", "other"]  # configured order, other last
    assert {name: f["verdict"] for name, f in by_family.items()} == {
        "consistency": "verified", "analysis": "not_run", "eval": "refuted", "other": "untestable"}
    assert by_family["consistency"]["checks"] == ["a", "b"] and by_family["eval"]["counts"]["refuted"] == 1
    assert family_verdicts(checks, ()) == ()  # no families configured: nothing added


def test_families_travel_in_the_report_and_back():
    document = build_document(None, [record("a", "verified", tier="consistency"),
                                     record("b", "not_run", plan_tier="eval")], {}, families=FAMILIES)
    (claim,) = document["claims"]
    assert claim["verdict"] == "inconclusive"  # the claim itself is judged on all its checks
    assert [(f["family"], f["verdict"]) for f in claim["families"]] == [("consistency", "verified"), ("eval", "not_run")]
    assert ClaimRecord.from_json(claim).to_json() == claim
    old = dict(claim)
    del old["families"]  # a report written before families existed
    assert ClaimRecord.from_json(old).families == ()


@pytest.mark.parametrize("table,message", [({"a": "eval*"}, "non-empty list"), ({"a": []}, "non-empty list"),
                                           ({"other": ["x*"]}, "reserved"), (["eval*"], "table")])
def test_malformed_families_are_refused_with_what_to_write(table, message):
    with pytest.raises(ClaimsConfigError, match=message):
        parse_families(table)


# -- sections -------------------------------------------------------------------------------------------------

SECTION = {"id": "repro", "title": "Questions", "intro": "answered here",
           "items": [{"question": "Q?", "answer": "A.", "verdict": "verified",
                      "links": [{"text": "claim", "claim": "arch"}, {"text": "check", "check": "claims/t.py::test_x"},
                                {"text": "missing", "href": "#missing"}]}]}


def test_a_valid_section_is_kept_as_written():
    assert section(SECTION)["items"][0]["links"][1] == {"text": "check", "check": "claims/t.py::test_x"}
    assert collect_sections([None, [SECTION]]) == [section(SECTION)]


@pytest.mark.parametrize("change,message", [
    (lambda s: s.update(id="9 bad"), "must start with a letter"),
    (lambda s: s.update(items=[]), "non-empty list"),
    (lambda s: s["items"][0].update(verdict="great"), "verdict must be one of"),
    (lambda s: s["items"][0].update(answer=" "), "answer must be a non-empty string"),
    (lambda s: s["items"][0]["links"].append({"text": "two", "claim": "a", "href": "#b"}), "exactly one target"),
    (lambda s: s["items"][0]["links"].append({"text": "js", "href": "javascript:alert(1)"}), "fragment"),
])
def test_a_malformed_section_is_refused_naming_the_field(change, message):
    broken = json.loads(json.dumps(SECTION))
    change(broken)
    with pytest.raises(SectionError, match=message):
        section(broken)


def test_section_ids_are_unique():
    with pytest.raises(SectionError, match="unique"):
        collect_sections([[SECTION], [SECTION]])


SECTIONS_CONFTEST = CONFTEST + '''

def pytest_claims_sections(config, document):
    verdicts = {c["id"]: c["verdict"] for c in document["claims"]}
    first = document["claims"][0]["checks"][0]["nodeid"]
    return [{"id": "repro", "title": "Reproducibility questions", "intro": "from this run",
             "items": [{"question": "Did it hold?", "answer": f"arch is {verdicts['arch']}", "verdict": verdicts["arch"],
                        "links": [{"text": "arch", "claim": "arch"}, {"text": "first check", "check": first},
                                  {"text": "gone", "check": "claims/nowhere.py::test_gone"}]}]}]
'''
FAMILY_PYPROJECT = PYPROJECT + '''
[tool.claims.families]
measured = ["eval*", "counted*"]
'''
SECTION_SUITE = '''
import pytest
from types import SimpleNamespace

from pytest_claims import Measurement, Summary

pytestmark = pytest.mark.claim("arch")
CELL = SimpleNamespace(value=12, std=None, unit="count", table="Table 1", row="ViT-Base", column="Layers")


def test_layers(claim_check):
    claim_check.value(Measurement(12, method="counted"), CELL, "exact", "counted from the module",
                      details={"figure": {"kind": "scatter", "title": "depth", "xlabel": "layer", "ylabel": "px",
                                          "series": [{"label": "ViT", "x": [0, 1], "y": [10.0, 90.0]}],
                                          "hlines": [{"y": 50.0, "label": "half"}]}})


def test_printed(claim_check):
    claim_check.ordering_summary(Summary(87.76, 0.03, 3), Summary(87.54, 0.02, 3), "consistency (printed)",
                                 a_label="ViT", b_label="BiT", description="ViT above BiT as printed")
'''


@pytest.fixture
def sectioned(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyprojecttoml(FAMILY_PYPROJECT)
    pytester.mkdir("paper")
    pytester.path.joinpath("paper", "claims.toml").write_text(CATALOG, encoding="utf-8")
    pytester.path.joinpath("paper", "discrepancies.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    pytester.makeconftest(SECTIONS_CONFTEST)
    pytester.mkpydir("claims")
    pytester.path.joinpath("claims", "test_sectioned.py").write_text(SECTION_SUITE, encoding="utf-8")
    return pytester


def test_sections_families_and_figures_reach_the_report(sectioned):
    run(sectioned, "claims/test_sectioned.py")
    doc = json.loads((sectioned.path / "reports" / "claims.json").read_text(encoding="utf-8"))
    html = (sectioned.path / "reports" / "index.html").read_text(encoding="utf-8")
    arch = next(c for c in doc["claims"] if c["id"] == "arch")
    assert [(f["family"], f["verdict"]) for f in arch["families"]] == [("measured", "verified"), ("other", "verified")]
    (repro,) = doc["sections"]
    assert repro["items"][0]["answer"] == f"arch is {arch['verdict']}"
    first = arch["checks"][0]["nodeid"]
    assert f'href="#{anchor(first)}"' in html and f'id="{anchor(first)}"' in html  # the link lands on the row
    assert "not in this report" in html  # a check the report lacks is named, not linked
    assert 'id="section-repro"' in html and 'class="fam v-verified"' in html
    assert html.count("<figure>") == 1 and "<svg" in html.split("<figure>")[1]
    printed = next(c for c in arch["checks"] if c["id"] == "test_printed")
    assert printed["kind"] == "ordering" and printed["plan"]["description"] == "ViT above BiT as printed"
    assert printed["measured"]["extra"]["a"]["printed"] == "87.76 ± 0.03 (n=3)"


def test_a_broken_sections_hook_leaves_the_report_whole_and_says_so(sectioned):
    sectioned.makeconftest(CONFTEST + "\n\ndef pytest_claims_sections(config, document):\n    return [{'id': 'x'}]\n")
    result = run(sectioned, "claims/test_sectioned.py")
    result.stdout.fnmatch_lines(["*report sections left out: *items must be a non-empty list*"])
    doc = json.loads((sectioned.path / "reports" / "claims.json").read_text(encoding="utf-8"))
    assert doc["sections"] == [] and doc["claims"]


def test_every_problem_of_a_run_is_said_not_only_the_last(sectioned):
    # Before: one slot for the run's problems, so the history's problem hid the sections' one.
    sectioned.makeconftest(CONFTEST + "\n\ndef pytest_claims_sections(config, document):\n    return [{'id': 'x'}]\n")
    sectioned.path.joinpath("notes.txt").write_text("not a database", encoding="utf-8")
    result = run(sectioned, "claims/test_sectioned.py", "--claims-history", "notes.txt")
    result.stdout.fnmatch_lines(["*report sections left out: *items must be a non-empty list*",
                                 "*history not written to *notes.txt*"])


def test_an_old_report_renders_without_families_sections_or_figures():
    document = build_document(None, [record("a", "verified", tier="eval")], {})
    del document["claims"][0]["families"]
    html = render_html(document)
    assert "By evidence" not in html and 'id="section-' not in html and "<figure>" not in html


# -- figures --------------------------------------------------------------------------------------------------

def test_figures_of_the_two_kinds_and_nothing_else():
    scatter = figure_svg({"kind": "scatter", "title": "t", "series": [{"label": "a", "x": [0, 1], "y": [1, 2]}]})
    heatmaps = figure_svg({"kind": "heatmaps", "rows": 1, "cols": 2, "vmin": -1, "vmax": 1,
                           "maps": [{"label": "m1", "z": [[0, 1], [1, 0]]}, {"label": "m2", "z": [[1, 1], [0, 0]]}]})
    assert scatter.startswith("<svg") and heatmaps.startswith("<svg") and "m2" in heatmaps
    assert figure_svg({"kind": "pie"}) is None and figure_svg(None) is None
    assert re.search(r"<script", scatter) is None


# -- orderings of printed summaries ---------------------------------------------------------------------------

def test_welch_on_printed_spreads_decides_each_way():
    ahead = summary_ordering_rule(Summary(87.76, 0.03, 3), Summary(87.54, 0.02, 3), 0.05)
    behind = summary_ordering_rule(Summary(87.54, 0.02, 3), Summary(87.76, 0.03, 3), 0.05)
    within = summary_ordering_rule(Summary(76.28, 0.46, 3), Summary(76.29, 1.70, 3), 0.05)
    assert (ahead.verdict, behind.verdict, within.verdict) == ("verified", "refuted", "inconclusive")
    assert ahead.rule["low"] > 0 > behind.rule["high"] and within.rule["low"] < 0 < within.rule["high"]
    assert ahead.rule["df"] == pytest.approx(3.48, abs=0.01)  # Welch–Satterthwaite


def test_a_side_printed_without_spread_is_compared_as_printed_and_a_tie_decides_nothing():
    tie = summary_ordering_rule(Summary(90.54, 0.03, 3), 90.54, 0.05)
    assert tie.verdict == "inconclusive" and "equal as printed" in tie.reason and tie.rule["as_printed"]
    assert summary_ordering_rule(99.07, 99.06, 0.05).verdict == "verified"
    assert summary_ordering_rule(99.06, 99.07, 0.05).verdict == "refuted"


def test_printed_orderings_with_a_margin():
    comparable = summary_ordering_rule(0.8099, 0.8128, 0.05, margin=0.005)
    worse = summary_ordering_rule(0.80, 0.81, 0.05, margin=0.005)
    assert (comparable.verdict, worse.verdict) == ("verified", "refuted")
    within = summary_ordering_rule(Summary(0.80, 0.01, 3), Summary(0.81, 0.01, 3), 0.05, margin=0.005)
    assert within.verdict == "inconclusive"


def test_both_sides_without_variation_are_compared_as_printed():
    outcome = summary_ordering_rule(Summary(99.74, 0.0, 3), Summary(99.63, 0.0, 3), 0.05)
    assert outcome.verdict == "verified" and outcome.rule["as_printed"] and "± 0" in outcome.reason


@pytest.mark.parametrize("kwargs", [{"mean": 1.0, "std": 0.1}, {"mean": 1.0, "std": -0.1, "n": 3},
                                    {"mean": 1.0, "std": 0.1, "n": 1}, {"mean": float("nan")}])
def test_a_summary_needs_a_finite_mean_and_a_spread_with_its_run_count(kwargs):
    with pytest.raises(ValueError):
        Summary(**kwargs)


def test_a_summary_says_how_its_mean_was_read_and_only_printed_ones_are_called_printed():
    """A value read between printed numbers (a frontier) labelled "printed" would pass it off as the paper's."""
    read = Summary(0.81, source="interpolated")
    assert read.to_json() == {"mean": 0.81, "std": None, "n": None, "source": "interpolated"}
    assert Summary(0.8).to_json() == {"mean": 0.8, "std": None, "n": None}  # printed: as every report had it
    rule = summary_ordering_rule(Summary(0.83), read, alpha=0.05).rule
    assert rule["method"] == "printed and interpolated means compared as they stand (no spread to judge with)"
    assert summary_ordering_rule(Summary(0.83), Summary(0.8), alpha=0.05).rule["method"] == (
        "printed means compared as printed (no spread to judge with)")
    for bad in ("", "  ", None):
        with pytest.raises(ValueError, match="how its mean was read"):
            Summary(0.8, source=bad)
