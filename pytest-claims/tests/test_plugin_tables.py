"""Results as a table (``pytest_claims.frame``, ``python -m pytest_claims table``), readable JUnit
properties, and the report's compact layout of set-aside checks (grouped by reason, paper grids)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy  # noqa: F401 - loaded once here: numpy refuses a second import after a pytester run drops it
import pandas as pd
import pytest
from test_plugin import make_project, run

from pytest_claims import frame
from pytest_claims.assemble import build_document
from pytest_claims.history import record_run
from pytest_claims.records import CheckRecord, Measurement, PaperValue, Plan, Source
from pytest_claims.report.groups import group_checks, shared_reason
from pytest_claims.report.html import anchor

pytest_plugins = ["pytester"]


def _document(width: float) -> dict:
    records = [
        CheckRecord(claim="c", id="t_width", nodeid="m.py::t_width", kind="value", verdict="verified", reason="",
                    tier="architecture", paper=PaperValue(768, None, "", Source("Table 1", "Base", "Width")),
                    measured=Measurement(width, low=width - 1, high=width + 1, n=5)),
        CheckRecord(claim="c", id="t_jft", nodeid="m.py::t_jft", kind="untestable", verdict="untestable",
                    reason="private data"),
    ]
    doc = build_document(None, records, {"timestamp": f"t{width}", "git": {"commit": "abc", "dirty": False}},
                         {"m.py::t_width": 0, "m.py::t_jft": 1}, configuration={"tiers": ["x"]},
                         durations={"m.py::t_width": 1.5})
    return json.loads(json.dumps(doc))


def test_frame_of_a_report_and_of_the_history(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(_document(768)))
    one = frame(path)
    assert list(one["check"]) == ["t_width", "t_jft"]
    width = one.set_index("check").loc["t_width"]
    assert (width["claim"], width["verdict"], width["paper_value"], width["paper_table"], width["paper_row"],
            width["paper_column"], width["measured_value"], width["measured_low"], width["measured_n"],
            width["duration"]) == ("c", "verified", 768, "Table 1", "Base", "Width", 768, 767, 5, 1.5)
    assert frame(tmp_path).equals(one)  # the report's folder reads the same

    history = tmp_path / "history.sqlite"
    record_run(history, _document(768))
    record_run(history, _document(770))
    runs = frame(history)
    assert len(runs) == 4 and list(runs["run"]) == [1, 1, 2, 2]
    assert list(runs[runs["check"] == "t_width"]["measured_value"]) == [768.0, 770.0]
    assert list(runs.columns) == list(one.columns)


def test_table_command_writes_csv(tmp_path):
    history = tmp_path / "history.sqlite"
    record_run(history, _document(768))
    done = subprocess.run([sys.executable, "-m", "pytest_claims", "table", str(history), "--csv",
                           str(tmp_path / "out.csv")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "out.csv")
    assert list(table["check"]) == ["t_width", "t_jft"] and list(table["verdict"]) == ["verified", "untestable"]


def test_junit_xml_carries_verdict_paper_and_measured_value(pytester: pytest.Pytester):
    project = make_project(pytester)
    (project.path / "claims" / "__init__.py").unlink()  # the project's own `claims` package may be imported
    run(project, "-k", "layers_contradicts or jft_untestable", "--junitxml", "junit.xml")
    cases = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(project.path / "junit.xml").getroot().iter("testcase")}
    refuted = cases["test_layers_contradicts"]
    assert (refuted["claims_claim"], refuted["claims_verdict"], refuted["claims_paper_value"],
            refuted["claims_paper_source"], refuted["claims_measured_value"]) == (
        "arch", "refuted", "12.0", "Table 1 / ViT-Base / Layers", "13")
    assert json.loads(refuted["claims_record"])["verdict"] == "refuted"  # JSON, not a Python repr
    untestable = cases["test_jft_untestable"]
    assert untestable["claims_verdict"] == "untestable" and "claims_measured_value" not in untestable
    assert untestable["claims_reason"] == "JFT-300M is not public"


def _untestable(row: str, column: str, value: float) -> dict:
    paper = PaperValue(value, None, "%", Source("Table 2", row, column))
    return CheckRecord(claim="jft", id=f"n[{row}-{column}]", nodeid=f"m.py::n[{row}-{column}]", kind="untestable",
                       verdict="untestable", reason=f"Table 2 / {row} / {column}: JFT-300M is private", paper=paper,
                       plan=Plan("value", "jft", description=f"{row} {column}", tolerance="accuracy")).to_json()


def test_numbers_with_one_cause_are_one_group_laid_out_as_the_paper_prints_them():
    rows, columns = ["ImageNet", "CIFAR-10", "Pets"], ["ViT-H/14", "ViT-L/16", "BiT-L"]
    checks = [_untestable(r, c, 90 + i) for i, (r, c) in enumerate((r, c) for r in rows for c in columns)]
    checks.append({**_untestable("ImageNet", "Noisy Student", 88.4), "reason": "another cause"})
    assert shared_reason(checks[0]) == "JFT-300M is private"
    first, second = group_checks(checks)
    assert first["reason"] == "JFT-300M is private" and len(first["checks"]) == 9
    [grid] = first["grids"]
    assert (grid["table"], grid["rows"], grid["columns"]) == ("Table 2", rows, columns)
    assert grid["cells"]["CIFAR-10"]["BiT-L"]["paper"]["value"] == 95 and first["listed"] == []
    assert list(first["plans"].values()) == [9]  # one plan line: descriptions name the cell, the grid shows it
    assert second["reason"] == "another cause" and second["grids"] == [] and len(second["listed"]) == 1


def test_report_draws_one_grid_per_paper_table(tmp_path):
    checks = [_untestable(r, c, 80 + i) for i, (r, c) in enumerate((r, c) for r in "ABC" for c in "xyz")]
    doc = build_document(None, [CheckRecord.from_json(c) for c in checks], {},
                         {c["nodeid"]: i for i, c in enumerate(checks)})
    (tmp_path / "claims.json").write_text(json.dumps(doc))
    code = "import sys; from pytest_claims.report import render; render(sys.argv[1])"  # matplotlib: own process
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "claims.json")], check=True)
    html = (tmp_path / "set-aside.html").read_text(encoding="utf-8")  # the checks set aside: a page of their own
    grids = re.findall(r'<table class="grid small"><caption>(.*?)</caption>(.*?)</table>', html, flags=re.DOTALL)
    assert [caption for caption, _ in grids] == ['Table 2 <span class="muted">(%)</span>']
    body = grids[0][1]
    assert re.findall(r"<tr><th>(\w)</th>", body) == list("ABC")
    assert re.findall(r"<th>(\w)</th>", body.split("</thead>")[0]) == list("xyz")
    cell_b_y = next(c for c in checks if c["id"] == "n[B-y]")
    assert f'<td id="{anchor(cell_b_y["nodeid"])}">84</td>' in body  # the cell is the check's anchor (links land)
    assert html.count("JFT-300M is private") == 1  # the cause once, not once per number
