"""The tier protocol (measure/tiers/protocol.py) and the structure it keeps: no caller branches on a tier's name,
no import cycle (deferred imports included), one form for a missing input, one plan per check."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import pytest

from measure.errors import MeasureError, Missing, Unavailable, Unreleased
from measure.tiers.protocol import TIER_CLASSES, Tier, standard_tiers, tier
from measure.tiers.scopes import SCOPES, TIER_NAMES

ROOT = Path(__file__).resolve().parents[1]
TIER_NAME_SET = set(TIER_NAMES)


# -- no tier-name branches outside measure/tiers -------------------------------------------------------------

def _tier_literals(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and node.value in TIER_NAME_SET:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in TIER_NAME_SET]
    return []


def tier_name_comparisons(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comparison (==, !=, in, not in) of something with a tier's name typed as a literal."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not all(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            continue
        if any(_tier_literals(operand) for operand in operands):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_scan_finds_a_planted_tier_branch():
    planted = 'def f(tier, result):\n    if tier == "probe":\n        return 1\n    return result.tier in ("eval", "x")\n'
    assert [line for line, _ in tier_name_comparisons(planted)] == [2, 4]
    assert tier_name_comparisons('def f(kind):\n    return kind == "bottleneck" or "eval" > kind\n') == []


def test_no_tier_name_comparison_outside_the_tier_modules():
    """A caller asks the tier object (plan, parameters, describe, needs, words, repeats), never "is it the probe?"."""
    tiers_dir = ROOT / "measure" / "tiers"
    offenders = []
    for folder in ("claims", "fixtures", "measure", "paper", "src", "bin"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if tiers_dir in path.parents:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{line}: {text}"
                          for line, text in tier_name_comparisons(path.read_text(encoding="utf-8"))]
    assert not offenders, "tier-name branches outside measure/tiers/:\n" + "\n".join(offenders)


# -- no import cycle, deferred imports included ------------------------------------------------------------

def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(roots: dict[str, Path]) -> nx.DiGraph:
    """Module → module it imports, for every import statement anywhere in the file (inside functions too)."""
    modules: dict[str, Path] = {}
    for base, folder in roots.items():
        for path in folder.rglob("*.py"):
            modules[_module_name(path, Path(base))] = path
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join([*anchor, *([source] if source else [])])
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` of a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_cycle_scan_finds_a_deferred_import_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def later():\n    from pkg.a import thing\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    cycles = list(nx.simple_cycles(import_graph({str(tmp_path): pkg})))
    assert sorted(map(sorted, cycles)) == [["pkg.a", "pkg.b"]]


def test_no_import_cycle_in_the_library_the_paper_data_or_the_plugin():
    roots = {str(ROOT): ROOT / "measure", str(ROOT / "src"): ROOT / "src" / "pytest_claims"}
    roots_paper = {str(ROOT): ROOT / "paper"}
    graph = nx.compose(import_graph(roots), import_graph(roots_paper))
    cycles = sorted(" → ".join([*cycle, cycle[0]]) for cycle in nx.simple_cycles(graph))
    assert not cycles, "import cycles (deferred imports count):\n" + "\n".join(cycles[:20])


# -- the protocol ------------------------------------------------------------------------------------------

def test_every_standard_tier_is_one_declared_object_per_scope():
    tiers = standard_tiers()
    assert set(tiers) == set(TIER_CLASSES) == set(SCOPES)
    for name, handler in tiers.items():
        assert isinstance(handler, Tier), name
        assert handler.scope.name == name and tier(name) is handler
        assert handler.repeats in ("", "draws", "seeds")
    assert [name for name, t in tiers.items() if t.pre_logits] == ["probe"]
    with pytest.raises(ValueError, match="unknown tier 'no-such-tier'"):
        tier("no-such-tier")


def test_a_runner_s_own_tier_is_asked_before_the_standard_one():
    class Custom:
        scope = SCOPES["eval"]
    custom = Custom()
    assert tier("eval", {"eval": custom}) is custom and tier("probe", {"eval": custom}) is tier("probe")


def test_each_tier_declares_its_parameters_per_side():
    side = SimpleNamespace(representation="pre_logits")
    assert tier("probe").parameters(side) == {"method": "fewshot", "representation": "pre_logits"}
    assert tier("probe").parameters(side, method="linear")["method"] == "linear"
    assert tier("eval").parameters(side) == {} and tier("eval").parameters(side, pipeline="timm") == {"pipeline": "timm"}
    assert tier("analysis").parameters(side, method="attention_depth") == {"method": "attention_depth"}
    assert tier("finetune").parameters(side, method="x", pipeline="y") == {}


def test_each_tier_words_its_plan():
    assert tier("probe").words() == "probe (fewshot)" and tier("probe").words("linear") == "probe (linear)"
    assert tier("finetune").words() == "finetune (paper recipe, App. B.1.1)" and tier("eval").words() == "eval"
    assert "few-shot draws" in tier("probe").pairing("fewshot") and "draws" not in tier("probe").pairing("linear")
    assert "seeds paired by seed (at least 2" in tier("finetune").pairing()
    assert tier("eval").pairing() == "per-example correctness paired"


def test_each_tier_lists_the_rows_it_needs():
    rows = [SimpleNamespace(key="ft", finetuned_on="imagenet"), SimpleNamespace(key="pre", finetuned_on="")]
    assert [r.key for r in tier("eval").needs(rows)] == ["ft"]
    assert [r.key for r in tier("finetune").needs(rows)] == ["pre"]


# -- one form for a missing input --------------------------------------------------------------------------

def test_missing_and_unreleased_are_the_unavailable_a_check_records():
    missing = Missing("CIFAR-10 not found under /data; pass --claims-data DIR", need="CIFAR-10")
    assert isinstance(missing, Unavailable) and isinstance(missing, MeasureError)
    assert (missing.kind, missing.reason, missing.needs) == ("not_run", str(missing), ("CIFAR-10",))
    assert missing == Unavailable.not_run(str(missing), ["CIFAR-10"])
    gone = Unreleased("weights withdrawn")
    assert isinstance(gone, LookupError) and (gone.kind, gone.reason, gone.needs) == ("untestable", "weights withdrawn", ())
    again = pickle.loads(pickle.dumps(missing))  # across xdist workers
    assert type(again) is Missing and again == missing and again.need == "CIFAR-10"


def test_a_tier_not_selected_reaches_the_check_as_the_runner_raised_it():
    from measure.tiers.evidence import Evidence
    from measure.tiers.runner import TierNotSelected

    raised = TierNotSelected("tier probe not selected", need="select tier probe")

    class Runner:
        def require(self, name):
            raise raised
    assert Evidence(Runner()).selected("probe") is raised


def test_evidence_measures_with_the_plan_it_is_given_and_returns_it():
    from measure.tiers.evidence import Evidence
    from measure.tiers.reading import Reading, SideRead
    from tests.test_evidence import fake_result

    asked = []

    class Runner:
        available = standard_tiers()
        device = SimpleNamespace(type="cpu")

        def measure(self, name, spec, dataset, **params):
            asked.append(params)
            return fake_result("probe", dataset, key=spec.key)
    spec = SimpleNamespace(key="vit", released=True)
    planned = Reading("probe", (SideRead("vit", "p", "d", 224, representation="planted_kind"),))
    measured = Evidence(Runner()).measure_rows("probe", [spec], "cifar10", "linear", reading=planned)
    assert measured.reading is planned and asked == [{"method": "linear", "representation": "planted_kind"}]


# -- facts from paper/: the shortened-recipe message ---------------------------------------------------------

@pytest.mark.parametrize(("table", "model", "dataset", "pixels"), [
    ("Table 2", "ViT-L/16", "imagenet", 512),   # §4.1: Table 2's ImageNet cells were fine-tuned at 512 px
    ("Table 2", "ViT-L/16", "cifar10", 384),
    ("Table 5", "ViT-B/16", "imagenet", 384)])
def test_the_shortened_recipe_message_names_the_model_s_paper_resolution(table, model, dataset, pixels):
    import paper
    from claims.decide import paper_recipe_or_end
    from measure.tiers.paper_models import Model
    from measure.train.settings import FinetuneSettings
    from pytest_claims import Plan

    shortened = FinetuneSettings(steps=10, batch=4)

    class Shortened:
        def selected(self, name):
            return None

        def finetune_recipe(self, data, paper_model="", pretraining=""):
            return shortened.recipe(data, paper_model or None, pretraining)

    class Check:
        def not_run(self, reason, **kwargs):
            self.reason = reason
            raise StopIteration

    cell = next(n for n in paper.numbers(table=table) if (n.model, n.dataset) == (model, dataset)
                and n.pretraining in ("imagenet21k", "imagenet"))
    check = Check()
    with pytest.raises(StopIteration):
        paper_recipe_or_end(check, Shortened(), Model(model, cell.pretraining), cell,
                            Plan(kind="value", tier="finetune", tolerance="accuracy", description="d"))
    assert "the paper: " in check.reason and check.reason.endswith(f"at {pixels} px)"), check.reason


# -- every record states what it checks ----------------------------------------------------------------------

JUDGING = ("value", "ordering", "ordering_draws", "ordering_scores")


def judging_calls_without_plan(source: str) -> list[int]:
    """Lines of `claim_check.<judging method>(...)` calls that pass no `plan=` (nor a `**mapping` holding one)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in JUDGING
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "claim_check"
                and not any(k.arg == "plan" or k.arg is None for k in node.keywords)):
            lines.append(node.lineno)
    return lines


