"""One fine-tune across GPUs and machines: ``torchrun ... -m measure.train.launch KEY DATASET [options]``.

The suite fine-tunes inside pytest, one process per model × dataset (one GPU each under ``-n``). A run too big for
one GPU — ImageNet: 20k steps × 512 images at 384-512 px — is launched with torchrun instead; this command runs
the *same* protocol through the same `TierRunner` the suite builds (same checkpoint loader, dataset folders,
recipe and cache keys), with each fine-tune spread over every process by DistributedDataParallel, and leaves
its predictions in the cache. The suite, run afterwards with the same ``--claims-cache`` (and the same
``--claims-seeds`` / ``--claims-finetune-*``), reads them like any other cached run and trains nothing.

One node, 8 GPUs::

    torchrun --nproc-per-node 8 -m measure.train.launch vit_l16-i21k imagenet \\
        --claims-imagenet /data/imagenet --claims-cache /shared/claims-cache

Several nodes (the same line on each; the cache folder on a file system every node sees)::

    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 --rdzv-id vit \\
        --max-restarts 3 -m measure.train.launch vit_l16-i21k imagenet --claims-imagenet ... --claims-cache ...

A lost process or node: torchrun (``--max-restarts``) restarts the group, which resumes from the last saved
training state (every 500 steps); finished runs of the lr sweep are read from the cache. ``--list`` prints the
ImageNet fine-tunes the suite's claims need, with their GPU-hours. Exit status: 0 done, 1 something missing
(the message says what to provide), 2 bad arguments. A rank that fails prints its error itself, every line prefixed
``[rank R of W]``, and torchrun's summary names it as the root cause.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure.errors import Missing

DEFAULT_CACHE = os.environ.get("CLAIMS_CACHE", ".claims-cache")


def imagenet_runs() -> list[tuple[Any, Any]]:
    """(registry row, `ImagenetFinetune`) of every ImageNet fine-tune the claims need the suite to run itself:
    Table 2's ImageNet-21k pairs, and the ImageNet-21k ViTs whose 384-px ImageNet fine-tune was never released
    (Table 5) — the same rule as the claim modules'."""
    from measure.models.registry import find, registry
    from measure.tiers.finetune import imagenet_finetune
    from measure.train.recipe import TABLE2_IMAGENET_FINETUNES

    pairs = set(TABLE2_IMAGENET_FINETUNES)
    for row in registry().values():
        if row.finetuned_on == "imagenet" and row.pretraining == "imagenet21k" and not row.released:
            pairs.add((row.paper_model, row.pretraining))
    runs = []
    for model, pretraining in sorted(pairs):
        spec = find(model, pretraining)
        if spec.released:
            runs.append((spec, imagenet_finetune(model, pretraining)))
    return runs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m measure.train.launch", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("key", nargs="?", help="registry key of the pre-trained checkpoint (measure/models/checkpoints.csv)")
    parser.add_argument("dataset", nargs="?", help="imagenet, imagenet_real, cifar10, cifar100, pets, flowers102")
    parser.add_argument("--list", action="store_true", help="print the ImageNet fine-tunes the claims need; run nothing")
    parser.add_argument("--claims-data", default=os.environ.get("CLAIMS_DATA", "~/data"))
    parser.add_argument("--claims-imagenet", default=os.environ.get("CLAIMS_IMAGENET"),
                        help="folder holding train/ and val/ (class sub-folders)")
    parser.add_argument("--claims-real-labels", default=os.environ.get("CLAIMS_REAL_LABELS"))
    parser.add_argument("--claims-download", action="store_true")
    parser.add_argument("--claims-cache", default=DEFAULT_CACHE,
                        help="the suite's cache folder (shared by every node); the suite reads the runs from here")
    parser.add_argument("--claims-checkpoint", action="append", default=[], metavar="KEY=FILE")
    parser.add_argument("--claims-seeds", default="0,1,2")  # the suite's default (fixtures/options.py)
    parser.add_argument("--claims-finetune-steps", type=int, default=None)
    parser.add_argument("--claims-finetune-batch", type=int, default=None)
    return parser


