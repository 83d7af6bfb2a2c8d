"""What the from-scratch digits analogues (§4.3's small-data study, Table 8's position encodings) share.

A run that did not fit its training set lost for lack of steps, not for what the study varies (data, position
encoding): such runs are never judged. Every check of an analogue states this precondition, computed from the runs
it judges, and names the runs that fail it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from measure.studies.small_data.study import SmallDataStudy
from pytest_claims import Plan

# 10 classes, training sets of 50–1297 images: a converged run fits all of them.
MIN_TRAIN_ACCURACY = 0.99
CONVERGENCE_NEED = ("small-data runs that reach ≥ 99 % training accuracy: raise Recipe.steps_per_sqrt_image "
                    "in measure/studies/small_data/design.py")


def skip_if_underfitted(claim_check, study: SmallDataStudy, sizes: Iterable[int], plan: Plan,
                        varied: str = "lack of data", models: Iterable[str] | None = None) -> None:
    """Precondition: every run the check judges (``models``, default all of the study's, at ``sizes``) fitted its
    training set (final accuracy ≥ MIN_TRAIN_ACCURACY); ``varied``: what a loss should be down to, for the reason
    of a check that is not judged."""
    if low := [f"{r.spec.model} n={r.spec.size} seed {r.spec.seed}: {r.stats['train_accuracy']:.3f} after "
               f"{r.stats['steps']} steps" for r in study.underfitted(tuple(sizes), MIN_TRAIN_ACCURACY, models)]:
        claim_check.not_run(f"not judged: {len(low)} run(s) ended below {MIN_TRAIN_ACCURACY:.0%} training accuracy, "
                            f"so a loss could be under-training rather than {varied} — {'; '.join(low)}",
                            needs=[CONVERGENCE_NEED], plan=plan)


def seed_averaged(study: SmallDataStudy, model: str, size: int) -> np.ndarray:
    """Per test image, the fraction of the seeds that got it right: an image's seeds stay one paired unit."""
    return study.correctness(model, size).mean(axis=0)