def test_the_plan_scan_finds_a_judging_call_without_a_plan():
    planted = "def t(claim_check, m, p, plan):\n    claim_check.value(m, p, 'exact', 'x')\n" \
              "    claim_check.value(m, p, 'exact', 'x', plan=plan)\n    claim_check.ordering(1, 2, **common)\n"
    assert judging_calls_without_plan(planted) == [2]


def test_every_judging_call_of_the_claims_passes_its_plan():
    """A decided record states what it checks (its plan's description), as a not-run one does."""
    missing = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "claims").glob("*.py"))
               for line in judging_calls_without_plan(path.read_text(encoding="utf-8"))]
    assert not missing, "judging calls without plan=:\n" + "\n".join(missing)


def test_a_judging_method_records_the_description_of_the_plan_it_is_given():
    import dataclasses

    from pytest_claims import Plan
    from pytest_claims.check import _planned

    implied = Plan("ordering", "probe (fewshot): pre-logits", a_label="ViT (hub id)", b_label="CNN (hub id)")
    given = Plan("ordering", "probe (fewshot)", description="ViT better than CNN on cifar10", a_label="ViT",
                 b_label="CNN")
    assert _planned(given, implied) == dataclasses.replace(implied, description="ViT better than CNN on cifar10")
    assert _planned(None, implied) is implied
    with pytest.raises(ValueError, match="margin 'comparable' in the plan"):
        _planned(dataclasses.replace(given, margin="comparable"), implied)
    with pytest.raises(ValueError, match="kind 'value' in the plan"):
        _planned(Plan("value", "eval", tolerance="accuracy"), implied)


