"""Per-example dropout masks (measure/train/dropout.py): the mask of an example does not depend on the batch it is
computed in, so the micro-batch a card holds cannot change a fine-tune."""

from __future__ import annotations

import torch

from measure.train.dropout import ExampleDropout, example_positions, mix32, per_example_dropout


def test_an_examples_mask_is_the_same_in_any_micro_batch():
    layer = ExampleDropout(0.25, layer=3).train()
    x = torch.ones(8, 5, 7)
    with example_positions(11, torch.arange(100, 108)):
        whole = layer(x)
    parts = []
    for start in range(0, 8, 2):
        with example_positions(11, torch.arange(100 + start, 102 + start)):
            parts.append(layer(x[start:start + 2]))
    assert torch.equal(torch.cat(parts), whole)
    kept = (whole != 0).float().mean().item()
    assert 0.65 < kept < 0.85 and torch.equal(whole[whole != 0], torch.full_like(whole[whole != 0], 1 / 0.75))
    with example_positions(12, torch.arange(100, 108)):  # another seed: other masks
        assert not torch.equal(layer(x), whole)
    with example_positions(11, torch.arange(100, 108)):  # another layer: other masks
        assert not torch.equal(ExampleDropout(0.25, layer=4).train()(x), whole)
    assert not torch.equal(whole[0], whole[1])  # examples differ from each other
    assert torch.equal(layer.eval()(x), x)


def test_the_keep_rate_is_one_minus_p_over_many_elements():
    layer = ExampleDropout(0.1).train()
    with example_positions(0, torch.arange(64)):
        kept = (layer(torch.ones(64, 4096)) != 0).double().mean().item()
    assert abs(kept - 0.9) < 0.003  # 262,144 Bernoulli(0.9): sd 0.0006


def test_mix32_is_lowbias32():
    # reference values of lowbias32 (uint32 arithmetic), computed in Python integers
    def reference(x: int) -> int:
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    values = [0, 1, 2, 12345, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
    signed = torch.tensor([v - (1 << 32) if v >= 1 << 31 else v for v in values], dtype=torch.int32)
    got = [int(v) & 0xFFFFFFFF for v in mix32(signed)]
    assert got == [reference(v) for v in values]


def test_every_dropout_of_a_model_becomes_per_example_with_its_rate():
    from timm.models.vision_transformer import VisionTransformer

    model = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, drop_rate=0.1)
    per_example_dropout(model)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert layers and all(isinstance(m, ExampleDropout) for m in layers)
    assert sorted(m.layer for m in layers) == list(range(len(layers)))
