"""What no public material can decide, and what this example does not attempt."""

from __future__ import annotations

import pytest

from pytest_claims import Plan


@pytest.mark.claim("ensemble-test-error")
def test_ensemble_top5_on_test_set(claim_check, paper_numbers):
    claim_check.untestable(
        "the ILSVRC 2015 test labels were never released and its evaluation server is closed; the six models of the "
        "ensemble were not released either (only ResNet-50/101/152 were)",
        paper=paper_numbers.number("Table 5", "ResNet (ILSVRC'15)", "top-5 err. (test)"),
        plan=Plan("value", tier="test server", tolerance="printed"))


@pytest.mark.claim("coco-relative-improvement")
def test_coco_relative_improvement(claim_check, paper_numbers):
    claim_check.not_run(
        "the COCO detectors (Faster R-CNN on VGG-16 and on ResNet-101) were not released; deciding the 28% means "
        "training both and evaluating mAP@[.5, .95] on COCO val",
        paper=paper_numbers.number("Abstract", "COCO object detection", "relative improvement"),
        needs=["COCO 2014 train and val images with annotations",
               "a Faster R-CNN implementation and GPU-days to train it on two backbones"],
        plan=Plan("value", tier="training (COCO detection)", tolerance="printed"))
