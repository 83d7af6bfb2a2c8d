"""One fine-tune over several processes (torchrun + DistributedDataParallel, gloo on CPU), against one process.

Each test starts real processes through torchrun (tests/distributed_worker.py), so what CI runs here is what a
GPU cluster runs, down to the rendezvous and the restart after a lost process. Kept small for CI: a 2-block ViT
of width 32 on 32x32 images, 6 steps of a global batch of 8; about 10 s per torchrun start on two shared cores
(the module ≈ 45 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import timm
import torch

from measure.data import datasets as ds_mod
from measure.models.registry import CheckpointSpec
from measure.train import launch
from measure.train.distributed import World
from measure.train.stream import Mixup, ShardPositions
from tests.fake_checkpoints import timm_hub_files, write_hf_cache_repo
from tests.fake_datasets import write_imagenet_train, write_imagenet_val, write_real_labels

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed_worker.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--monitor-interval", "0.2"]


def _run(command: list[str], env: dict[str, str] | None = None, timeout: int = 300,
         ok: bool = True) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}  # as a user launches it
    done = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**inherited, **(env or {})})
    if ok:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done


def _loop(folder: Path, processes: int, torchrun: tuple[str, ...] = (), worker: tuple[str, ...] = ()) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    head = [sys.executable] if processes == 1 else [*TORCHRUN, "--nproc-per-node", str(processes), *torchrun]
    _run([*head, str(WORKER), "loop", str(folder), *worker])
    return torch.load(folder / "result.pt")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict:
    """The reference: the same run in one process, the global batch of 8 as two micro-batches of 4."""
    return _loop(tmp_path_factory.mktemp("one"), 1)


def _same(a: dict, b: dict) -> None:
    assert a["loss"] == b["loss"] and a["grad_norm"] == b["grad_norm"]
    for part in ("model", "ema"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), (part, name)


# -- the pieces, in this process -------------------------------------------------------------------------------

def test_ranks_share_every_global_batch_in_contiguous_blocks():
    single = list(ShardPositions(start=2, steps=4, batch=8))
    ranks = [list(ShardPositions(start=2, steps=4, batch=8, rank=r, size=4)) for r in range(4)]
    assert single == list(range(16, 32)) and sorted(p for rank in ranks for p in rank) == single
    assert ranks[1] == [18, 19, 26, 27]  # step 2: positions 16-23, rank 1 holds 18-19; step 3: 26-27
    with pytest.raises(ValueError, match="cannot be shared evenly"):
        ShardPositions(0, 1, batch=8, size=3)
    with pytest.raises(ValueError, match="split evenly over 3 processes"):
        World(rank=0, size=3).share(512)


def test_world_comes_from_torchruns_environment():
    assert World.from_env({}) == World() and not World().distributed and World().leader
    world = World.from_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"})
    assert (world.rank, world.size, world.local_rank, world.distributed, world.leader) == (3, 8, 1, True, False)
    assert World().mean(0.25, torch.device("cpu")) == 0.25 and World().from_leader("x") == "x"  # no group needed
    with pytest.raises(ValueError, match="outside a world"):
        World(rank=2, size=2)


def test_mixup_pairs_and_lambda_are_functions_of_seed_and_step():
    mixup = Mixup(alpha=0.1, batch=8, seed=3)
    lam, perm = mixup.draw(5)
    assert 0.0 <= lam <= 1.0 and sorted(perm) == list(range(8))
    again = Mixup(alpha=0.1, batch=8, seed=3).draw(5)  # a resumed run, another process: the same draw
    assert again[0] == lam and (again[1] == perm).all()
    assert Mixup(alpha=0.1, batch=8, seed=4).draw(5)[0] != lam
    partners = [mixup.partner(p) for p in range(40, 48)]  # step 5's positions pair within step 5's batch
    assert sorted(partners) == list(range(40, 48)) and partners == [40 + int(i) for i in perm]
    # Beta(0.1, 0.1) puts most of its mass near 0 and 1: mixup 0.1 mostly nudges, sometimes blends
    lams = np.array([Mixup(0.1, 8, 0).draw(s)[0] for s in range(400)])
    assert ((lams < 0.1) | (lams > 0.9)).mean() > 0.6 and 0.3 < lams.mean() < 0.7


# -- several processes: torchrun, gloo ---------------------------------------------------------------------------

def test_two_gloo_processes_follow_the_one_process_trajectory_bit_for_bit(one_process, tmp_path):
    """Same global batch (8), each rank 4 of it: losses, gradient norms, weights and the Polyak average equal
    one process's exactly — with dropout and mixup on, since both are drawn from the data's positions."""
    two = _loop(tmp_path / "two", 2)
    assert two["processes"] == 2 and one_process["processes"] == 1 and len(two["loss"]) == 6
    _same(one_process, two)
    assert len(set(one_process["loss"].values())) > 1  # it trained


def test_a_killed_process_is_restarted_and_the_run_resumes_from_its_saved_state(one_process, tmp_path):
    """Rank 1 dies (SIGKILL) after step 3; torchrun restarts both ranks, which resume from the state saved at
    step 2 and end exactly where the uninterrupted run ends."""
    resumed = _loop(tmp_path / "killed", 2, torchrun=("--max-restarts", "1"), worker=("--kill-at", "3"))
    assert (tmp_path / "killed" / "killed").exists() and resumed["resumed_from"] == 2
    _same(one_process, resumed)


def test_micro_batch_size_does_not_change_the_run_with_dropout_on(one_process, tmp_path):
    """Dropout masks are drawn per example (measure/train/dropout.py): one process with micro-batch 2 or 8 trains
    what micro-batch 4 trains, up to float summation order (with masks per micro-batch, step-1 losses differed in
    the first decimal)."""
    for micro in (2, 8):
        other = _loop(tmp_path / f"micro{micro}", 1, worker=("--micro", str(micro)))
        assert other["micro_batch"] == micro and one_process["micro_batch"] == 4
        np.testing.assert_allclose(list(other["loss"].values()), list(one_process["loss"].values()), rtol=2e-5)
        np.testing.assert_allclose(list(other["grad_norm"].values()), list(one_process["grad_norm"].values()),
                                   rtol=2e-5)
        for name, tensor in one_process["model"].items():
            torch.testing.assert_close(other["model"][name], tensor, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("oom_as", ["torch", "cublas"])
def test_an_out_of_memory_on_one_rank_makes_every_rank_halve_the_micro_batch(tmp_path, oom_as):
    """Rank 1 of 2 runs out of memory (simulated) at micro-batch 4 in the first step; both ranks learn it before any
    gradient is exchanged, halve to 2, redo the step and finish — the run of one process at micro-batch 2. cuBLAS
    says it with a plain RuntimeError (no handle memory), which is an out-of-memory too."""
    halved = _loop(tmp_path / "oom", 2, worker=("--oom-rank", "1", "--oom-as", oom_as))
    ranks = [torch.load(tmp_path / "oom" / f"rank{r}.pt") for r in (0, 1)]
    assert ranks == [{"micro_batch": 2, "oom_backoffs": 1}] * 2
    reference = _loop(tmp_path / "micro2", 1, worker=("--micro", "2"))
    np.testing.assert_allclose(list(halved["loss"].values()), list(reference["loss"].values()), rtol=1e-6)
    for name, tensor in reference["model"].items():
        torch.testing.assert_close(halved["model"][name], tensor, rtol=1e-5, atol=1e-6)


def test_a_failure_on_rank_1_is_printed_with_its_rank_and_named_by_torchruns_summary(tmp_path):
    done = _run([*TORCHRUN, "--nproc-per-node", "2", str(WORKER), "fail", str(tmp_path)], ok=False, timeout=120)
    text = done.stdout + done.stderr
    assert done.returncode != 0
    assert "[rank 1 of 2] failed: ValueError: planted failure: the checkpoint of rank 1 has no head" in text, text[-4000:]
    assert "[rank 1 of 2] Traceback" in text
    summary = text[text.index("Root Cause"):]
    assert "rank      : 1" in summary and "planted failure" in summary, summary


TINY = CheckpointSpec(key="tiny-vit-i21k", paper_model="ViT-L/16", pretraining="imagenet21k", finetuned_on="",
                      resolution=160, library="timm", hub_id="test_vit.r160_in1k", provenance="substitute",
                      note="test-only tiny stand-in", num_classes=1000)


def test_a_torchrun_launch_fills_the_cache_the_suite_then_reads(tmp_path, monkeypatch):
    """`python -m measure.train.launch`'s path over two processes fine-tunes the (fake) ImageNet train folder —
    Table 2's setting for ViT-L/16 I21k, shortened — and leaves every run in the cache; a one-process suite
    session with the same options then trains nothing, and scores ReaL from the same fine-tune."""
    train = write_imagenet_train(tmp_path / "imagenet")
    val = write_imagenet_val(tmp_path / "imagenet")
    numbers = [int(name[15:23]) for name in val.files["val"]]
    real = write_real_labels(tmp_path / "real.json", {n: [label] for n, label in zip(numbers[1:], val.labels["val"][1:])})
    torch.manual_seed(0)
    model = timm.create_model("test_vit", num_classes=1000).eval()
    write_hf_cache_repo(tmp_path / "hf", f"timm/{TINY.hub_id}", timm_hub_files(model, tmp_path / "export"))
    datasets = {"imagenet": dataclasses.replace(ds_mod.DATASETS["imagenet"], sizes={"train": 51, "val": 6}),
                "imagenet_real": dataclasses.replace(ds_mod.DATASETS["imagenet_real"], sizes={"val": 6})}
    args = argparse.Namespace(claims_data=str(tmp_path / "data"), claims_imagenet=str(tmp_path / "imagenet"),
                              claims_real_labels=str(real), claims_download=False, claims_cache=str(tmp_path / "cache"),
                              claims_checkpoint=[], claims_seeds="0", claims_finetune_steps=2, claims_finetune_batch=4)
    (tmp_path / "setup.pkl").write_bytes(pickle.dumps({"datasets": datasets, "args": args, "spec": TINY,
                                                       "resolution": 32}))
    hub = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf")}
    _run([*TORCHRUN, "--nproc-per-node", "2", str(WORKER), "tier", str(tmp_path)], env=hub)
    assert len(train.labels["train"]) == 51

    for name, spec in datasets.items():
        monkeypatch.setitem(ds_mod.DATASETS, name, spec)
    for name, value in hub.items():
        monkeypatch.setenv(name, value)
    trained: list[int] = []
    runner = launch.build_runner(args, World(), torch.device("cpu"))
    settings = runner.finetune_settings
    runner.finetune_settings = dataclasses.replace(settings, resolution=32, runtime=dataclasses.replace(
        settings.runtime, num_workers=0, on_step=trained.append))
    result = runner.finetune(TINY, "imagenet")
    assert trained == [] and all(run["from_cache"] for run in result.metadata["runs"])
    meta = result.metadata
    assert meta["runs"][0]["meta"]["train"]["processes"] == 2  # trained by the launch, over two processes
    assert meta["recipe"]["polyak_decay"] == 0.9999 and meta["shortened"] and meta["split"] == "val"
    assert len(meta["lr_selection"]["held_out_accuracy"]) == 4 and result.n == 6  # Table 4's ImageNet grid
    real_result = runner.finetune(TINY, "imagenet_real")
    assert trained == [] and real_result.n == 5  # the one image without ReaL labels is not scored
    assert real_result.metadata["runs"][0]["meta"]["cache_entry"] == meta["runs"][0]["meta"]["cache_entry"]
    # ReaL's labels here are ImageNet's for all but the first image (unscored): the same predictions, scored again
    np.testing.assert_array_equal(real_result.correct, result.correct[1:])
