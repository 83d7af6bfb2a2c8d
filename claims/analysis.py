"""How claims about trained weights (§4.5, Figure 7, App. D.7) turn analysis-tier results into checks.

The analysis tier (`measure/tiers/analysis.py`) hands back per-unit scores — per patch for the position
embeddings, per image for attention distance — oriented so that higher is what the paper says. A check orders
them against a reference (0, or a distance every head would reach by attending to the nearer half of the image)
or another model's, with the plugin's paired bootstrap. Offline the tier is not run: the check records what it
would have checked and what to provide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from claims.decide import end_unless_measured
from measure.tiers.models import Model
from measure.tiers.results import TierResult
from pytest_claims import Plan

# Every public ImageNet-21k ViT, and the public hybrid (the paper's panels: ViT-L/32 and ViT-L/16).
MODELS = ("ViT-B/32", "ViT-B/16", "ViT-L/32", "ViT-L/16", "ViT-H/14", "R50+ViT-B/16")
WEIGHTS_TIER = "analysis (public ImageNet-21k checkpoint: weights only)"
IMAGES_TIER = "analysis (public ImageNet-21k checkpoint on the first 128 ImageNet val images, App. D.7)"


def plan(method: str, a_label: str, b_label: str, description: str) -> Plan:
    tier = WEIGHTS_TIER if method.startswith("posemb") else IMAGES_TIER
    return Plan(kind="ordering_scores", tier=tier, a_label=a_label, b_label=b_label, description=description)


def measured(claim_check: Any, evidence: Any, models: list[Model], method: str, planned: Plan) -> list[TierResult]:
    """The analysis results of `models`, or the test ends not run / untestable with `planned`."""
    dataset = "weights" if method.startswith("posemb") else "imagenet"
    return end_unless_measured(claim_check, evidence.measure("analysis", models, dataset, method), planned)


def details(*results: TierResult, figure: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a record keeps: each checkpoint and how it was read, the statistic, and the figure of the check."""
    keep = ("statistic", "grid", "dim", "pixels_per_patch", "layers", "heads", "references_px", "per_layer_mean_px",
            "examples", "pipeline")
    out: dict[str, Any] = {r.checkpoint: {"hub_id": r.metadata["checkpoint"].get("hub_id"),
                                          "revision": r.metadata["checkpoint"].get("revision"),
                                          **{k: r.metadata[k] for k in keep if k in r.metadata}} for r in results}
    if figure is not None:
        out["figure"] = figure
    return out


def attention_figure(results: list[TierResult], title: str, lines: dict[str, float] | None = None) -> dict[str, Any]:
    """Figure 7 (right) as the report draws it: mean attention distance (px) per head against layer."""
    return {"kind": "scatter", "title": title, "xlabel": "network depth (layer)",
            "ylabel": "mean attention distance (pixels)",
            "series": [dict(r.metadata["figure_series"]) for r in results],
            "hlines": [{"y": round(float(y), 2), "label": label} for label, y in (lines or {}).items()]}


def zeros_like(result: TierResult) -> np.ndarray:
    return np.zeros_like(np.asarray(result.scores, dtype=float))


def check_model(claim_check: Any, evidence: Any, model: str, method: str, a_text: str, b_text: str,
                description: str, *, reference: Callable[[TierResult], np.ndarray] | None = None,
                figure: Callable[[TierResult], dict[str, Any] | None] | None = None) -> None:
    """One model's per-unit scores of `method` ordered against `reference` (default 0) with the paired bootstrap:
    "<model>: a_text" better than "b_text"; not run (with the plan) where the tier cannot measure it."""
    subject = Model(model, "imagenet21k")
    planned = plan(method, f"{subject.label}: {a_text}", b_text, f"{subject.label}: {description}")
    (result,) = measured(claim_check, evidence, [subject], method, planned)
    b = reference(result) if reference is not None else zeros_like(result)
    claim_check.ordering_scores(result.scores, b, metric="mean", tier=result.label, a_label=planned.a_label,
                                b_label=planned.b_label,
                                details=details(result, figure=figure(result) if figure is not None else None))
