"""Batched inference: OOM back-off, a cache key independent of batch size and workers, one GPU per xdist worker."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from measure.errors import Missing
from measure.run import inference as evaluate
from measure.run.cache import ChunkCache


class OomAbove(torch.nn.Module):
    """Wraps a model; raises CUDA out-of-memory for batches larger than `limit`, like a full GPU."""

    def __init__(self, inner: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.sizes = inner, limit, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(len(x))
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated, batch {len(x)} > {self.limit})")
        return self.inner(x)


def small_data(n: int = 20) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(n, 6, generator=generator), torch.arange(n) % 3)


def linear_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(6, 3)


def test_oom_halves_the_batch_and_gives_the_same_outputs(tmp_path):
    data, model = small_data(), linear_model()
    reference = evaluate.run_inference(model, data, outputs=evaluate.logits_outputs, cache=ChunkCache(tmp_path / "a"),
                                       key={"t": 1}, batch_size=8, device=torch.device("cpu"), num_workers=0)
    wrapped = OomAbove(model, limit=3)
    backed_off = evaluate.run_inference(wrapped, data, outputs=evaluate.logits_outputs,
                                        cache=ChunkCache(tmp_path / "b"), key={"t": 1}, batch_size=8,
                                        device=torch.device("cpu"), num_workers=0)
    np.testing.assert_array_equal(backed_off.arrays["top5"], reference.arrays["top5"])
    assert backed_off.meta["oom_backoffs"] == 2 and backed_off.meta["final_batch_size"] == 2  # 8 -> 4 -> 2
    assert max(size for size in wrapped.sizes if size <= 3) == 2 and wrapped.sizes.count(8) == 1


def test_oom_at_batch_size_one_is_a_missing_resource(tmp_path):
    with pytest.raises(Missing, match="out of GPU memory .* even at batch size 1"):
        evaluate.run_inference(OomAbove(linear_model(), limit=0), small_data(4), outputs=evaluate.logits_outputs,
                               cache=ChunkCache(tmp_path), key={"t": 1}, batch_size=4,
                               device=torch.device("cpu"), num_workers=0)


def test_cache_key_ignores_batch_size_workers_and_xdist_worker(tmp_path, monkeypatch):
    cache, data = ChunkCache(tmp_path), small_data()
    first = evaluate.run_inference(linear_model(), data, outputs=evaluate.feature_outputs, cache=cache, key={"t": 1},
                                   batch_size=4, device=torch.device("cpu"), num_workers=0, chunk_size=8)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    model = OomAbove(linear_model(), limit=10**6)
    second = evaluate.run_inference(model, data, outputs=evaluate.feature_outputs, cache=cache, key={"t": 1},
                                    batch_size=16, device=torch.device("cpu"), chunk_size=8)
    assert not first.from_cache and first.cache.computed_chunks == (0, 1, 2)
    assert second.from_cache and model.sizes == []  # nothing recomputed, the model never ran
    np.testing.assert_array_equal(second.arrays["features"], first.arrays["features"])
    np.testing.assert_array_equal(second.arrays["index"], np.arange(20))
    np.testing.assert_array_equal(second.arrays["target"], np.arange(20) % 3)
    assert first.meta["images_computed"] == 20 and first.meta["images_per_s"] > 0
    assert first.meta["precision"] == "float32" and first.meta["peak_memory_bytes"] is None


def test_device_is_one_gpu_per_xdist_worker(monkeypatch):
    monkeypatch.delenv("CLAIMS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    for worker, expected in (("gw0", "cuda:0"), ("gw1", "cuda:1"), ("gw3", "cuda:1")):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        assert str(evaluate.select_device()) == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert str(evaluate.select_device()) == "cpu"
    assert evaluate.precision(torch.device("cuda:0")) == "bf16-autocast"


class Photos(torch.utils.data.Dataset):
    """PIL images of three sizes through a transform (the loader half of a pipeline, or its whole float path)."""

    def __init__(self, transform, n: int = 10) -> None:
        from PIL import Image

        rng = np.random.default_rng(0)
        self.images = [Image.fromarray(rng.integers(0, 256, size=(20 + 7 * (i % 3), 30, 3), dtype=np.uint8))
                       for i in range(n)]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), i % 3


def test_uint8_batches_normalised_on_the_device_give_the_float_paths_outputs_from_one_loader(tmp_path, monkeypatch):
    """The eval/probe data path: the loader ships uint8 (a quarter of float32's bytes, or less), the device stage
    resizes and normalises; the features equal the float path's, and one DataLoader serves the whole pass (its
    persistent workers decode across chunks: no loader restart per chunk)."""
    from measure.data.pipelines import VIT_JAX

    half = {"mean": (0.5,) * 3, "std": (0.5,) * 3}
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    common = {"outputs": evaluate.feature_outputs, "key": {"t": 1}, "batch_size": 4, "device": torch.device("cpu"),
              "num_workers": 0, "chunk_size": 4}
    floats = evaluate.run_inference(model, Photos(VIT_JAX.transform(half, 48)), cache=ChunkCache(tmp_path / "f"),
                                    **common)
    built = []
    real_loader = torch.utils.data.DataLoader
    monkeypatch.setattr(torch.utils.data, "DataLoader", lambda *a, **k: built.append(1) or real_loader(*a, **k))
    host, stage = VIT_JAX.stages(half, 48)
    staged = evaluate.run_inference(model, Photos(host), cache=ChunkCache(tmp_path / "u"), stage=stage, **common)
    np.testing.assert_array_equal(staged.arrays["features"], floats.arrays["features"])
    assert staged.cache.computed_chunks == (0, 1, 2) and len(built) == 1
    assert staged.meta["normalised_on"] == "device" and floats.meta["normalised_on"] == "loader"
    assert floats.meta["bytes_to_device_per_image"] == 3 * 48 * 48 * 4
    assert staged.meta["bytes_to_device_per_image"] == pytest.approx(np.mean([3 * (20 + 7 * (i % 3)) * 30
                                                                              for i in range(10)]))
