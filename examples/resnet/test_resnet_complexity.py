"""resnet_complexity against counts done by hand, and the plugin's value rule against the likely counting mistakes."""

from __future__ import annotations

import pytest
from resnet_complexity import cifar_resnet_params, conv_macs, resnet_flops, vgg_flops

from pytest_claims.rules import Tolerance, value_rule

CONV3_64_AT_56 = 9 * 64 * 64 * 56 * 56  # 115,605,504: one 3x3, 64 -> 64 layer of conv2_x
# One bottleneck block: 1x1 4w -> w, 3x3 w -> w, 1x1 w -> 4w at side s. With w·s = 64·56 in every stage
# (w doubles as s halves) every non-first block of every stage costs the same:
BOTTLENECK = 256 * 64 * 3136 + 9 * 64 * 64 * 3136 + 64 * 256 * 3136  # 218,365,952


def test_conv_macs_by_hand():
    assert conv_macs(3, 64, 64, 56) == CONV3_64_AT_56 == 115_605_504
    assert conv_macs(7, 3, 64, 112) == 7 * 7 * 3 * 64 * 112 * 112 == 118_013_952


def test_resnet18_by_hand():
    # conv1; conv2_x: four 3x3 64->64; conv3_x..conv5_x: a first 3x3 c->2c at the new side (same cost in each stage:
    # 9·64·128·28² = 57,802,752) and three 3x3 layers costing as much as conv2_x's.
    first = 9 * 64 * 128 * 28 * 28
    assert resnet_flops(18).main == 118_013_952 + 4 * CONV3_64_AT_56 + 3 * (first + 3 * CONV3_64_AT_56) == 1_794_293_760
    assert resnet_flops(18, "B").projections == 3 * 64 * 128 * 28 * 28  # one 1x1 projection per widening stage
    assert resnet_flops(18, "A").projections == 0  # identity shortcuts with zero-padding: no multiply-adds
    assert resnet_flops(18).head == 512 * 1000


def test_deeper_bottleneck_nets_add_whole_blocks():
    """ResNet-101 adds 17 conv4_x blocks to ResNet-50; ResNet-152 adds 4 conv3_x and 13 conv4_x blocks to
    ResNet-101 (Table 1) — 17 blocks each time, each of the same cost."""
    assert resnet_flops(101).main - resnet_flops(50).main == 17 * BOTTLENECK == 3_712_221_184
    assert resnet_flops(152).main - resnet_flops(101).main == 17 * BOTTLENECK
    assert resnet_flops(152).projections == resnet_flops(50).projections  # same four widening blocks


def test_plain_counterpart_has_no_projections_only():
    plain, residual = resnet_flops(34, "plain"), resnet_flops(34, "B")
    assert (plain.main, plain.head, plain.projections) == (residual.main, residual.head, 0)
    assert resnet_flops(34, "A") == plain


def test_stride_on_the_3x3_runs_each_first_1x1_at_the_larger_side():
    # conv3_1, conv4_1, conv5_1: the first 1x1 (c_in -> w) at side 2s instead of s: 3 · c_in·w·(4s² - s²), the same
    # 77,070,336 in each stage (256·128·(56² - 28²)).
    extra = resnet_flops(50, stride="3x3").main - resnet_flops(50).main
    assert extra == 3 * 256 * 128 * (56 ** 2 - 28 ** 2) == 231_211_008
    assert resnet_flops(18, stride="3x3") == resnet_flops(18)  # basic blocks stride their first 3x3 either way


@pytest.mark.parametrize("depth,documented", [(18, 1.81), (34, 3.66), (50, 4.09)])
def test_torchvision_documented_gflops(depth, documented):
    """An independent count: torchvision's documented GFLOPS (option B, FC included, stride on the 3x3)."""
    assert round(resnet_flops(depth, "B", "3x3").high / 1e9, 2) == documented


def test_vgg16_by_hand():
    convs = (9 * 3 * 64 + 9 * 64 * 64) * 224 ** 2 + (9 * 64 * 128 + 9 * 128 * 128) * 112 ** 2 \
        + (9 * 128 * 256 + 2 * 9 * 256 * 256) * 56 ** 2 + (9 * 256 * 512 + 2 * 9 * 512 * 512) * 28 ** 2 \
        + 3 * 9 * 512 * 512 * 14 ** 2
    assert vgg_flops(16).main == convs == 15_346_630_656
    assert vgg_flops(16).head == 25088 * 4096 + 4096 * 4096 + 4096 * 1000 == 123_633_664
    # VGG-19 (configuration E) adds one 3x3 layer at 56, 28 and 14
    assert vgg_flops(19).main - vgg_flops(16).main == 9 * (256 * 256 * 56 ** 2 + 512 * 512 * 28 ** 2 + 512 * 512 * 14 ** 2)


def test_cifar_resnet20_by_hand():
    weights = 9 * 3 * 16 + 6 * 9 * 16 * 16 + (9 * 16 * 32 + 5 * 9 * 32 * 32) + (9 * 32 * 64 + 5 * 9 * 64 * 64) + 64 * 10
    assert cifar_resnet_params(20).main == weights == 268_336
    assert cifar_resnet_params(20).extra == 10 + 2 * (16 + 6 * (16 + 32 + 64))
    # another implementation's count of the same network (BN and biases included): 269,722
    assert cifar_resnet_params(20).high == 269_722


def test_depths_not_in_the_paper_are_refused():
    with pytest.raises(KeyError, match="Table 1 has no 20-layer network"):
        resnet_flops(20)
    with pytest.raises(ValueError, match="shortcuts 'C'"):
        resnet_flops(34, "C")
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet_params(21)


@pytest.mark.parametrize("mistake,factor", [("multiply and add counted as two FLOPs", 2.0),
                                            ("a 448x448 input (4x the pixels)", 4.0)])
def test_likely_counting_mistakes_are_refuted(mistake, factor):
    """The value rule, with this example's tolerance, refuses a count off by a convention the paper rules out."""
    flops, half_unit = resnet_flops(101).high / 1e9, Tolerance("printed", digits=0.5)
    honest = value_rule(flops, None, None, 7.6, None, half_unit, 1)
    wrong = value_rule(factor * flops, None, None, 7.6, None, half_unit, 1)
    assert (honest.verdict, wrong.verdict) == ("verified", "refuted"), mistake