# -- one exception root per package ------------------------------------------------------------------------------

def exception_roots(source: str) -> list[tuple[str, list[str]]]:
    """(class, bases) of each public class deriving directly from a builtin exception without the package's root."""
    import builtins

    builtin_errors = {n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
                      and issubclass(getattr(builtins, n), BaseException)}
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            bases = [ast.unparse(b) for b in node.bases]
            rooted = {"MeasureError", "Unavailable", "Missing"} & set(bases)
            if any(b in builtin_errors for b in bases) and not rooted and node.name != "MeasureError":
                found.append((node.name, bases))
    return found


def test_every_library_exception_derives_from_measure_error():
    assert exception_roots("class A(ValueError):\n    pass\nclass B(MeasureError, ValueError):\n    pass\n") == \
        [("A", ["ValueError"])]
    outside = [f"{path.relative_to(ROOT)}: {name}({', '.join(bases)})" for path in sorted((ROOT / "measure").rglob("*.py"))
               for name, bases in exception_roots(path.read_text(encoding="utf-8"))]
    assert not outside, "exceptions outside measure.errors.MeasureError:\n" + "\n".join(outside)


def test_every_plugin_error_derives_from_claims_error():
    from pytest_claims import ClaimsError
    from pytest_claims.catalog import CatalogError
    from pytest_claims.config import ClaimsConfigError
    from pytest_claims.history import HistoryError
    from pytest_claims.merge import MergeError
    from pytest_claims.sections import SectionError

    for error, builtin in ((CatalogError, LookupError), (ClaimsConfigError, LookupError), (HistoryError, RuntimeError),
                           (MergeError, ValueError), (SectionError, ValueError)):
        assert issubclass(error, ClaimsError) and issubclass(error, builtin), error
    plugin = ROOT / "src" / "pytest_claims"
    outside = [f"{path.relative_to(ROOT)}: {name}" for path in sorted(plugin.rglob("*.py"))
               for name, bases in exception_roots(path.read_text(encoding="utf-8"))
               if "ClaimsError" not in bases and name != "ClaimsError"]
    assert not outside, "plugin exceptions outside ClaimsError:\n" + "\n".join(outside)


def test_a_check_plans_its_reading_once_and_measures_with_that_plan():
    """compare / value_after_finetuning / value_from_published_finetune: one `reading` per check, and the very same
    plan handed to `measure` (before: planned again inside the measurement)."""
    import paper
    from claims import decide
    from measure.tiers.paper_models import Model
    from tests.test_evidence import FakeCheck, FakeEvidence

    class Counting(FakeEvidence):
        def __init__(self):
            super().__init__("measured")
            self.planned, self.measured_with = [], []

        def reading(self, tier, models, pipeline="", dataset=""):
            self.planned.append(super().reading(tier, models, pipeline, dataset))
            return self.planned[-1]

        def measure(self, tier, models, dataset, method=None, reading=None):
            self.measured_with.append(reading)
            return super().measure(tier, models, dataset, method)

    cases = [lambda c, e: decide.compare(c, e, "probe", Model("ViT-L/16", "imagenet21k"), Model("R152x4", "imagenet21k"),
                                         "cifar10", method="fewshot"),
             lambda c, e: decide.value_after_finetuning(c, e, Model("ViT-L/16", "imagenet21k"), next(
                 n for n in paper.numbers(table="Table 2") if (n.model, n.pretraining, n.dataset)
                 == ("ViT-L/16", "imagenet21k", "cifar10"))),
             lambda c, e: decide.value_from_published_finetune(c, e, Model("ViT-B/16", "imagenet21k", "imagenet",
                                                                            resolution=384), next(
                 n for n in paper.numbers(table="Table 5") if (n.model, n.pretraining, n.dataset)
                 == ("ViT-B/16", "imagenet21k", "imagenet")))]
    for case in cases:
        evidence = Counting()
        case(FakeCheck(), evidence)
        assert len(evidence.planned) == 1 and evidence.measured_with == evidence.planned
