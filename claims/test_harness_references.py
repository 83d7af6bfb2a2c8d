"""Harness check (not a claim of the paper): the suite reproduces independent measurements of the same weights.

The paper's numbers came from other code; timm's published ImageNet / ReaL top-1 of the *same* released
checkpoints (paper/references.csv, timm's results CSVs at a pinned commit) were measured with timm's own
preprocessing, so reading each checkpoint through that preprocessing must give the same number up to
implementation noise (tolerance ``harness_top1``). And the same weights loaded through timm and through
transformers must agree image by image (``harness_agreement``). Generic: every reference row that names a
registry checkpoint is a check, every transformers twin of a fine-tune another; adding a reference adds a
check. Offline they are not run, each saying what to provide.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

import paper
from claims.decide import end_unless_measured
from measure.models.registry import by_key, registry
from pytest_claims import Measurement, Plan

pytestmark = pytest.mark.claim("harness-references")

PUBLISHED = sorted((r for r in paper.references(source="timm results") if r.checkpoint),
                   key=lambda r: (r.checkpoint, r.dataset))
TWINS = sorted(s.key for s in registry().values() if s.library == "transformers" and s.finetuned_on and s.released)


class Expected(NamedTuple):
    """What a harness check is judged against (duck-types the plugin's paper value): its value, where it is
    published, and which cell of that publication."""

    value: float
    std: float | None
    unit: str
    table: str
    row: str
    column: str


def published(ref: paper.Reference) -> Expected:
    return Expected(ref.value, None, ref.unit, f"{ref.source} ({ref.repository} {ref.file} @{ref.commit[:10]})",
                    ref.note.removeprefix("row "), "ReaL top-1" if ref.dataset == "imagenet_real" else "top-1")


@pytest.mark.parametrize("ref", PUBLISHED, ids=[f"{r.checkpoint}-{r.dataset}" for r in PUBLISHED])
def test_timm_published_top1_is_reproduced(claim_check, evidence, ref):
    """The checkpoint, read through timm's own preprocessing of its tag, scores what timm published for it:
    a point value (the same images, so no sampling interval) within ``harness_top1``."""
    spec = by_key(ref.checkpoint)
    reading = evidence.reading_rows("eval", [spec], pipeline="timm")
    plan = Plan(kind="value", tier="eval (timm preprocessing)", tolerance="harness_top1",
                description=f"{spec.key} top-1 on {ref.dataset} against timm's published {ref.value:g} % "
                            f"({ref.setting}); {reading.describe()}")
    (result,) = end_unless_measured(claim_check, evidence.measure_rows("eval", [spec], ref.dataset, pipeline="timm"),
                                    plan, published(ref))
    measured = Measurement(value=result.percent, n=result.n, method=f"eval tier, timm preprocessing: {spec.key} on "
                           f"{ref.dataset} ({result.n} images), top-1 % (the published number is on the same images)",
                           extra=dict(result.metadata))
    claim_check.value(measured=measured, paper=published(ref), tolerance="harness_top1", tier="eval (timm preprocessing)",
                      details={"checkpoint": result.metadata["checkpoint"], "pipeline": result.metadata["pipeline"],
                               "published": ref.to_record()}, plan=plan)


@pytest.mark.parametrize("key", TWINS)
def test_timm_and_transformers_agree_on_every_image(claim_check, evidence, key):
    """The same fine-tune through transformers (``key``) and through timm (its twin) on the same input
    tensors (the row's official pipeline): the share of ImageNet images whose top-1 correctness differs."""
    twin = by_key(key)
    primary = by_key(twin.twin_of)
    agree = Expected(0.0, None, "%", "harness: the same weights through two libraries", f"{primary.key} vs {key}",
                     "images whose top-1 correctness differs")
    reading = evidence.reading_rows("eval", [primary, twin])
    plan = Plan(kind="value", tier="eval", tolerance="harness_agreement",
                description=f"{primary.key} (timm) and {key} (transformers) agree image by image on imagenet; "
                            f"{reading.describe()}")
    timm_side, hf_side = end_unless_measured(claim_check, evidence.measure_rows("eval", [primary, twin], "imagenet"),
                                             plan, agree)
    differ = np.asarray(timm_side.correct) != np.asarray(hf_side.correct)
    measured = Measurement(value=100.0 * float(differ.mean()), n=int(differ.size),
                           method=f"% of the {differ.size} ImageNet val images whose top-1 correctness differs between "
                                  f"{primary.key} (timm) and {key} (transformers)",
                           extra={"timm_top1": timm_side.percent, "transformers_top1": hf_side.percent,
                                  "differ": int(differ.sum())})
    claim_check.value(measured=measured, paper=agree, tolerance="harness_agreement", tier="eval",
                      details=evidence.details(timm_side, hf_side), plan=plan)
