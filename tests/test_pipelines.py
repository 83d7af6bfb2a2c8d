"""Each evaluation pipeline of `measure.data.pipelines` against a reference implementation of its definition,
written here from the definition alone (numpy, float64): ``tf.image.resize`` bilinear with half-pixel centres
and no antialiasing, big_vision's cast back to uint8 and central crop, and the [-1, 1] value range."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from measure.data import pipelines

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
HALF = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "input_size": (3, 224, 224), "interpolation": "bilinear",
        "crop_pct": 1.0, "crop_mode": "center"}


def tf_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """tf.image.resize(method="bilinear", antialias=False) of an (H, W, C) array, by its definition: output
    pixel o samples the input at (o + 0.5)·in/out − 0.5, between floor and ceil of that, clamped to the image."""
    def axis(n_in: int, n_out: int):
        position = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        floor = np.floor(position)
        lower = np.clip(floor, 0, n_in - 1).astype(int)
        upper = np.clip(np.ceil(position), 0, n_in - 1).astype(int)
        return lower, upper, position - floor

    y0, y1, wy = axis(image.shape[0], height)
    x0, x1, wx = axis(image.shape[1], width)
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - wx)[None, :, None] + img[y0][:, x1] * wx[None, :, None]
    bottom = img[y1][:, x0] * (1 - wx)[None, :, None] + img[y1][:, x1] * wx[None, :, None]
    return top * (1 - wy)[:, None, None] + bottom * wy[:, None, None]


def reference_big_vision(image: np.ndarray) -> np.ndarray:
    """decode|resize(256)|central_crop(224)|value_range(-1,1), as (C, H, W)."""
    resized = np.clip(tf_bilinear(image, 256, 256), 0, 255).astype(np.uint8)  # tf.cast truncates
    crop = resized[16:240, 16:240].astype(np.float64)
    return (crop / 255.0 * 2 - 1).transpose(2, 0, 1)


def reference_vit_jax(image: np.ndarray, size: int) -> np.ndarray:
    """tf.image.resize(im, [crop_size, crop_size]); (im - 127.5) / 127.5, as (C, H, W)."""
    return ((tf_bilinear(image, size, size) - 127.5) / 127.5).transpose(2, 0, 1)


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth image with edges and noise (resampling errors show on all three)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([128 + 100 * np.sin(xx / 7.0), 128 + 100 * np.cos(yy / 5.0), (xx * 3 + yy * 5) % 256], -1)
    base[height // 3:height // 2, width // 4:width // 2] = (250, 10, 30)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [(32, 32), (375, 500), (333, 211)], ids=["cifar", "landscape", "portrait"])
def test_big_vision_fewshot_pipeline_matches_its_definition(shape):
    image = photo(*shape)
    ours = pipelines.BIG_VISION_FEWSHOT.transform(HALF)(Image.fromarray(image)).numpy()
    reference = reference_big_vision(image)
    assert ours.shape == reference.shape == (3, 224, 224)
    levels = np.abs(ours - reference) * 127.5  # in uint8 steps
    # float32 vs float64 may truncate a value sitting on an integer to the neighbouring level; nothing more
    assert levels.max() <= 1.0 + 1e-4 and (levels > 1e-3).mean() < 1e-3


@pytest.mark.parametrize("pipeline,size", [(pipelines.VIT_JAX, 384), (pipelines.BIT, 448), (pipelines.BIT, 480)],
                         ids=["vit_jax-384", "bit-448", "bit-480"])
@pytest.mark.parametrize("shape", [(375, 500), (40, 60)], ids=["downscale", "upscale"])
def test_official_eval_pipelines_match_their_definition(pipeline, size, shape):
    image = photo(*shape, seed=1)
    ours = pipeline.transform(HALF, resolution=size)(Image.fromarray(image)).numpy()
    # float32 arithmetic: within 1e-4 of the float64 reference (0.013 of a uint8 level)
    np.testing.assert_allclose(ours, reference_vit_jax(image, size), atol=1e-4, rtol=0)


def test_the_timm_transform_is_not_the_official_pipeline():
    """The control that shows the tests above can fail: timm's shorter-side resize + centre crop (PIL,
    antialiased) of a non-square image is far from the vit_jax definition at the same size."""
    image = photo(375, 500, seed=2)
    timm_view = pipelines.TIMM.transform(HALF, resolution=384)(Image.fromarray(image)).numpy()
    assert np.abs(timm_view - reference_vit_jax(image, 384)).mean() > 0.05


def test_each_model_keeps_its_own_mean_and_std_where_it_differs():
    image = photo(64, 64, seed=3)
    imagenet = {**HALF, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    ours = pipelines.BIG_VISION_FEWSHOT.transform(imagenet)(Image.fromarray(image)).numpy()
    pixels = (reference_big_vision(image) + 1) / 2  # back to [0, 1]
    expected = (pixels - np.array(IMAGENET_MEAN)[:, None, None]) / np.array(IMAGENET_STD)[:, None, None]
    np.testing.assert_allclose(ours, expected, atol=1e-2)
    described = pipelines.BIG_VISION_FEWSHOT.describe(imagenet)
    assert described["mean"] == list(IMAGENET_MEAN) and described["normalization"] == "checkpoint"
    # the official eval pipelines fix [-1, 1]: that is their definition
    assert pipelines.VIT_JAX.describe(imagenet, 384)["mean"] == [0.5, 0.5, 0.5]


def test_records_name_the_pipeline_its_source_and_geometry():
    described = pipelines.VIT_JAX.describe(HALF, 384)
    assert described["name"] == "vit_jax" and "input_pipeline.py" in described["source"]
    assert described["resize"] == [384, 384] and described["crop"] is None and described["antialias"] is False
    assert pipelines.BIT.definition == pipelines.VIT_JAX.definition  # BiT's is the code vit_jax forked
    assert pipelines.by_name("timm").describe(HALF, 384)["timm_data_config"]["input_size"] == [3, 384, 384]
    with pytest.raises(ValueError, match="resizes to the model's resolution"):
        pipelines.VIT_JAX.geometry(None)
    with pytest.raises(ValueError, match="known: big_vision_fewshot"):
        pipelines.by_name("inception")


@pytest.mark.parametrize("name,resolution", [("big_vision_fewshot", 224), ("vit_jax", 384), ("bit", 128)])
def test_uint8_to_the_device_gives_the_float_paths_tensors(name, resolution):
    """The loader half (uint8) + the device half (DeviceStage) of a pipeline compute what its whole float
    transform computes: the same operations in the same order, so on the CPU bit for bit (on a GPU, float
    rounding). Images of different sizes travel as a list; one larger than four times its resize is resized in
    the loader and sent as float32 (fewer bytes), with the same arithmetic."""
    import torch

    pipeline = pipelines.by_name(name)
    shapes = [(32, 32), (375, 500), (333, 211), (1200, 900)]
    images = [Image.fromarray(photo(*shape, seed=i)) for i, shape in enumerate(shapes)]
    whole = pipeline.transform(HALF, resolution)
    host, stage = pipeline.stages(HALF, resolution)
    shipped = [host(image) for image in images]
    batch, targets = stage.collate([(x, i) for i, x in enumerate(shipped)])
    on_device = stage(batch, torch.device("cpu"))
    expected = torch.stack([whole(image) for image in images])
    assert on_device.dtype == torch.float32 and torch.equal(on_device, expected)
    assert targets.tolist() == [0, 1, 2, 3]
    float_bytes = expected[0].numel() * 4
    if pipeline.uint8_after_resize:  # the pipeline's own uint8 image: 4x fewer bytes than float32
        assert all(x.dtype == torch.uint8 and x.numel() == expected[0].numel() for x in shipped)
    else:
        # the decoded uint8 image where it is no larger than its float32 resize, else that resize
        assert [x.dtype for x in shipped] == [torch.uint8 if h * w <= 4 * resolution**2 else torch.float32
                                              for h, w in shapes]
        assert all(stage.nbytes(x) <= float_bytes for x in shipped)
    assert stage.nbytes(batch) < 4 * float_bytes


def test_a_stacked_uint8_batch_is_resized_on_the_device_like_each_image_alone():
    import torch

    host, stage = pipelines.VIT_JAX.stages(HALF, 64)
    images = [Image.fromarray(photo(32, 32, seed=i)) for i in range(3)]
    batch, _ = stage.collate([(host(image), 0) for image in images])
    assert isinstance(batch, torch.Tensor) and batch.dtype == torch.uint8  # CIFAR-sized: one stacked uint8 batch
    whole = pipelines.VIT_JAX.transform(HALF, 64)
    assert torch.equal(stage(batch, torch.device("cpu")), torch.stack([whole(image) for image in images]))
