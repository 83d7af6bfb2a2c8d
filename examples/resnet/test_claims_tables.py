"""Orderings the paper states, read against its own tables: consistency checks of printed numbers, not
reproductions; and the reproductions they would need, which this CPU example cannot run."""

from __future__ import annotations

import pytest

from pytest_claims import Plan, Summary

TIER = "consistency (the paper's own printed numbers)"
TRAINING = "training (ImageNet from scratch)"
IMAGENET = ["ImageNet-1k (ILSVRC 2012) training and validation sets",
            "about 600k SGD iterations of batch 256 per network (§3.4): GPU-weeks, not a CPU example"]


def _order(claim_check, better, worse, a_label, b_label, description):
    """Errors as printed: lower is better, each side shown with its paper cell."""
    claim_check.ordering_summary(Summary(better.value), Summary(worse.value), tier=TIER, a_label=a_label,
                                 b_label=b_label, paper_a=better, paper_b=worse, higher_is_better=False,
                                 description=description)


@pytest.mark.claim("degradation-plain")
def test_plain18_beats_plain34_in_table2(claim_check, paper_numbers):
    _order(claim_check, paper_numbers.number("Table 2", "plain", "18 layers"), paper_numbers.number("Table 2", "plain", "34 layers"),
           "plain-18", "plain-34", "Table 2: plain-18's top-1 error below plain-34's, as printed (a tie: inconclusive)")


@pytest.mark.claim("degradation-plain")
def test_plain18_beats_plain34_retrained(claim_check):
    claim_check.not_run("retraining plain-18 and plain-34 on ImageNet is beyond a CPU example", needs=IMAGENET,
                        plan=Plan("ordering", tier=TRAINING, a_label="plain-18", b_label="plain-34",
                                  description="paired top-1 on the 50k validation images (McNemar)"))


@pytest.mark.claim("depth-helps-resnets")
def test_resnet34_beats_resnet18_in_table2(claim_check, paper_numbers):
    _order(claim_check, paper_numbers.number("Table 2", "ResNet", "34 layers"), paper_numbers.number("Table 2", "ResNet", "18 layers"),
           "ResNet-34", "ResNet-18", "Table 2: ResNet-34's top-1 error below ResNet-18's, as printed")


@pytest.mark.claim("depth-helps-resnets")
def test_resnet34_beats_plain34_in_table2(claim_check, paper_numbers):
    _order(claim_check, paper_numbers.number("Table 2", "ResNet", "34 layers"), paper_numbers.number("Table 2", "plain", "34 layers"),
           "ResNet-34", "plain-34", "Table 2: the residual 34-layer net's top-1 error below its plain counterpart's")


@pytest.mark.claim("depth-helps-resnets")
def test_resnet152_beats_resnet34_in_table4(claim_check, paper_numbers):
    _order(claim_check, paper_numbers.number("Table 4", "ResNet-152", "top-5 err."),
           paper_numbers.number("Table 4", "ResNet-34 B", "top-5 err."),
           "ResNet-152", "ResNet-34 B", "Table 4: ResNet-152's single-model top-5 error below ResNet-34 B's")


TABLE3_DEPTH = {"resnet101>resnet50": ("ResNet-101", "ResNet-50"), "resnet152>resnet101": ("ResNet-152", "ResNet-101")}


@pytest.mark.claim("depth-helps-resnets")
@pytest.mark.parametrize("case", sorted(TABLE3_DEPTH))
def test_deeper_bottleneck_resnet_better_in_table3(claim_check, paper_numbers, case):
    deeper, shallower = TABLE3_DEPTH[case]
    _order(claim_check, paper_numbers.number("Table 3", deeper, "top-1 err."), paper_numbers.number("Table 3", shallower, "top-1 err."),
           deeper, shallower, f"Table 3: {deeper}'s 10-crop top-1 error below {shallower}'s, as printed")


@pytest.mark.claim("depth-helps-resnets")
def test_resnet34_beats_resnet18_retrained(claim_check):
    claim_check.not_run("retraining ResNet-18 and ResNet-34 on ImageNet is beyond a CPU example", needs=IMAGENET,
                        plan=Plan("ordering", tier=TRAINING, a_label="ResNet-34", b_label="ResNet-18",
                                  description="paired top-1 on the 50k validation images (McNemar)"))


@pytest.mark.claim("cifar-1202-worse")
def test_resnet110_beats_resnet1202_in_table6(claim_check, paper_numbers):
    # ResNet-110's mean over its 5 runs, not its best run: the best of 5 would favour it over ResNet-1202's one number.
    r110 = paper_numbers.number("Table 6", "ResNet-110", "error (%) mean of 5 runs")
    r1202 = paper_numbers.number("Table 6", "ResNet-1202", "error (%)")
    claim_check.ordering_summary(Summary(r110.value, r110.std, n=5), Summary(r1202.value), tier=TIER,
                                 a_label="ResNet-110", b_label="ResNet-1202", paper_a=r110, paper_b=r1202,
                                 higher_is_better=False,
                                 description="Table 6: ResNet-110's mean CIFAR-10 test error over 5 runs below "
                                             "ResNet-1202's, as printed (ResNet-1202 prints no spread)")
