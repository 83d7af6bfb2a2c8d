"""Complexity of the networks of He et al. 2015 (arXiv 1512.03385), recomputed from their printed configuration.

Plain Python, no torch: every count is a sum over layers of (kernel² · C_in · C_out · output pixels) for FLOPs and
(kernel² · C_in · C_out) for weights, over the layer lists the papers print.

The paper counts FLOPs as multiply-adds (§3.3: "3.6 billion FLOPs (multiply-adds)") but leaves some readings open:
whether the FC layers count, whether a network's shortcuts are projections (option B) or parameter-free (option A),
and, for bottlenecks, whether the stride-2 of a stage's first block sits on its first 1x1 (the authors' released
models; torchvision's documentation: "the original paper places it to the first 1x1 convolution") or on its 3x3
(torchvision's "ResNet V1.5"). ``readings`` lists the count under every combination. Element-wise work (BN, ReLU,
additions, pooling) is not multiply-add work and is counted by none.
"""

from __future__ import annotations

from dataclasses import dataclass

# Table 1: (block kind, blocks per stage conv2_x..conv5_x). Widths 64, 128, 256, 512 (bottleneck output 4x);
# output sides 56, 28, 14, 7 for a 224 x 224 input.
TABLE1 = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
WIDTHS = (64, 128, 256, 512)
SIDES = (56, 28, 14, 7)
STEM_SIDE = 112  # conv1: 7x7, 64, stride 2
CLASSES = 1000
SHORTCUTS = ("A", "B", "plain")  # identity + zero-padding; 1x1 projections where dimensions increase; none
STRIDES = ("1x1", "3x3")  # where a bottleneck block's stride-2 sits

# Simonyan & Zisserman 2015, Table 1, configurations D (VGG-16) and E (VGG-19): 3x3 convolutions per stage at
# sides 224, 112, 56, 28, 14 (a 2x2 max-pool after each), then FC-4096, FC-4096, FC-1000 on the 7x7x512 map.
VGG = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
VGG_WIDTHS = (64, 128, 256, 512, 512)
VGG_SIDES = (224, 112, 56, 28, 14)

# §4.2 (CIFAR-10): a 3x3 convolution of 16 filters on 32x32 inputs, then 3 stages of 2n 3x3 layers with 16, 32, 64
# filters, global average pooling and a 10-way fully-connected layer; 6n+2 weighted layers; identity shortcuts
# (option A) everywhere, so shortcuts have no parameters.
CIFAR_WIDTHS = (16, 32, 64)
CIFAR_CLASSES = 10


@dataclass(frozen=True)
class Count:
    """A count split into its parts; low: without the FC layers (and, for parameters, biases and BN), high: all."""

    main: int
    projections: int = 0
    head: int = 0  # fully-connected layers (VGG: the three FC layers; ResNet: the 1000-way FC)
    extra: int = 0  # only for parameters: biases and BN scale/shift

    @property
    def low(self) -> int:
        return self.main + self.projections

    @property
    def high(self) -> int:
        return self.main + self.projections + self.head + self.extra


def conv_macs(kernel: int, c_in: int, c_out: int, side: int) -> int:
    """Multiply-adds of a convolution producing a side x side x c_out map."""
    return kernel * kernel * c_in * c_out * side * side


def _blocks(depth: int):
    """(c_in, width, c_out, stride-2 block?, stage side) for every block of Table 1's network of this depth."""
    kind, counts = TABLE1[depth]
    expansion = 4 if kind == "bottleneck" else 1
    c_in = 64
    for stage, (blocks, width, side) in enumerate(zip(counts, WIDTHS, SIDES)):
        for i in range(blocks):
            yield kind, c_in, width, width * expansion, stage > 0 and i == 0, side
            c_in = width * expansion


def resnet_flops(depth: int, shortcuts: str = "B", stride: str = "1x1") -> Count:
    """Multiply-adds of Table 1's network for one 224 x 224 image with shortcut option ``shortcuts`` (SHORTCUTS;
    identity shortcuts add no multiply-adds) and a bottleneck's stride-2 on its ``stride`` layer (STRIDES).
    "Downsampling is performed by conv3_1, conv4_1, and conv5_1 with a stride of 2" (Table 1)."""
    if depth not in TABLE1:
        raise KeyError(f"Table 1 has no {depth}-layer network; it has {sorted(TABLE1)}")
    if shortcuts not in SHORTCUTS or stride not in STRIDES:
        raise ValueError(f"shortcuts {shortcuts!r}, stride {stride!r}: use one of {SHORTCUTS} and of {STRIDES}")
    main = conv_macs(7, 3, 64, STEM_SIDE)
    projections = 0
    for kind, c_in, width, c_out, strided, side in _blocks(depth):
        if kind == "basic":
            main += conv_macs(3, c_in, width, side) + conv_macs(3, width, width, side)
        else:  # with the stride on the 3x3, the first 1x1 still runs at the previous stage's side
            side_1x1 = 2 * side if strided and stride == "3x3" else side
            main += conv_macs(1, c_in, width, side_1x1) + conv_macs(3, width, width, side) + conv_macs(1, width, c_out, side)
        if shortcuts == "B" and c_in != c_out:  # option B: a projection only where dimensions increase
            projections += conv_macs(1, c_in, c_out, side)
    c_last = WIDTHS[-1] * (4 if TABLE1[depth][0] == "bottleneck" else 1)
    return Count(main=main, projections=projections, head=c_last * CLASSES)


def resnet_readings(depth: int) -> dict[str, int]:
    """Multiply-adds of Table 1's network under every reading the paper leaves open (module docstring)."""
    strides = STRIDES if TABLE1[depth][0] == "bottleneck" else STRIDES[:1]
    out = {}
    for shortcuts in ("A", "B"):
        for stride in strides:
            count = resnet_flops(depth, shortcuts, stride)
            name = f"option {shortcuts}" + (f", stride on {stride}" if len(strides) > 1 else "")
            out[f"{name}, no FC"], out[f"{name}, with FC"] = count.low, count.high
    return out


def vgg_flops(depth: int) -> Count:
    """Multiply-adds of VGG-16 / VGG-19 for one 224 x 224 image: convolutions (main) and the three FC layers."""
    if depth not in VGG:
        raise KeyError(f"VGG configurations here: {sorted(VGG)}, not {depth}")
    main, c_in = 0, 3
    for layers, width, side in zip(VGG[depth], VGG_WIDTHS, VGG_SIDES):
        for _ in range(layers):
            main += conv_macs(3, c_in, width, side)
            c_in = width
    head = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * CLASSES
    return Count(main=main, head=head)


def cifar_resnet_params(depth: int) -> Count:
    """Parameters of §4.2's CIFAR-10 ResNet with ``depth`` = 6n + 2 layers: the weights of every convolution and of
    the FC layer (main, counted by every convention) and, in ``extra``, the FC biases and every BN layer's scale and
    shift (2 per channel), which some counts leave out."""
    n, rest = divmod(depth - 2, 6)
    if rest or n < 1:
        raise ValueError(f"CIFAR-10 ResNets have 6n+2 layers; {depth} is not of that form")
    main, channels_bn, c_in = 3 * 3 * 3 * 16, 16, 16
    for width in CIFAR_WIDTHS:
        for _ in range(2 * n):
            main += 3 * 3 * c_in * width
            channels_bn += width
            c_in = width
    return Count(main=main + CIFAR_WIDTHS[-1] * CIFAR_CLASSES, extra=CIFAR_CLASSES + 2 * channels_bn)
