"""What tests/test_distributed.py starts under torchrun (or alone, as the one-process reference), on CPU with gloo.

``loop OUT [--kill-at STEP]`` — `measure.train.loop.train` of a tiny ViT (dropout 0.1, mixup 0.2, Polyak 0.9) on
24 coloured 32x32 images, global batch 8 in micro-batches of 4; rank 0 writes what it ended with to OUT/result.pt.
With --micro M the micro-batch is M; with --oom-rank R, rank R raises a (simulated) CUDA out-of-memory at its
first micro-batch of more than 2, as torch says it (``--oom-as torch``) or as cuBLAS does when a handle finds no memory
(``--oom-as cublas``: a plain RuntimeError). With --kill-at, rank 1 kills itself (SIGKILL) after that step, once (a marker file remembers), so torchrun's
restart has to resume from the saved training state.

``fail OUT`` — rank 1 raises inside the launcher's error reporting (`rank_errors`, torchrun's `record`).

``tier WORLD`` — the launcher's path (`measure.train.launch.build_runner` + `run`): the finetune tier on the fake
ImageNet under WORLD, shortened, every run spread over the processes; it leaves the runs in WORLD/cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import signal
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure.train.distributed import World  # after the path: run as a script

STEPS, BATCH, MICRO = 6, 8, 4


class Colours(Dataset):
    """24 PIL images whose colour is their class (3 classes) plus noise."""

    def __init__(self, transform) -> None:
        rng = np.random.default_rng(0)
        palette = np.random.default_rng(99).integers(0, 256, size=(3, 3))
        self.targets = [i % 3 for i in range(24)]
        self.images = [np.clip(palette[t] + rng.integers(-30, 31, size=(32, 32, 3)), 0, 255).astype(np.uint8)
                       for t in self.targets]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), self.targets[i]


OUT_OF_MEMORY = {
    "torch": lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)"),
    "cublas": lambda: RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)` "
                                   "(simulated)"),
}


def loop(out: Path, kill_at: int | None, micro: int = MICRO, oom_rank: int | None = None,
         oom_as: str = "torch") -> None:
    from timm.models.vision_transformer import VisionTransformer

    from measure.train.loop import polyak_average, train
    from measure.train.protocol import set_dropout
    from measure.train.recipe import FinetuneRecipe
    from measure.train.settings import Runtime
    from measure.train.stream import train_transform
    from measure.train.surgery import prepare_model, with_normalization

    world = World.from_env()
    device = torch.device("cpu")
    world.init(device)
    recipe = FinetuneRecipe(dataset="cifar10", steps=STEPS, lr_grid=(0.05,), held_out_fraction=0.2, warmup_steps=1,
                            batch_size=BATCH, resolution=32, dropout=0.1, mixup_alpha=0.2, polyak_decay=0.9,
                            shortened=True, paper_steps=10)
    torch.manual_seed(0)
    model = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=0)
    prepare_model(model, num_classes=3, resolution=32)
    torch.nn.init.normal_(model.head.weight, std=0.1)  # a zero head would leave the rest without gradient at step 0
    set_dropout(model, recipe.dropout)
    net = with_normalization(model, {"mean": (0.5,) * 3, "std": (0.5,) * 3}).to(device)
    ema = polyak_average(net, recipe.polyak_decay)
    marker = out / "killed"

    def kill(step: int) -> None:
        if step == kill_at and world.rank == 1 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)

    if oom_rank == world.rank:  # a simulated CUDA out-of-memory on this rank alone, at the first micro-batch > 2
        raised = []

        def out_of_memory(module, inputs):
            if inputs[0].shape[0] > 2 and not raised:
                raised.append(True)
                raise OUT_OF_MEMORY[oom_as]()

        net.register_forward_pre_hook(out_of_memory)  # after the Polyak copy: only the trained net fails
    runtime = Runtime(device=device, num_workers=0, micro_batch=micro, checkpoint_every=2, progress=False,
                      world=world, on_step=kill)
    stats = train(net, Colours(train_transform(recipe)), recipe, base_lr=0.05, seed=3, runtime=runtime,
                  state_path=out / "state.pt", run_key="distributed-test", ema=ema)
    torch.save({"micro_batch": stats.micro_batch, "oom_backoffs": stats.oom_backoffs}, out / f"rank{world.rank}.pt")
    if world.leader:
        torch.save({"loss": stats.loss, "grad_norm": stats.grad_norm, "model": net.state_dict(),
                    "ema": ema.module.state_dict(), "resumed_from": stats.resumed_from, "processes": stats.processes,
                    "micro_batch": stats.micro_batch, "oom_backoffs": stats.oom_backoffs}, out / "result.pt")
    world.close()


def fail(out: Path) -> int:
    """The launcher's error path: rank 1 raises after joining the group while rank 0 waits for it at a barrier."""
    from torch.distributed.elastic.multiprocessing.errors import record

    from measure.train.distributed import rank_errors

    @record
    def main() -> int:
        world = World.from_env()
        with rank_errors(world):
            world.init(torch.device("cpu"))
            if world.rank == 1:
                raise ValueError("planted failure: the checkpoint of rank 1 has no head")
            world.barrier()
        return 0

    return main()


def tier(world_dir: Path) -> None:
    from measure.data import datasets
    from measure.train import launch

    setup = pickle.loads((world_dir / "setup.pkl").read_bytes())
    datasets.DATASETS.update(setup["datasets"])  # the fake ImageNet's sizes: complete as far as the tier can tell
    world = World.from_env()
    device = torch.device("cpu")
    world.init(device)
    runner = launch.build_runner(setup["args"], world, device)
    runner.finetune_settings = dataclasses.replace(runner.finetune_settings, resolution=setup["resolution"])
    launch.run(runner, setup["spec"], "imagenet")
    world.close()


if __name__ == "__main__":
    torch.set_num_threads(1)  # the same float reduction order in every process and in the reference
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("loop", "tier", "fail"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--micro", type=int, default=MICRO)
    parser.add_argument("--oom-rank", type=int, default=None)
    parser.add_argument("--oom-as", choices=tuple(OUT_OF_MEMORY), default="torch")
    args = parser.parse_args()
    if args.mode == "loop":
        loop(args.folder, args.kill_at, args.micro, args.oom_rank, args.oom_as)
    elif args.mode == "fail":
        sys.exit(fail(args.folder))
    else:
        tier(args.folder)
