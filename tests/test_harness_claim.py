"""The harness check (claims/test_harness_references.py): one check per timm reference that names a registry
checkpoint and per transformers twin; judged on a point value against timm's published number; not run
offline with what to provide; and it can fail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import paper
from measure.models.registry import by_key
from measure.tiers.evidence import Evidence
from measure.tiers.results import Unavailable
from tests.claim_modules import load_claim_module
from tests.test_evidence import Ended, FakeCheck, fake_result

harness = load_claim_module("test_harness_references")


class Rows:
    """The evidence surface the harness uses, with results of a chosen accuracy (or missing resources)."""

    def reading_rows(self, tier, specs, pipeline=""):
        return Evidence(None).reading_rows(tier, specs, pipeline)
    details = staticmethod(Evidence.details)

    def __init__(self, accuracies=None) -> None:
        self.accuracies = accuracies

    def measure_rows(self, tier, specs, dataset, method=None, pipeline=""):
        if self.accuracies is None:
            return Unavailable.not_run("checkpoint missing; ImageNet missing", ["checkpoint", "imagenet"])
        out = []
        for spec, accuracy in zip(specs, self.accuracies):
            correct = np.arange(10_000) < round(accuracy * 100)
            out.append(dataclasses.replace(fake_result("eval", dataset, key=spec.key, n=10_000), correct=correct,
                                           metadata={"checkpoint": {"key": spec.key}, "pipeline": {"name": pipeline}}))
        return out


def test_every_published_number_of_a_registry_checkpoint_and_every_twin_is_a_check():
    refs = [r for r in paper.references(source="timm results") if r.checkpoint]
    assert {(r.checkpoint, r.dataset) for r in harness.PUBLISHED} == {(r.checkpoint, r.dataset) for r in refs}
    assert len(harness.PUBLISHED) == 16 and all(by_key(r.checkpoint).finetuned_on == "imagenet" for r in refs)
    assert harness.TWINS == sorted(k for k in harness.TWINS if by_key(k).twin_of) and len(harness.TWINS) == 5


def test_the_published_number_is_reproduced_within_the_harness_tolerance_or_not():
    ref = next(r for r in harness.PUBLISHED if r.checkpoint == "vit_b16-i21k-ft_in1k-384" and r.dataset == "imagenet")
    check = FakeCheck()
    harness.test_timm_published_top1_is_reproduced(check, Rows([ref.value]), ref)
    (kind, record), = check.records
    assert kind == "value" and record["paper"].value == 84.2 and record["measured"].low is None  # a point value
    assert record["measured"].value == pytest.approx(84.2, abs=0.01)
    assert "results-imagenet.csv @0173a139a2" in record["paper"].table and record["tier"] == "eval (timm preprocessing)"


def test_offline_the_harness_checks_are_not_run_and_say_what_to_provide():
    for ref in harness.PUBLISHED[:2]:
        check = FakeCheck()
        with pytest.raises(Ended):
            harness.test_timm_published_top1_is_reproduced(check, Rows(), ref)
        (kind, record), = check.records
        assert kind == "not_run" and record["needs"] == ["checkpoint", "imagenet"]
        assert "preprocessing: timm (" in record["plan"].description and record["plan"].tolerance == "harness_top1"
    check = FakeCheck()
    with pytest.raises(Ended):
        harness.test_timm_and_transformers_agree_on_every_image(check, Rows(), "vit_b16-i21k-ft_in1k-384-hf")
    assert "vit_jax" in check.records[0][1]["plan"].description


def test_two_libraries_that_disagree_are_measured_as_disagreeing():
    check = FakeCheck()
    harness.test_timm_and_transformers_agree_on_every_image(check, Rows([84.0, 83.0]), "vit_b16-i21k-ft_in1k-384-hf")
    measured = check.records[0][1]["measured"]
    assert measured.value == pytest.approx(1.0) and measured.extra["differ"] == 100  # 1 % of the images
