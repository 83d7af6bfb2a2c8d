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


class CublasAbove(OomAbove):
    """Like `OomAbove`, but says it as cuBLAS does when a handle or its workspace finds no memory."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > self.limit:
            self.sizes.append(len(x))
            raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")
        return super().forward(x)


class PlacementOom(torch.nn.Module):
    """A model whose first `failures` moves to the runner's device run out of memory, as `.to(device)` on a full GPU
    (the runner's device is a torch.device; freeing the placed part moves to the string "cpu")."""

    def __init__(self, inner: torch.nn.Module, failures: int) -> None:
        super().__init__()
        self.inner, self.failures, self.moves = inner, failures, []

    def to(self, *args, **kwargs):
        self.moves.append(args[0] if args else kwargs)
        if args and isinstance(args[0], torch.device) and self.failures > 0:
            self.failures -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.2 GiB (simulated)")
        return super().to(*args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def _run(model, tmp_path, n=20, device="cpu"):
    return evaluate.run_inference(model, small_data(n), outputs=evaluate.logits_outputs, cache=ChunkCache(tmp_path),
                                  key={"t": 1}, batch_size=8, device=torch.device(device), num_workers=0)


def test_a_cublas_allocation_failure_in_the_forward_backs_off_like_an_oom(tmp_path):
    reference = _run(linear_model(), tmp_path / "a")
    backed_off = _run(CublasAbove(linear_model(), limit=3), tmp_path / "b")
    np.testing.assert_array_equal(backed_off.arrays["top5"], reference.arrays["top5"])
    assert backed_off.meta["oom_backoffs"] == 2 and backed_off.meta["final_batch_size"] == 2


def test_a_runtime_error_that_is_not_out_of_memory_is_not_taken_for_one(tmp_path):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")

    with pytest.raises(RuntimeError, match="illegal memory access"):
        _run(Broken(), tmp_path)


def test_placing_the_model_is_inside_the_oom_guard_retried_once_after_freeing_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "open_handles", lambda device, convolutions: None)  # what the cpu stand-in lacks
    once = PlacementOom(linear_model(), failures=1)
    result = _run(once, tmp_path / "a")
    np.testing.assert_array_equal(result.arrays["top5"], _run(linear_model(), tmp_path / "b").arrays["top5"])
    assert once.failures == 0 and len(once.moves) >= 3  # failed, back to the CPU, placed


def test_a_model_that_never_fits_is_a_missing_resource_naming_its_weights_and_the_fix(tmp_path):
    never = PlacementOom(linear_model(), failures=99)
    with pytest.raises(Missing, match=r"out of GPU memory on cpu placing the model \(0 MiB of weights\) and its "
                                      r"cuBLAS/cuDNN handles, before any batch .*run fewer xdist workers per GPU"):
        _run(never, tmp_path)
    assert never.failures == 97  # tried twice, not more


def test_creating_the_cublas_and_cudnn_handles_is_inside_the_oom_guard(tmp_path, monkeypatch):
    calls = []

    def full_gpu(device, convolutions):
        calls.append(device)
        raise RuntimeError("CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`")

    monkeypatch.setattr(evaluate, "open_handles", full_gpu)
    with pytest.raises(Missing, match="placing the model .* and its cuBLAS/cuDNN handles"):
        _run(linear_model(), tmp_path)
    assert len(calls) == 2


def test_open_handles_is_a_no_op_off_cuda():
    from measure.run.device import is_out_of_memory, open_handles

    open_handles(torch.device("cpu"), convolutions=True)
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert not is_out_of_memory(RuntimeError("CUDA error: device-side assert triggered"))
    assert not is_out_of_memory(ValueError("CUDA out of memory"))  # only what CUDA raises


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
