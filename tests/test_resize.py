"""The fine-tune recipe's evaluation resize is ``tf.image.resize`` (bilinear, no antialiasing, half-pixel centres),
as vit_jax's input pipeline evaluates: pinned against a direct numpy implementation of TF's formula, on values
computed by hand, for up- and downsampling; PIL's antialiased bilinear resize (what the recipe used before)
gives other pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from measure.data.resize import TFResize, tf_bilinear_resize
from measure.train.recipe import bit_hyperrule, paper_recipe
from measure.train.stream import eval_transform


def tf_half_pixel_bilinear(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF's ``resize_bilinear`` with ``half_pixel_centers=True`` (tensorflow/core/kernels/image/resize_bilinear_op.cc,
    ``compute_interpolation_weights`` with ``HalfPixelScaler``), written from the formula: output pixel i reads the
    input at in = (i + ½)·scale − ½, scale = in_size / out_size; lower = max(floor(in), 0), upper =
    min(ceil(in), in_size − 1), lerp = in − floor(in); value = top + (bottom − top)·lerp_y of left + (right −
    left)·lerp_x. `image`: (H, W) or (H, W, C) float."""
    def weights(out_size: int, in_size: int):
        scale = in_size / out_size
        lowers, uppers, lerps = [], [], []
        for i in range(out_size):
            position = (i + 0.5) * scale - 0.5
            floor = np.floor(position)
            lowers.append(int(max(floor, 0)))
            uppers.append(int(min(np.ceil(position), in_size - 1)))
            lerps.append(position - floor)
        return lowers, uppers, lerps

    image = np.asarray(image, dtype=np.float64)
    ys, xs = weights(out_h, image.shape[0]), weights(out_w, image.shape[1])
    out = np.empty((out_h, out_w) + image.shape[2:])
    for i, (y0, y1, dy) in enumerate(zip(*ys)):
        for j, (x0, x1, dx) in enumerate(zip(*xs)):
            top = image[y0, x0] + (image[y0, x1] - image[y0, x0]) * dx
            bottom = image[y1, x0] + (image[y1, x1] - image[y1, x0]) * dx
            out[i, j] = top + (bottom - top) * dy
    return out


def torch_resize(image: np.ndarray, size: int) -> np.ndarray:
    """`tf_bilinear_resize` on an (H, W) array."""
    return tf_bilinear_resize(torch.from_numpy(np.asarray(image, dtype=np.float32))[None], size)[0].numpy()


def test_the_numpy_reference_gives_the_hand_computed_values():
    """f(y, x) = 8y + 4x on a 2x2 grid: bilinear interpolation reproduces it exactly where it samples. Up to 4x4,
    half-pixel centres sample at 0.5·(i + ½) − ½ = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1); down
    from 4x4 to 2x2 (f = 4y + x), at 2·(i + ½) − ½ = 0.5, 2.5. An aligned-corners resize or an off-by-half
    centre convention gives other numbers."""
    up = np.array([[0.0, 1, 3, 4], [2, 3, 5, 6], [6, 7, 9, 10], [8, 9, 11, 12]])
    assert np.array_equal(tf_half_pixel_bilinear(np.array([[0.0, 4.0], [8.0, 12.0]]), 4, 4), up)
    down = np.array([[2.5, 4.5], [10.5, 12.5]])
    assert np.array_equal(tf_half_pixel_bilinear(np.arange(16.0).reshape(4, 4), 2, 2), down)


def test_torch_interpolate_is_tfs_half_pixel_formula_up_and_down():
    """torch's bilinear (align_corners=False, antialias=False) against the numpy reference: the hand-computed
    grids, then a random image up (7 -> 13, non-integer scale) and down (13 -> 5, 37 -> 16, where an antialiased
    kernel would read more pixels)."""
    assert np.allclose(torch_resize(np.array([[0.0, 4.0], [8.0, 12.0]]), 4),
                       [[0, 1, 3, 4], [2, 3, 5, 6], [6, 7, 9, 10], [8, 9, 11, 12]], atol=1e-5)
    assert np.allclose(torch_resize(np.arange(16.0).reshape(4, 4), 2), [[2.5, 4.5], [10.5, 12.5]], atol=1e-5)
    rng = np.random.default_rng(0)
    for in_size, out_size in ((7, 13), (13, 5), (37, 16), (3, 3)):
        image = rng.integers(0, 256, (in_size, in_size)).astype(np.float64)
        assert np.allclose(torch_resize(image, out_size), tf_half_pixel_bilinear(image, out_size, out_size),
                           atol=1e-3), (in_size, out_size)


def test_the_recipes_evaluation_transform_resizes_as_tf_image_resize_does():
    """The fine-tune evaluation (paper recipe and BiT-HyperRule alike) on a 37x29 RGB image: TF's formula per
    channel, in float (no rounding back to uint8); PIL's antialiased bilinear resize — the transform it replaces
    — differs by several grey levels."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (29, 37, 3)).astype(np.uint8)  # non-square: the whole image, aspect not kept
    image = Image.fromarray(pixels)
    for recipe in (paper_recipe("cifar10").scaled(resolution=16), bit_hyperrule("pets", 3680).scaled(resolution=16)):
        transform = eval_transform(recipe)
        assert isinstance(transform, TFResize) and transform.size == 16
        out = transform(image)
        assert out.dtype == torch.float32 and out.shape == (3, 16, 16)
        expected = tf_half_pixel_bilinear(pixels.astype(np.float64), 16, 16).transpose(2, 0, 1)
        assert np.allclose(out.numpy(), expected, atol=1e-3)
        assert not np.allclose(out.numpy(), np.round(out.numpy()))  # float, as vit_jax feeds it
        ev = recipe.evaluation()
        assert (ev["resize"], ev["interpolation"], ev["antialias"], ev["crop"]) == ([16, 16], "bilinear", False, None)
    pil = np.asarray(image.resize((16, 16), Image.BILINEAR), dtype=np.float64).transpose(2, 0, 1)
    difference = np.abs(pil - expected)
    assert difference.mean() > 5.0 and difference.max() > 40.0  # not rounding: other pixels were averaged


@pytest.mark.parametrize("dataset,train_size,paper_px,bit_px", [("pets", 3680, 384, 480), ("cifar10", 50_000, 384, 128)])
def test_each_recipe_names_its_evaluation_resolution_and_resize(dataset, train_size, paper_px, bit_px):
    for recipe, px in ((paper_recipe(dataset), paper_px), (bit_hyperrule(dataset, train_size), bit_px)):
        ev = recipe.evaluation()
        assert ev["resolution"] == px and ev["resize"] == [px, px] and ev["recipe"] == recipe.name
        assert ev["antialias"] is False and ev["interpolation"] == "bilinear" and ev["half_pixel_centers"] is True
        assert "tf.image.resize" in ev["source"] and "tf.image.resize" in ev["definition"]
        assert f"evaluated at {px} px: resize {px}x{px}, bilinear, no antialias" in recipe.describe_evaluation()
        key = recipe.to_key()  # the cache key carries how it evaluates: an antialiased run is keyed apart
        assert key["eval_antialias"] is False and key["eval_interpolation"] == "bilinear"
