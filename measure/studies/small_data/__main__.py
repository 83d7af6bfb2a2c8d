"""``python -m measure.studies.small_data``: the convergence check ("does training twice as long change anything?").

Trains the study (or reads it from the cache) at ``--step-scale`` times the steps and prints, per training
size and model, the test accuracies and how well training fitted. Not part of the suite's verdicts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from measure.studies.small_data.design import CACHE_FOLDER, STUDY
from measure.studies.small_data.study import SmallDataStudy


def summary(study: SmallDataStudy) -> list[dict]:
    rows = []
    for size in study.design.sizes:
        row: dict = {"size": size}
        for model in study.design.models:
            runs = study.runs(model, size)
            acc = [r.test_accuracy for r in runs]
            row[model] = {"test_acc_mean": round(float(np.mean(acc)), 4), "test_acc_seeds": [round(a, 4) for a in acc],
                          "train_acc_min": min(r.stats["train_accuracy"] for r in runs),
                          "train_loss_max": round(max(r.stats["train_loss"] for r in runs), 5),
                          "steps": runs[0].stats["steps"]}
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m measure.studies.small_data",
                                     description="Train the small-data study and print accuracies per size/model.")
    parser.add_argument("--cache", default=".claims-cache", help="the suite's --claims-cache folder")
    parser.add_argument("--step-scale", type=float, default=1.0, help="multiply every run's steps (2 = twice as long)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    design = replace(STUDY, recipe=replace(STUDY.recipe, step_scale=args.step_scale))
    study = SmallDataStudy(design, Path(args.cache).expanduser() / CACHE_FOLDER, args.workers)
    json.dump(summary(study), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
