"""Consistency checks (a sentence of the paper against its own printed numbers) and the reproducibility section.

The checks run on the real paper data through a real ClaimCheck; where the paper's numbers agree, a changed
printed cell must change the verdict, so each check can fail.
"""

from __future__ import annotations

import json

import pytest

import paper
from measure.studies.printed import accuracy_at_compute, frontier
from pytest_claims.config import load_config
from pytest_claims.families import family_of
from pytest_claims.sections import collect_sections
from tests.claim_modules import load_claim_module
from tests.test_analysis import ROOT, judged

TABLE2 = load_claim_module("test_consistency_table2")
TABLE5 = load_claim_module("test_consistency_table5")
TABLE6 = load_claim_module("test_consistency_table6")


def test_accuracy_at_compute_reads_the_frontier_in_log_compute_without_extrapolating():
    points = [(10.0, 0.80), (100.0, 0.90), (50.0, 0.70)]  # (50, 0.70) is dominated: more compute, less accuracy
    assert frontier(points) == [(10.0, 0.80), (100.0, 0.90)]
    assert accuracy_at_compute(points, 10 ** 1.5) == pytest.approx(0.85)  # halfway in log(compute)
    assert accuracy_at_compute(points, 100.0) == pytest.approx(0.90)
    with pytest.raises(ValueError, match="no extrapolation"):
        accuracy_at_compute(points, 200.0)


@pytest.mark.parametrize("dataset,verdict", [("imagenet", "verified"), ("imagenet_real", "inconclusive"),
                                             ("vtab", "inconclusive"), ("cifar10", "inconclusive")])
def test_outperforms_on_all_tasks_reads_ties_and_spread_as_inconclusive(dataset, verdict):
    record = judged("claim1-vit-vs-sota", TABLE2.test_vit_l16_jft_outperforms_bit_l_in_table2, dataset)
    assert record.verdict == verdict and record.tier == TABLE2.CONSISTENCY_TIER
    assert "tie as printed" in record.plan.description  # how a tie is read is said in every such check
    if dataset == "imagenet_real":
        assert "equal as printed" in record.reason and record.rule["as_printed"]


def test_a_bit_l_ahead_beyond_the_spread_would_refute(monkeypatch):
    real = TABLE2._cell

    def swapped(column, dataset):  # BiT-L printed where ViT-L/16 is, and the reverse
        other = {TABLE2.VIT_L16: TABLE2.BIT_L, TABLE2.BIT_L: TABLE2.VIT_L16}.get(column, column)
        return real(other, dataset)

    monkeypatch.setattr(TABLE2, "_cell", swapped)
    record = judged("claim1-vit-vs-sota", TABLE2.test_vit_l16_jft_outperforms_bit_l_in_table2, "imagenet")
    assert record.verdict == "refuted"


def test_large_against_base_follows_the_pretraining_set(monkeypatch):
    assert judged("claim2-pretraining-size", TABLE5.test_large_against_base_after_each_pretraining_set_in_table5,
                  "i1k-vit_b16>vit_l16").verdict == "verified"
    real = TABLE5._cell

    def lower_base(pretraining, model, dataset):  # ViT-B/16 after ImageNet printed 5 points lower
        n = real(pretraining, model, dataset)
        return paper.PaperNumber(**{**paper.as_dict(n), "value": n.value - 5}) if model == "ViT-B/16" else n

    monkeypatch.setattr(TABLE5, "_cell", lower_base)
    assert judged("claim2-pretraining-size", TABLE5.test_large_against_base_after_each_pretraining_set_in_table5,
                  "i1k-vit_b16>vit_l16").verdict == "refuted"


def test_hybrids_against_vit_at_equal_compute(monkeypatch):
    small, large = "R50x1+ViT-B/32 (7 epochs)", "R50x1+ViT-L/16 (14 epochs)"
    for row in (small, large):
        record = judged("claim3-hybrids", TABLE6.test_hybrid_against_vit_at_equal_compute_in_table6, row)
        assert record.verdict == "verified", record.reason
    assert judged("claim3-hybrids", TABLE6.test_hybrid_against_vit_at_equal_compute_in_table6,
                  small).details["hybrid_average_5"] > 0.94
    real = TABLE6._average
    monkeypatch.setattr(TABLE6, "_average", lambda row: ((real(row)[0] + 0.02) if row == large else real(row)[0],
                                                           real(row)[1]))
    # the largest hybrid 2 points ahead of ViT at its compute: the difference did not vanish
    assert judged("claim3-hybrids", TABLE6.test_hybrid_against_vit_at_equal_compute_in_table6, large).verdict == "refuted"


def test_consistency_checks_form_their_own_family():
    families = load_config(ROOT).families
    record = judged("claim1-vit-vs-sota", TABLE2.test_vit_l16_jft_outperforms_bit_l_in_table2, "imagenet")
    assert family_of(record, families) == "consistency"


def test_the_reproducibility_section_answers_the_eight_questions_with_links_into_the_report():
    from fixtures.reproducibility import pytest_claims_sections

    checks = [{"id": "test_table2_i21k_tpu_core_days", "nodeid": "claims/x.py::test_table2_i21k_tpu_core_days",
               "verdict": "not_run", "reason": "no TPU"},
              *({"id": f"test_jft_number[{i}]", "nodeid": f"claims/j.py::test_jft_number[{i}]", "verdict": "untestable",
                 "reason": "JFT-300M is a private Google dataset",
                 "paper": {"value": 88.55, "source": {"table": "Table 2", "row": "ImageNet", "column": "ViT-H/14"}}}
                for i in (1, 2))]  # two checks on one printed cell (before: counted twice)
    document = {"claims": [{"id": "table2-i21k", "verdict": "not_run", "checks": checks[:1],
                            "families": [{"family": "consistency", "verdict": "verified"}]},
                           {"id": "table2-jft", "verdict": "untestable", "checks": checks[1:], "families": []}],
                "run": {"configuration": {"tiers": ["eval", "probe", "analysis"], "seeds": "0", "data": {"exists": False}}},
                "environment": {"packages": {"torch": "2.x", "timm": "1.0"}}}
    (section,) = collect_sections([pytest_claims_sections(None, document)])
    assert len(section["items"]) == 8 and section["id"] == "reproducibility"
    answers = json.dumps(section)
    assert "1 printed numbers depend on it" in answers  # counted from this document's untestable checks
    assert "torch 2.x" in answers and "analysis, eval, probe" not in answers  # tiers as configured, in order
    links = [link for item in section["items"] for link in item["links"]]
    assert {"text": "pre-training cost (not re-run)", "check": checks[0]["nodeid"]} in links
    assert all(link.get("claim") in (None, *(c["id"] for c in paper.claims())) for link in links)
