"""End to end, what a second paper's suite (examples/resnet) needed: the paper named in the report, the paper's
numbers through ``[tool.claims] numbers`` and the ``paper_numbers`` fixture, a digits tolerance, a value judged on a
set of readings, an ordering of errors (lower is better) that shows its paper cells, and ``--claims-config``."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

PYPROJECT = """
[tool.pytest.ini_options]
testpaths = ["."]

[tool.claims]
catalog = "claims.toml"
numbers = "numbers.csv"
report_dir = "reports"

[tool.claims.tolerances]
printed = { digits = 0.5 }
"""

CATALOG = """
[paper]
title = "Deep <i>Residual</i> Learning"
authors = "He et al."
arxiv = "1512.03385"

[[claims]]
id = "flops"
title = "FLOPs"
statement = "ResNet-50 has 3.8 billion FLOPs"
source = "Table 1"

[[claims]]
id = "order"
title = "plain-18 beats plain-34"
statement = "the deeper plain net has higher error"
source = "Table 2"
"""

NUMBERS = """table,row,column,value,std,unit,checked_against
Table 1,50-layer,FLOPs,3.8,,10^9,Table 1 bottom row
Table 1,18-layer,FLOPs,1.8,,10^9,Table 1 bottom row
Table 2,plain,18 layers,27.94,,% top-1 error,Table 2
Table 2,plain,34 layers,28.54,,% top-1 error,Table 2
"""

SUITE = """
import pytest
from pytest_claims import Summary

@pytest.mark.claim("flops")
def test_no_reading_fits(claim_check, paper_numbers):
    # readings either side of 3.8 +- 0.05: an interval [3.50, 4.09] would overlap the band, no reading lies in it
    claim_check.value_readings({"option A": 3.50, "option B": 4.09, "option B, no FC": 3.856},
                               paper=paper_numbers.number("Table 1", "50-layer", "FLOPs"), tolerance="printed",
                               tier="recomputed", method="multiply-adds")

@pytest.mark.claim("flops")
def test_one_reading_fits(claim_check, paper_numbers):
    claim_check.value_readings({"with FC": 1.9, "no FC": 1.82},
                               paper=paper_numbers.number("Table 1", "18-layer", "FLOPs"), tolerance="printed",
                               tier="recomputed")

@pytest.mark.claim("order")
def test_plain18_below_plain34(claim_check, paper_numbers):
    a, b = (paper_numbers.number("Table 2", "plain", f"{d} layers") for d in (18, 34))
    claim_check.ordering_summary(Summary(a.value), Summary(b.value), tier="consistency", a_label="plain-18",
                                 b_label="plain-34", paper_a=a, paper_b=b, higher_is_better=False)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.path.joinpath("claims.toml").write_text(CATALOG, encoding="utf-8")
    pytester.path.joinpath("numbers.csv").write_text(NUMBERS, encoding="utf-8")
    pytester.path.joinpath("test_resnet.py").write_text(SUITE, encoding="utf-8")
    return pytester


def _checks(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for claim in doc["claims"] for c in claim["checks"]}


def test_a_second_paper_is_judged_and_named_in_its_report(project):
    result = project.runpytest("-p", "no:unraisableexception")
    result.assert_outcomes(passed=2, failed=1)
    doc = json.loads((project.path / "reports" / "claims.json").read_text(encoding="utf-8"))
    html = (project.path / "reports" / "index.html").read_text(encoding="utf-8")
    assert doc["paper"] == {"title": "Deep <i>Residual</i> Learning", "authors": "He et al.", "arxiv": "1512.03385"}
    assert "<title>Claims report: Deep &lt;i&gt;Residual&lt;/i&gt; Learning</title>" in html
    assert 'arXiv <a href="https://arxiv.org/abs/1512.03385">1512.03385</a>' in html
    checks = _checks(doc)

    none_fits = checks["test_no_reading_fits"]
    assert none_fits["verdict"] == "refuted" and none_fits["measured"]["value"] == 3.856
    assert none_fits["measured"]["extra"]["inside"] == [] and none_fits["measured"]["extra"]["closest"] == "option B, no FC"
    assert none_fits["rule"]["band"] == pytest.approx(0.05) and none_fits["paper"]["decimals"] == 1
    assert "the closest to the paper of 3 readings: option B, no FC" in none_fits["measured"]["method"]
    one_fits = checks["test_one_reading_fits"]
    assert one_fits["verdict"] == "verified" and one_fits["measured"]["extra"]["inside"] == ["no FC"]

    order = checks["test_plain18_below_plain34"]
    assert order["verdict"] == "verified" and order["measured"]["value"] == pytest.approx(0.60)
    assert order["measured"]["extra"]["a"]["paper"]["source"] == {"table": "Table 2", "row": "plain",
                                                                  "column": "18 layers"}
    assert "plain-18 below plain-34" in order["reason"]
    row = html[html.index('<code>test_plain18_below_plain34</code>'):]
    row = row[:row.index("</tr>")]
    assert "27.94" in row and "Table 2 · plain · 34 layers" in row  # the Paper column shows both cells


def test_claims_config_names_the_settings_of_a_folder_without_its_own_ini(pytester: pytest.Pytester):
    """Without the option pytest's ini (here one without [tool.claims]) leaves the catalog unset; with it the
    named file's [tool.claims] is read and its relative paths from its folder."""
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["."]\n')
    paper = pytester.mkdir("resnet")
    paper.joinpath("settings.toml").write_text(PYPROJECT.replace("[tool.pytest.ini_options]\ntestpaths = [\".\"]", ""),
                                               encoding="utf-8")
    paper.joinpath("claims.toml").write_text(CATALOG, encoding="utf-8")
    paper.joinpath("numbers.csv").write_text(NUMBERS, encoding="utf-8")
    paper.joinpath("test_resnet.py").write_text(SUITE, encoding="utf-8")
    without = pytester.runpytest("-p", "no:unraisableexception", "resnet")
    assert without.ret != 0 and "no claim catalog is configured" in without.stdout.str() + without.stderr.str()
    result = pytester.runpytest("-p", "no:unraisableexception", "resnet", "--claims-config", "resnet/settings.toml")
    result.assert_outcomes(passed=2, failed=1)
    assert (paper / "reports" / "claims.json").is_file() and not (pytester.path / "reports").exists()
    missing = pytester.runpytest("--claims-config", "nowhere.toml")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR and "--claims-config nowhere.toml: no such file" in (
        missing.stderr.str())
