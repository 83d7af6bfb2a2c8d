"""Time of one training step of the small-data study's models, as the study trains them and as plain torch would.

The small-data study (``measure.studies.small_data``) is most of the main job's CPU time, so its step time is its
cost. Per model: milliseconds per AdamW step (batch 64, one torch thread, deterministic kernels, as in
``training.train_run``) in two set-ups —

* ``study`` — ``training.model_and_optimizer``: channels-last layout, torch's fused AdamW;
* ``plain`` — the model in its default layout and torch's default (for-loop) AdamW.

Median of ``--repeats`` timings of ``--steps`` steps each, after a warm-up. Not a timed test: one JSON line per
model to stdout (and to ``--out``).

    .venv/bin/python benchmarks/bench_small_data_step.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _step_ms(model, optimizer, x, y, steps: int, repeats: int) -> float:
    import torch.nn.functional as F

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(10):
        step()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        timings.append((time.perf_counter() - started) / steps * 1e3)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet,vit", help="comma-separated study models (default: resnet,vit)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    import torch

    from measure.models import tiny as tiny_models
    from measure.studies.small_data.design import STUDY
    from measure.studies.small_data.training import images, model_and_optimizer

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    recipe = STUDY.recipe
    generator = torch.Generator().manual_seed(0)
    batch = torch.rand(recipe.batch_size, tiny_models.IN_CHANS, tiny_models.IMAGE_SIZE, tiny_models.IMAGE_SIZE,
                       generator=generator)
    y = torch.randint(0, tiny_models.NUM_CLASSES, (recipe.batch_size,), generator=generator)
    lines = []
    for name in args.models.split(","):
        torch.manual_seed(0)
        model, optimizer = model_and_optimizer(name, recipe)
        study = _step_ms(model, optimizer, images(batch.numpy()), y, args.steps, args.repeats)
        torch.manual_seed(0)
        model = tiny_models.build(name)
        plain = _step_ms(model, torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay),
                         batch, y, args.steps, args.repeats)
        line = {"benchmark": "small_data_step", "model": name, "batch": recipe.batch_size,
                "study_ms_per_step": round(study, 2), "plain_ms_per_step": round(plain, 2),
                "speed_up": round(plain / study, 3), "torch": torch.__version__}
        lines.append(line)
        print(json.dumps(line), flush=True)
    if args.out:
        args.out.write_text("".join(json.dumps(line) + "\n" for line in lines))


if __name__ == "__main__":
    main()
