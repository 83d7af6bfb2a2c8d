"""One pytest-xdist worker of benchmarks/gpu_check.py's ``xdist`` section (run with ``-n 2 --dist each``).

Each worker runs the eval tier on the tiny world that gpu_check.py wrote (``GPU_CHECK_WORLD``), on the device
the suite itself gives that worker (`measure.run.device.select_device`: gwN -> cuda:N mod the GPU count), and
writes what it used to ``$GPU_CHECK_OUT/<worker>.json``. Not collected by the project's test runs: its name
does not match test_*.py; gpu_check.py names it explicitly.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from tests.tier_world import GOOD_FT, make_runner, trust


def test_this_worker_measures_on_the_device_the_suite_gives_it(monkeypatch: pytest.MonkeyPatch) -> None:
    world = trust(pickle.loads(Path(os.environ["GPU_CHECK_WORLD"]).read_bytes()), monkeypatch)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    out = Path(os.environ["GPU_CHECK_OUT"])
    runner = make_runner(world, out / f"cache-{worker}", device=None)  # None: select_device()
    result = runner.eval(GOOD_FT, "imagenet")
    device = runner.device
    record = {"worker": worker, "device": str(device), "accuracy": result.accuracy,
              "precision": result.metadata["inference"]["precision"],
              "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{worker}.json").write_text(json.dumps(record))
    assert result.accuracy == 1.0
