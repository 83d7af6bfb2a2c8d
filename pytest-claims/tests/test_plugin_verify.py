"""The plugin's mirror of ``cannot_refute`` (``cannot_verify``), independent references beside the paper's
value, and orderings over repeated draws — end to end on the synthetic suite of tests/test_plugin.py."""

from __future__ import annotations

import numpy  # noqa: F401 - loaded once here: numpy refuses a second import after a pytester run drops it
import pytest
import scipy.stats  # noqa: F401 - likewise for scipy's compiled modules (the rules import it)
from test_plugin import checks, make_project, report, run

import pytest_claims.draws  # noqa: F401 - likewise

pytest_plugins = ["pytester"]

SUITE = """
import numpy as np
import pytest

from pytest_claims import Measurement, Plan

pytestmark = pytest.mark.claim("order")
WHY = "BiT was fine-tuned with one recipe only, which can only lower it"
CELL = __import__("types").SimpleNamespace(value=12, std=None, unit="", table="Table 1", row="ViT-Base",
                                            column="Layers")
REFS = [{"source": "vision_transformer README", "value": 12.5, "setting": "re-run, 8 V100",
         "repository": "google-research/vision_transformer", "commit": "035a0dd"}]


def better():
    u = np.random.default_rng(0).random(3000)
    return u < 0.90, u < 0.80  # A is right wherever B is, and on 10 % more


def test_ordering_cannot_verify(claim_check):
    claim_check.ordering(*better(), "eval", a_label="ViT", b_label="BiT", cannot_verify=WHY)


def test_ordering_verifies(claim_check):
    claim_check.ordering(*better(), "eval", a_label="ViT", b_label="BiT")


def test_refutation_with_cannot_verify(claim_check):
    a, b = better()
    claim_check.ordering(b, a, "eval", a_label="ViT", b_label="BiT", cannot_verify=WHY)


def test_value_cannot_verify_with_references(claim_check):
    claim_check.value(Measurement(12), CELL, "exact", "architecture", cannot_verify="handicap", references=REFS)


def test_both_limits(claim_check):
    a, b = better()
    claim_check.ordering(a, b, "eval", cannot_refute="substitute", cannot_verify=WHY)


def test_scores_cannot_verify(claim_check):
    a = np.random.default_rng(1).normal(size=200)
    claim_check.ordering_scores(a + 0.5, a, "mean", "probe", n_resamples=999, cannot_verify=WHY)


def test_not_run_with_references(claim_check):
    claim_check.not_run("no GPU", paper=CELL, needs=["a GPU"], references=REFS,
                        plan=Plan("value", tier="eval", tolerance="exact"))


def test_bad_reference(claim_check):
    claim_check.not_run("no GPU", paper=CELL, references=[{"source": "x", "value": "12", "setting": "y"}])


def test_draws_verified(claim_check):
    rng = np.random.default_rng(2)
    u = rng.random(4000)
    a = np.stack([u < 0.9 + rng.uniform(-0.01, 0.01) for _ in range(8)])
    b = np.stack([u < 0.8 + rng.uniform(-0.01, 0.01) for _ in range(8)])
    claim_check.ordering_draws(a, b, "probe (fewshot)", a_label="ViT", b_label="BiT", draw_fraction=0.01)


def test_draws_comparable_cannot_verify(claim_check):
    rng = np.random.default_rng(3)
    u = rng.random(4000)
    a = np.stack([u < 0.8 + rng.uniform(-0.01, 0.01) for _ in range(8)])
    claim_check.ordering_draws(a, a, "probe (fewshot)", margin="comparable", cannot_verify=WHY)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    project = make_project(pytester)
    project.path.joinpath("claims", "test_verify.py").write_text(SUITE, encoding="utf-8")
    return project


def test_a_check_that_cannot_verify_ends_inconclusive_with_its_reason(project):
    result = run(project, "claims/test_verify.py", "-rs")
    why = "BiT was fine-tuned with one recipe only, which can only lower it"
    result.stdout.fnmatch_lines([f"*inconclusive: *; not counted as a verification: {why}*"])
    by_id = checks(report(project)[0])
    limited, verified = by_id["test_ordering_cannot_verify"], by_id["test_ordering_verifies"]
    assert (verified["verdict"], verified["outcome"]) == ("verified", "passed")  # the same data can verify
    assert (limited["verdict"], limited["outcome"]) == ("inconclusive", "skipped")
    assert limited["reason"] == f"{verified['reason']}; not counted as a verification: {why}"
    assert limited["rule"]["rule_verdict"] == "verified" and limited["rule"]["cannot_verify"] == why
    refuted = by_id["test_refutation_with_cannot_verify"]  # a refutation still refutes
    assert refuted["verdict"] == "refuted" and refuted["rule"]["cannot_verify"] == why
    both = by_id["test_both_limits"]
    assert both["verdict"] == "inconclusive" and both["rule"]["cannot_refute"] == "substitute"
    assert by_id["test_value_cannot_verify_with_references"]["verdict"] == "inconclusive"
    assert by_id["test_scores_cannot_verify"]["verdict"] == "inconclusive"


def test_references_are_recorded_beside_the_paper_value_and_shown(project):
    run(project, "claims/test_verify.py")
    doc, html = report(project)
    by_id = checks(doc)
    for cid in ("test_value_cannot_verify_with_references", "test_not_run_with_references"):
        (ref,) = by_id[cid]["references"]
        assert ref["source"] == "vision_transformer README" and ref["value"] == 12.5 and ref["commit"] == "035a0dd"
        assert by_id[cid]["paper"]["value"] == 12  # judged (or planned) against the paper, not the reference
    assert by_id["test_ordering_verifies"]["references"] == []
    assert "vision_transformer README: 12.5" in html and "(re-run, 8 V100)" in html
    bad = by_id["test_bad_reference"]
    assert bad["verdict"] == "error" and "numeric value" in bad["reason"]


def test_orderings_over_repeated_draws_are_recorded_as_orderings(project):
    run(project, "claims/test_verify.py")
    by_id = checks(report(project)[0])
    decided = by_id["test_draws_verified"]
    assert decided["kind"] == "ordering" and decided["verdict"] == "verified"
    assert decided["rule"]["rule"] == "repeated_draws_t_two_sided" and decided["rule"]["draws"] == 8
    assert decided["measured"]["extra"]["a"]["draws"] == 8 and len(decided["measured"]["extra"]["b"]["draw_accuracies"]) == 8
    assert decided["rule"]["draw_fraction"] == 0.01 and decided["plan"]["kind"] == "ordering"
    comparable = by_id["test_draws_comparable_cannot_verify"]
    assert comparable["verdict"] == "inconclusive" and comparable["rule"]["rule_verdict"] == "verified"
    assert comparable["rule"]["margin_name"] == "comparable"
