"""How claims about trained weights (§4.5, Figure 7, App. D.7) turn analysis-tier results into checks.

The analysis tier (`measure/tiers/analysis.py`) hands back per-unit scores — per patch for the position
embeddings, per image for attention distance. A check orders them against a reference (0, or the distance of a
head spread evenly over a stated share of the image) or another model's, with the plugin's paired bootstrap.
Offline the tier is not run: the check records what it would have checked and what to provide.

The paper shows one model per panel: Figure 7 (center) the position embeddings of ViT-L/32; Figure 7 (right) and
Figure 11 the attention distances of ViT-L/16 (16 heads, 224-pixel images), and Figure 11 those of R50+ViT-L/16,
a hybrid never released. Those models decide; the same check on another public model is run too, but a failure
there would be about a model the paper never showed (App. D.4: the position-embedding pattern "depends on the
training hyperparameters"), so it carries `cannot_refute` (`not_shown`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from claims.decide import end_unless_measured
from measure.tiers.paper_models import Model
from measure.tiers.results import TierResult
from pytest_claims import Plan

# Every public ImageNet-21k ViT, and the public hybrid (the paper's panels: ViT-L/32 and ViT-L/16).
MODELS = ("ViT-B/32", "ViT-B/16", "ViT-L/32", "ViT-L/16", "ViT-H/14", "R50+ViT-B/16")
# The models each panel shows (panel titles of the figures; the captions: "16 heads", "Image width is 224 pixels"),
# and why another model's failure says nothing about the panel.
SHOWN = {
    "posemb": (("ViT-L/32",), ("Figure 7 (center) shows the position embeddings of ViT-L/32 only, and App. D.4 says "
                               "the pattern \"depends on the training hyperparameters\" (Figure 10)")),
    "attention": (("ViT-L/16",), ("Figure 7 (right) and Figure 11 show the attention distances of ViT-L/16 only (and, "
                                  "in Figure 11, of R50+ViT-L/16, never released)")),
    "filters": (("ViT-L/32",), "Figure 7 (left) shows the embedding filters of ViT-L/32 only"),
    "rollout": (("ViT-L/16",), "App. D.8 computes the attention maps of Figures 6 and 14 with ViT-L/16 only"),
}
# The analysis methods of Figure 7 (left) and Figure 6, with the panel that decides them; every other method is the
# position-embedding panel ("posemb…") or the attention-distance one.
PANELS = {"embedding_filters": "filters", "attention_rollout": "rollout"}
WEIGHTS_METHODS = ("embedding_filters",)  # besides "posemb…": read off the weights, no images
WEIGHTS_TIER = "analysis (public ImageNet-21k checkpoint: weights only)"
IMAGES_TIER = "analysis (public ImageNet-21k checkpoint on the first 128 ImageNet val images, App. D.7)"
ROLLOUT_TIER = ("analysis (public ImageNet-21k checkpoint on the first 128 ImageNet val images and their ILSVRC-2012 "
                "bounding boxes, App. D.8)")


def panel_of(method: str) -> str:
    return PANELS.get(method, "posemb" if method.startswith("posemb") else "attention")


def reads_weights(method: str) -> bool:
    return method.startswith("posemb") or method in WEIGHTS_METHODS


def not_shown(model: str, panel: str) -> str | None:
    """Why a check on `model` cannot refute the paper's `panel` (a key of `SHOWN`); None for its own model."""
    models, where = SHOWN[panel]
    if model in models:
        return None
    return f"the paper does not show {model}: {where}; a failure on another model cannot refute the figure"


def plan(method: str, a_label: str, b_label: str, description: str) -> Plan:
    tier = WEIGHTS_TIER if reads_weights(method) else ROLLOUT_TIER if method == "attention_rollout" else IMAGES_TIER
    return Plan(kind="ordering_scores", tier=tier, a_label=a_label, b_label=b_label, description=description)


def measured(claim_check: Any, evidence: Any, models: list[Model], method: str, planned: Plan) -> list[TierResult]:
    """The analysis results of `models`, or the test ends not run / untestable with `planned`."""
    dataset = "weights" if reads_weights(method) else "imagenet"
    return end_unless_measured(claim_check, evidence.measure("analysis", models, dataset, method), planned)


def details(*results: TierResult, figure: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a record keeps: each checkpoint and how it was read, the statistic, and the figure of the check."""
    keep = ("statistic", "grid", "dim", "pixels_per_patch", "layers", "heads", "references_px", "per_layer_mean_px",
            "class_token", "examples", "pipeline", "mean_mass", "mean_area_share", "boxes", "reference_label",
            "explained_variance", "white_noise_share", "filters", "components")
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
                reference_first: bool = False,
                figure: Callable[[TierResult], dict[str, Any] | None] | None = None) -> None:
    """One model's per-unit scores of `method` ordered against `reference` (default 0) with the paired bootstrap:
    "<model>: a_text" better than "b_text" (`reference_first`: "a_text" is the reference, better than
    "<model>: b_text" — a statistic the paper says is small); not run (with the plan) where the tier cannot measure
    it. A model its panel does not show cannot refute (`not_shown`), and its plan says so."""
    subject = Model(model, "imagenet21k")
    panel = panel_of(method)
    limit = not_shown(model, panel)
    labels = (a_text, f"{subject.label}: {b_text}") if reference_first else (f"{subject.label}: {a_text}", b_text)
    planned = plan(method, *labels, f"{subject.label}: {description}; "
                                    f"{limit or 'the model the paper shows: ' + SHOWN[panel][1]}")
    (result,) = measured(claim_check, evidence, [subject], method, planned)
    b = reference(result) if reference is not None else zeros_like(result)
    a, b = (b, result.scores) if reference_first else (result.scores, b)
    claim_check.ordering_scores(a, b, metric="mean", tier=result.label, a_label=planned.a_label,
                                b_label=planned.b_label, cannot_refute=limit, plan=planned,
                                details=details(result, figure=figure(result) if figure is not None else None))