def _overrides(values: Sequence[str]) -> dict[str, Path]:
    from measure.models.registry import by_key

    overrides = {}
    for text in values:
        key, sep, file = text.partition("=")
        if not (sep and key.strip() and file.strip()):
            raise ValueError(f"--claims-checkpoint {text!r}: expected KEY=FILE")
        by_key(key.strip())
        overrides[key.strip()] = Path(file.strip()).expanduser()
    return overrides


def build_runner(args: argparse.Namespace, world: Any, device: Any) -> Any:
    """The `TierRunner` the suite would build from the same options, fine-tuning over `world`."""
    from measure.data.opening import DatasetOpener
    from measure.data.paths import DataPaths
    from measure.models.hub import HubAccess
    from measure.models.loaders import CheckpointLoader
    from measure.run.cache import ChunkCache
    from measure.tiers.runner import TierRunner
    from measure.train.settings import FinetuneSettings, Runtime

    loader = CheckpointLoader(HubAccess(), _overrides(args.claims_checkpoint))
    paths = DataPaths(Path(args.claims_data).expanduser(),
                      Path(args.claims_imagenet).expanduser() if args.claims_imagenet else None,
                      args.claims_download,
                      Path(args.claims_real_labels).expanduser() if args.claims_real_labels else None)
    seeds = tuple(int(s) for s in args.claims_seeds.split(",") if s.strip())
    settings = FinetuneSettings(seeds=seeds, steps=args.claims_finetune_steps, batch=args.claims_finetune_batch,
                                runtime=Runtime(device=device, world=world, progress=world.leader))
    return TierRunner(tiers=("finetune",), load=lambda spec, n: loader(spec, num_classes=n),
                      open_dataset=DatasetOpener(paths), cache=ChunkCache(Path(args.claims_cache)), device=device,
                      finetune=settings)


def run(runner: Any, spec: Any, dataset: str) -> Any:
    """The suite's finetune measurement of `spec` on `dataset`, over however many processes `runner` was given."""
    return runner.finetune(spec, dataset)


def _list() -> None:
    print("ImageNet fine-tunes the claims need the suite to run itself (one seed; estimates from FLOPs):")
    for spec, plan in imagenet_runs():
        print(f"  {spec.key} imagenet   {plan.setting}\n      {plan.cost.describe()}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        _list()
        return 0
    if not (args.key and args.dataset):
        _parser().error("name a checkpoint KEY and a DATASET (or pass --list)")
    from measure.models.registry import by_key
    from measure.train.distributed import World

    world = World.from_env()
    logging.basicConfig(level=logging.INFO if world.leader else logging.WARNING,
                        format=f"[rank {world.rank}] %(levelname)s %(name)s: %(message)s")
    try:
        spec = by_key(args.key)
        _overrides(args.claims_checkpoint)
    except (LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from measure.train.distributed import rank_errors

    with rank_errors(world):
        device = world.device()
        world.init(device)
        try:
            result = run(build_runner(args, world, device), spec, args.dataset)
        except Missing as missing:
            print(f"{world.prefix} not run: {missing}" if world.distributed else f"not run: {missing}",
                  file=sys.stderr)
            return 1
        finally:
            world.close()
    if world.leader:
        meta = result.metadata
        print(f"{spec.key} on {args.dataset}: {result.label}\n  best lr {meta['lr_selection']['best_lr']:g}, "
              f"test top-1 per seed {[round(100 * a, 2) for a in meta['seeds']['accuracies']]} %, over "
              f"{world.size} process(es); cached under {args.claims_cache}. Now run the suite with the same "
              f"--claims-cache and --claims-seeds to read it.")
    return 0


def recorded_main(argv: Sequence[str] | None = None) -> int:
    """`main` under torchrun's error recording: a rank's exception is written where torchrun's summary reads it, so
    the summary's "Root Cause" names the rank that failed (with its message), not rank 0's lost connection."""
    from torch.distributed.elastic.multiprocessing.errors import record

    return record(main)(argv)


if __name__ == "__main__":
    sys.exit(recorded_main())
