"""The text's arithmetic (§4.6, §4.4) against the paper's tables: known values, and a changed cell changes the verdict."""

from __future__ import annotations

import pytest

import paper
from tests.claim_modules import load_claim_module
from tests.test_analysis import judged

TEXT = load_claim_module("test_text_arithmetic")


def test_stated_difference_known_values():
    assert TEXT.stated_difference(79.9, 77.91, 1) == pytest.approx(1.99)    # §4.6 "+2%" over Table 5's 77.91
    assert TEXT.stated_difference(79.9, 84.15, -1) == pytest.approx(4.25)   # "4% behind" JFT-300M's 84.15
    with pytest.raises(ValueError, match="sign"):
        TEXT.stated_difference(79.9, 77.91, 0)


@pytest.mark.parametrize("reading,value", [("gain_over_scratch-imagenet", 1.99), ("gap_to_supervised-jft300m", 4.25),
                                           ("gap_to_supervised-imagenet21k", 4.07)])
def test_section46_differences_verify_on_the_printed_tables(reading, value):
    record = judged("self-supervision", TEXT.test_section46_differences_match_the_tables, reading)
    assert record.verdict == "verified" and record.tier == TEXT.CONSISTENCY_TIER
    assert record.measured.value == pytest.approx(value)
    assert record.paper.value == (2 if "gain" in reading else 4)


def test_section46_difference_refutes_when_a_cell_disagrees(monkeypatch):
    real = paper.number

    def shifted(**filters):  # Table 5 printing 76.9 for the from-scratch ViT-B/16: a 3 pt gain, not "2%"
        n = real(**filters)
        if filters.get("row") == "ImageNet / ImageNet":
            return type(n)(**{**n.__dict__, "value": 76.9})
        return n

    monkeypatch.setattr(TEXT.paper, "number", shifted)
    record = judged("self-supervision", TEXT.test_section46_differences_match_the_tables, "gain_over_scratch-imagenet")
    assert record.verdict == "refuted" and record.measured.value == pytest.approx(3.0)


@pytest.mark.parametrize("panel", ["average_5", "imagenet"])
def test_no_saturation_verifies_on_table6_and_refutes_when_the_top_vit_is_behind(monkeypatch, panel):
    record = judged("vit-no-saturation", TEXT.test_vit_with_most_compute_still_more_accurate_in_table6, panel)
    assert record.verdict == "verified" and "ViT-H/14 (14 epochs)" in record.plan.a_label
    if panel == "imagenet":  # Table 6: 88.08 (ViT-H/14) vs 87.12 (ViT-L/16, 14 epochs)
        assert record.measured.value == pytest.approx(88.08 - 87.12)
    real = TEXT._accuracy
    swapped = {"ViT-H/14 (14 epochs)": "ViT-L/16 (14 epochs)", "ViT-L/16 (14 epochs)": "ViT-H/14 (14 epochs)"}
    monkeypatch.setattr(TEXT, "_accuracy", lambda row, datasets: real(swapped.get(row, row), datasets))
    record = judged("vit-no-saturation", TEXT.test_vit_with_most_compute_still_more_accurate_in_table6, panel)
    assert record.verdict == "refuted"
