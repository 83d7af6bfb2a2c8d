"""The device policy (--claims-device / $CLAIMS_DEVICE): a GPU run without a usable GPU stops at configure time in
one line naming the driver, torch's CUDA version and the fix; xdist workers map to GPUs and are made current;
workers beyond the GPU count are refused under cuda; /dev/shm is checked before loader workers need it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from measure.errors import Missing
from measure.run import device

ROOT = Path(__file__).resolve().parents[1]


def test_cuda_without_a_usable_gpu_is_a_one_line_usage_error_naming_driver_cuda_and_fix(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "CLAIMS_DEVICE"))},
           "PYTHONPATH": str(ROOT / "pytest-claims" / "src") + os.pathsep + str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_device.py", "-k", "nothing_matches",
                           "-p", "no:cacheprovider", "-n", "0", "--claims-device", "cuda"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]  # pytest's usage error
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert line.startswith("ERROR: --claims-device cuda: ") and "--claims-device cpu" in line
    assert ("CPU-only build" in line) or (f"CUDA {torch.version.cuda}" in line and "driver" in line)


def test_the_problem_names_the_driver_and_the_cuda_the_wheel_needs(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.2")
    monkeypatch.setattr(device, "driver_version", lambda: "550.54.15")
    problem = device.cuda_problem()
    assert "built for CUDA 13.2, which needs driver >= 580.65" in problem and "driver is 550.54.15" in problem
    monkeypatch.setattr(device, "driver_version", lambda: None)
    assert "no NVIDIA driver found" in device.cuda_problem()
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "CPU-only build" in device.cuda_problem()
    with pytest.raises(device.DeviceUnavailable, match="--claims-device cuda: torch"):
        device.select_device("cuda")
    assert device.select_device("auto") == torch.device("cpu")  # auto falls back; the runner warns
    with pytest.raises(ValueError, match="choose cuda, cpu or auto"):
        device.device_policy("gpu")


def test_each_xdist_worker_gets_its_gpu_made_current_and_extra_workers_are_refused_under_cuda(monkeypatch):
    current = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    for worker, expected in (("gw0", "cuda:0"), ("gw1", "cuda:1")):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        assert str(device.select_device("cuda")) == expected
    assert [str(d) for d in current] == ["cuda:0", "cuda:1"]  # set_device: no context opened on GPU 0 by gw1
    assert device.check_xdist_workers("cuda", 2) is None
    with pytest.raises(device.DeviceUnavailable, match="-n 3 runs 3 pytest-xdist workers on 2 GPU"):
        device.check_xdist_workers("cuda", 3)
    assert "use -n 2" in device.check_xdist_workers("auto", 3)  # auto: a warning, the workers share
    assert device.select_device("cpu") == torch.device("cpu")


def test_loader_workers_are_shared_between_torchruns_local_processes(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert device.default_workers() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # 8 ranks on 16 cores: 2 each, no room for workers
    assert device.default_workers() == 0
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert device.default_workers() == 7


def test_too_little_shared_memory_stops_before_the_loader_with_the_fix(tmp_path):
    free = __import__("shutil").disk_usage(tmp_path).free
    device.check_shared_memory(1024, "eval", folder=str(tmp_path))
    with pytest.raises(Missing, match=r"--shm-size=\d+g"):
        device.check_shared_memory(free + 2**30, "ViT-B/16 imagenet/val", folder=str(tmp_path))
    device.check_shared_memory(10**15, "x", folder=str(tmp_path / "absent"))  # no /dev/shm: nothing to check
