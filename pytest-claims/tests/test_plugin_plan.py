"""The plugin's planned checks, alternate statements and project data, and its module boundaries.

Planned checks: every record says what it checks (kind, sides and margin or tolerance, tier), decided
or not. The synthetic suite of ``test_plugin`` is reused; its catalog gives claim ``arch`` project data
(never shown) and an alternate wording (shown).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy  # noqa: F401 - loaded once here: numpy refuses a second import after a pytester run drops it
import pytest
from markupsafe import escape
from test_plugin import aside, checks, claims, html_rows, make_project, report, run

import pytest_claims
from pytest_claims import Alternate, CheckRecord, ClaimRecord, Plan
from pytest_claims.catalog import CatalogError, load_catalog

pytest_plugins = ["pytester"]

# The package as imported: its source tree in a checkout, site-packages where it is installed.
PLUGIN = Path(pytest_claims.__file__).resolve().parent

PLAN_SUITE = '''
from types import SimpleNamespace

import numpy as np
import pytest

from pytest_claims import Measurement, Plan

pytestmark = pytest.mark.claim("order")

CELL = SimpleNamespace(value=87.76, std=0.03, unit="%", table="Table 2", row="ViT-L/16", column="ImageNet")
SIDES = {"a_label": "ViT", "b_label": "CNN"}


def paired():
    u = np.random.default_rng(0).random(3000)
    return u < 0.90, u < 0.80


def test_value(claim_check):
    claim_check.value(Measurement(87.7, low=87.0, high=88.4, n=10000), CELL, "accuracy", "eval")


def test_ordering(claim_check):
    claim_check.ordering(*paired(), "eval", **SIDES)


def test_ordering_margin(claim_check):
    claim_check.ordering(*paired(), "eval", margin="comparable", **SIDES)


def test_scores(claim_check):
    a = np.random.default_rng(1).normal(size=200)
    claim_check.ordering_scores(a + 0.5, a, "mean", "probe", margin="comparable", n_resamples=999, **SIDES)


def test_not_run_ordering(claim_check):
    claim_check.not_run("ImageNet missing under /data", needs=["ImageNet: pass --data DIR"],
                        plan=Plan("ordering", "probe", description="ViT ahead on ImageNet",
                                  a_label="ViT <b>L</b>", b_label="CNN", margin="comparable"))


def test_untestable_value(claim_check):
    claim_check.untestable("private data", paper=CELL, plan=Plan("value", "eval", tolerance="accuracy"))


def test_not_run_without_plan(claim_check):
    claim_check.not_run("no plan given")


def test_unknown_margin_in_plan(claim_check):
    claim_check.not_run("x", plan=Plan("ordering", "probe", a_label="A", b_label="B", margin="comparible"))


def test_unknown_tolerance_in_plan(claim_check):
    claim_check.untestable("x", plan=Plan("value", "eval", tolerance="exactly"))


def test_plan_is_not_a_plan(claim_check):
    claim_check.not_run("x", plan={"kind": "value", "tier": "eval"})


def test_ordering_plan_without_sides(claim_check):
    claim_check.not_run("x", plan=Plan("ordering", "probe", a_label="A"))


def test_blank_tier(claim_check):
    claim_check.ordering(*paired(), "  ", **SIDES)
'''

NONE = {"description": None, "a": None, "b": None, "margin": None, "margin_value": None, "tolerance": None,
        "tolerance_value": None}
ACCURACY = {"abs": 1.0, "rel": 0.0, "sigmas": 2.0}  # [tool.claims.tolerances] accuracy of test_plugin


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    return make_project(pytester)


@pytest.fixture
def planned(project: pytest.Pytester) -> tuple[pytest.RunResult, dict, str]:
    project.path.joinpath("claims", "test_plan.py").write_text(PLAN_SUITE, encoding="utf-8")
    result = run(project, "claims/test_plan.py")
    return (result, *report(project))


def test_every_call_kind_records_its_plan_with_resolved_settings(planned):
    result, doc, _ = planned
    result.assert_outcomes(passed=4, skipped=3, failed=5)
    by_id = checks(doc)
    sides = {"a": "ViT", "b": "CNN"}
    comparable = {"margin": "comparable", "margin_value": 0.005}
    assert by_id["test_value"]["plan"] == {
        **NONE, "kind": "value", "tier": "eval", "tolerance": "accuracy", "tolerance_value": ACCURACY}
    assert by_id["test_ordering"]["plan"] == {**NONE, "kind": "ordering", "tier": "eval", **sides}
    assert by_id["test_ordering_margin"]["plan"] == {**NONE, "kind": "ordering", "tier": "eval", **sides, **comparable}
    assert by_id["test_scores"]["plan"] == {**NONE, "kind": "ordering_scores", "tier": "probe", **sides, **comparable}
    assert by_id["test_not_run_ordering"]["plan"] == {
        **NONE, "kind": "ordering", "tier": "probe", "description": "ViT ahead on ImageNet", "a": "ViT <b>L</b>",
        "b": "CNN", **comparable}
    untestable = by_id["test_untestable_value"]
    assert untestable["plan"] == {**NONE, "kind": "value", "tier": "eval", "tolerance": "accuracy",
                                  "tolerance_value": ACCURACY}
    assert untestable["paper"]["value"] == 87.76  # the paper cell stays the record's own
    assert by_id["test_not_run_without_plan"]["plan"] is None
    for cid in ("test_value", "test_ordering", "test_ordering_margin", "test_scores"):
        assert by_id[cid]["verdict"] == "verified", cid
        assert CheckRecord.from_json(by_id[cid]).plan == Plan.from_json(by_id[cid]["plan"])


def test_plan_errors_name_the_fix(planned):
    _, doc, _ = planned
    by_id = checks(doc)
    reasons = {cid: by_id[cid]["reason"] for cid in (
        "test_unknown_margin_in_plan", "test_unknown_tolerance_in_plan", "test_plan_is_not_a_plan",
        "test_ordering_plan_without_sides", "test_blank_tier")}
    assert all(by_id[cid]["verdict"] == "error" for cid in reasons)
    assert "unknown margin 'comparible'" in reasons["test_unknown_margin_in_plan"]
    assert "defines: comparable" in reasons["test_unknown_margin_in_plan"]
    assert "unknown tolerance 'exactly'" in reasons["test_unknown_tolerance_in_plan"]
    assert "defines: accuracy, exact" in reasons["test_unknown_tolerance_in_plan"]
    assert "plan must be a pytest_claims.Plan" in reasons["test_plan_is_not_a_plan"]
    assert "a_label and b_label are required" in reasons["test_ordering_plan_without_sides"]
    assert "tier must be a non-empty string" in reasons["test_blank_tier"]


def test_report_says_what_each_set_aside_check_would_check(planned, project):
    html = aside(project)  # the checks set aside are listed on their own page
    [row] = html_rows(html, "test_not_run_ordering")
    assert str(escape("ViT ahead on ImageNet · ordering: ViT <b>L</b> better than or comparable to CNN "
                      "(margin 'comparable' = 0.005) · tier: probe")) in row
    [row] = html_rows(html, "test_untestable_value")
    assert str(escape("value: the paper's number within tolerance 'accuracy' (abs 1 + 2·std) · tier: eval")) in row
    assert "87.76" in row
    # one more column only where a group has plans: the not-run group without any keeps its two
    assert html.count("<th>Would check</th>") == 2
    [row] = html_rows(html, "test_not_run_without_plan")
    assert row.count("<td") == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "mean", "tier": "eval"}, "plan kind must be one of value, ordering, ordering_scores"),
    ({"kind": "value", "tier": ""}, "tier must be a non-empty string"),
    ({"kind": "value", "tier": "eval", "description": ""}, "description must be None or a non-empty string"),
    ({"kind": "value", "tier": "eval", "description": "  "}, "description must be None or a non-empty string"),
    ({"kind": "ordering", "tier": "probe", "b_label": "B"}, "a_label and b_label are required"),
    ({"kind": "ordering_scores", "tier": "probe", "a_label": "A", "b_label": " "}, "b_label must be"),
    ({"kind": "ordering", "tier": "probe", "a_label": "A", "b_label": "B", "tolerance": "exact"},
     "takes a margin, not a tolerance"),
    ({"kind": "value", "tier": "eval", "margin": "comparable"}, "sides and margins are for orderings"),
    ({"kind": "value", "tier": "eval", "a_label": "A"}, "sides and margins are for orderings"),
])
def test_plan_refuses_what_cannot_be_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Plan(**kwargs)


def test_plan_round_trips_and_leaves_description_absent_not_empty():
    plan = Plan("ordering", " probe ", a_label=" A ", b_label="B", margin="m", margin_value=0.01)
    assert (plan.tier, plan.a_label, plan.description) == ("probe", "A", None)
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_reports_written_before_plans_and_alternates_still_load_and_render(project):
    """An older claims.json: no ``plan`` on checks, no ``alternates`` but a ``seed_statement`` on a claim."""
    run(project)
    doc, html = report(project)
    assert "Also stated as" in html
    for claim in doc["claims"]:
        del claim["alternates"]
        for check in claim["checks"]:
            del check["plan"]
    doc["claims"][1]["seed_statement"] = "A <i>wins</i>"
    record = ClaimRecord.from_json(doc["claims"][1])
    assert record.alternates == (Alternate("seed statement", "A <i>wins</i>"),)
    assert all(c.plan is None for c in record.checks)
    assert ClaimRecord.from_json(doc["claims"][0]).alternates == ()
    project.path.joinpath("old.json").write_text(json.dumps(doc), encoding="utf-8")
    # a subprocess: importing the report (matplotlib) here would break later in-process pytester runs
    subprocess.run([sys.executable, "-m", "pytest_claims.report", "old.json", "-o", "old.html"],
                   cwd=project.path, check=True, capture_output=True)
    old = (project.path / "old.html").read_text(encoding="utf-8")
    assert "<b>Also stated as</b> (seed statement): “A &lt;i&gt;wins&lt;/i&gt;”" in old
    assert old.count("Also stated as") == 1 and "Would check" not in old


def test_alternates_are_shown_and_project_data_never(project):
    run(project)
    doc, html = report(project)
    arch = claims(doc)["arch"]
    assert arch["alternates"] == [{"source": "a <i>summary</i>", "text": "the summary says 12 <b>layers</b>"}]
    assert "<b>Also stated as</b> (a &lt;i&gt;summary&lt;/i&gt;): “the summary says 12 &lt;b&gt;layers&lt;/b&gt;”" in html
    assert arch["notes"] == {} and "data" not in arch  # [claims.data] is neither a note nor in the JSON
    text = (project.path / "reports" / "claims.json").read_text(encoding="utf-8")
    assert "never shown" not in text and "never shown" not in html
    catalog = load_catalog(project.path / "paper" / "claims.toml")
    assert catalog.claims[0].data == {"tables": ["Table 1"], "private": "<em>project data, never shown</em>"}


def _catalog(tmp_path: Path, text: str):
    path = tmp_path / "claims.toml"
    path.write_text('[[claims]]\nid = "c"\ntitle = "t"\nstatement = "s"\nsource = "x"\n' + text, encoding="utf-8")
    return load_catalog(path)


@pytest.mark.parametrize(("text", "message"), [
    ('[[claims.alternates]]\nsource = "a summary"\n', "exactly a non-empty source"),
    ('[[claims.alternates]]\nsource = "a summary"\ntext = " "\n', "exactly a non-empty source"),
    ('[[claims.alternates]]\nsource = "s"\ntext = "t"\nwhen = 2020\n', "exactly a non-empty source"),
    ('alternates = "the summary says so"\n', "alternates must be"),
    ('data = ["Table 1"]\n', "data must be a table"),
])
def test_catalog_refuses_malformed_alternates_and_data(tmp_path, text, message):
    with pytest.raises(CatalogError, match=message):
        _catalog(tmp_path, text)


def test_catalog_top_level_holds_only_claims_and_appendix(tmp_path):
    """A top-level table name (the old way to declare an appendix) is an error, not an appendix lost."""
    (tmp_path / "x.csv").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"unknown top-level key\(s\) \['extra_table'\].*\[\[appendix\]\]"):
        load_catalog(_write(tmp_path, 'extra_table = "x.csv"\n'))
    catalog = load_catalog(_write(tmp_path, '[[appendix]]\ntitle = "X"\nfile = "x.csv"\n'))
    assert [(t.title, t.rows) for t in catalog.appendix] == [("X", (("1",),))]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claims.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- module boundaries ------------------------------------------------------------------------------

VERDICTS = ("verified", "refuted", "inconclusive", "untestable", "not_run", "error")
ONE_NOT_RUN = {v: int(v == "not_run") for v in VERDICTS}
MINIMAL_REPORT = {
    "format": "pytest-claims/1",
    "run": {"partial": False, "not_executed": 0, "not_executed_checks": [], "caveat": None, "selection": {}},
    "summary": {"claims": ONE_NOT_RUN, "checks": ONE_NOT_RUN, "expected_refutations": 0, "not_executed": 0,
                "n_claims": 1, "n_checks": 1},
    "environment": {},
    "claims": [{
        "id": "c", "title": "t", "statement": "s", "source": "x", "notes": {}, "verdict": "not_run",
        "reason": "r", "counts": ONE_NOT_RUN, "alternates": [{"source": "elsewhere", "text": "also s"}],
        "checks": [{"claim": "c", "id": "test_c", "nodeid": "claims/test_c.py::test_c", "kind": "not_run",
                    "verdict": "not_run", "reason": "r", "tier": "", "expected": None, "paper": None,
                    "measured": None, "rule": {}, "details": {}, "outcome": "skipped", "needs": [],
                    "executed": True, "plan": {"kind": "ordering", "tier": "probe", "a": "A", "b": "B"}}],
    }],
    "appendix": [],
}


def test_report_renders_from_the_json_without_the_code_that_assembled_it(tmp_path):
    source = tmp_path / "claims.json"
    source.write_text(json.dumps(MINIMAL_REPORT), encoding="utf-8")
    code = ("import sys; from pytest_claims.report.html import render; render(sys.argv[1], sys.argv[2]);"
            "print(sorted(m for m in sys.modules if m in ('pytest_claims.assemble', 'pytest_claims.catalog',"
            " 'pytest_claims.controller', 'pytest_claims.plugin', 'pytest_claims.rules')), end='')")
    out = subprocess.run([sys.executable, "-c", code, str(source), str(tmp_path / "out.html")],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "[]"
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    set_aside = (tmp_path / "set-aside.html").read_text(encoding="utf-8")
    assert "ordering: A better than B · tier: probe" in set_aside and "(elsewhere): “also s”" in html


def _imports(path: Path, module: str) -> set[str]:
    """The pytest_claims modules ``path`` imports, at its top or inside its functions."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:  # ``from . import rules`` names a module, ``from .x import f`` a function
                sub = f"{target}.{alias.name}"
                found.add(sub if _module_path(sub) else target)
    return {m for m in found if m.split(".")[0] == "pytest_claims" and m != module}


def _module_path(module: str) -> Path | None:
    base = PLUGIN.parent.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in PLUGIN.rglob("*.py"):
        parts = path.relative_to(PLUGIN.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[module] = _imports(path, module)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for dep in sorted(graph.get(module, ())):
            found = visit(dep, path + [module])
            if found:
                return found
        done.add(module)
        return None

    return next((c for c in (visit(m, []) for m in sorted(graph)) if c), None)


def test_plugin_modules_import_each_other_one_way_only():
    graph = _graph()
    assert "pytest_claims.controller" in graph["pytest_claims.plugin"]  # the plugin registers the controller
    assert "pytest_claims.plugin" not in graph["pytest_claims.controller"]  # ... which no longer imports it back
    assert not graph["pytest_claims.report.html"] & {"pytest_claims.assemble", "pytest_claims.catalog"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_sees_the_old_plugin_controller_loop():
    graph = _graph()
    graph["pytest_claims.controller"] = graph["pytest_claims.controller"] | {"pytest_claims.plugin"}
    cycle = _cycle(graph)
    assert cycle and {"pytest_claims.plugin", "pytest_claims.controller"} <= set(cycle)
