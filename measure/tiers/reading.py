"""How each side of a comparison is read — preprocessing and representation — and whether that is like for like.

An ordering says something about two models only if both were read the same way: the same preprocessing
pipeline (same operations; each fine-tune at the resolution its authors published it at) and, for frozen
features, the same kind of representation. `plan_reading` says, from the registry alone (no download, no
torch: offline records name it too), how a comparison *would* read its sides; `unlike` says, from the
results themselves, why a measured comparison is not like for like. Claims turn a non-empty `unlike` into
"cannot refute" (claims/decide.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FINETUNE_READ = "the recipe's evaluation preprocessing (vit_jax input_pipeline: resize to resolution x resolution, " \
                "no crop) for every model"


@dataclass(frozen=True)
class SideRead:
    """How one side is read."""

    checkpoint: str
    pipeline: str         # measure.data.pipelines name
    definition: str       # its operations; two sides with equal definitions see the same kind of pixels
    resolution: int
    representation: str = ""  # probe: the representation kind (measure.models.representations)


@dataclass(frozen=True)
class Reading:
    """How a comparison reads its sides, and why it is not like for like (empty: it is)."""

    tier: str
    sides: tuple[SideRead, ...]
    unlike: tuple[str, ...] = ()

    def describe(self) -> str:
        """One phrase for a plan: each side's pipeline (and, for probes, representation kind), or "on both sides"."""
        if self.tier == "finetune":
            return f"preprocessing: {FINETUNE_READ}"
        first, n = self.sides[0], len(self.sides)
        both = " on both sides" if n > 1 else ""
        if len({(s.pipeline, s.definition, s.resolution) for s in self.sides}) == 1:
            text = f"preprocessing: {first.pipeline} ({first.definition}) at {first.resolution} px{both}"
        elif len({s.definition for s in self.sides}) == 1:  # eval: the same operations, each at its own resolution
            text = (f"preprocessing: the same operations{both} ({first.definition}), each fine-tune at its published "
                    f"resolution: " + "; ".join(f"{s.checkpoint}: {s.pipeline} at {s.resolution} px" for s in self.sides))
        else:
            text = "preprocessing: " + "; ".join(f"{s.checkpoint}: {s.pipeline} ({s.definition}) at {s.resolution} px"
                                               for s in self.sides)
        if self.tier == "probe":
            keys = ", ".join(s.checkpoint for s in self.sides)
            if len({s.representation for s in self.sides}) == 1:
                text += f"; representation: {first.representation or 'unspecified'}{both} ({keys})"
            else:
                text += "; representation: " + "; ".join(f"{s.checkpoint}: {s.representation or 'unspecified'}"
                                                         for s in self.sides)
        return text


def plan_reading(tier: str, specs: Sequence[Any], pipeline: str = "") -> Reading:
    """How `tier` reads the registry rows `specs` (a probe: the pre-logits twins where public); `pipeline`
    overrides the eval tier's per-row choice."""
    from measure.data.pipelines import BIG_VISION_FEWSHOT, by_name

    if tier == "probe":
        from measure.models.representations import choose

        choice = choose(specs)
        sides = tuple(SideRead(s.key, BIG_VISION_FEWSHOT.name, _geometry(BIG_VISION_FEWSHOT, s.resolution),
                               s.resolution, kind) for s, kind in zip(specs, choice.kinds))
        unlike = _pipeline_unlike(sides) + ((choice.why_not,) if choice.why_not else ())
        return Reading(tier, sides, unlike)
    if tier == "eval":
        from measure.tiers.eval import reader_name

        readers = [by_name(reader_name(s, pipeline)) for s in specs]
        sides = tuple(SideRead(s.key, r.name, r.definition, s.resolution) for s, r in zip(specs, readers))
        return Reading(tier, sides, _pipeline_unlike(sides, by_definition=True))
    sides = tuple(SideRead(s.key, "finetune", FINETUNE_READ, 0) for s in specs)
    return Reading(tier, sides)


def _geometry(pipeline: Any, resolution: int) -> str:
    size, crop = pipeline.geometry(resolution)
    same = (size, crop) == (pipeline.resize, pipeline.crop)
    return pipeline.definition if same else f"{pipeline.definition}, scaled: {size}x{size}, central crop {crop}"


def _pipeline_unlike(sides: Sequence[SideRead], by_definition: bool = False) -> tuple[str, ...]:
    seen = {s.definition if by_definition else (s.pipeline, s.definition) for s in sides}
    if len(seen) <= 1:
        return ()
    listing = "; ".join(f"{s.checkpoint}: {s.pipeline} ({s.definition})" for s in sides)
    reason = (f"the two sides are not read through the same preprocessing ({listing}): different pixels, so the "
              f"ordering says nothing against the claim")
    return (reason,)


def unlike(*results: Any) -> tuple[str, ...]:
    """Why measured results are not like for like: different preprocessing operations or geometry (probe:
    different pipeline crops too), or probe features of different representation kinds."""
    reasons = []
    pipes = [dict(r.pipeline or {}) for r in results]
    if all(pipes):
        shapes = {(p.get("definition"), tuple(p.get("resize") or ()) if results[0].tier == "probe" else (),
                   p.get("crop")) for p in pipes}
        if len(shapes) > 1:
            listing = "; ".join(f"{r.checkpoint}: {p.get('name')} ({p.get('definition')}, resize {p.get('resize')}, "
                                f"crop {p.get('crop')})" for r, p in zip(results, pipes))
            reasons.append(f"the sides were not read through the same preprocessing ({listing}): different pixels, "
                           f"so the ordering says nothing against the claim")
    if results and results[0].tier == "probe":
        kinds = [(r.representation or {}).get("kind", "") for r in results]
        if len(set(kinds)) > 1 or not all(kinds):
            listing = "; ".join(f"{r.checkpoint}: {(r.representation or {}).get('label')} ({k or 'unspecified kind'})"
                                for r, k in zip(results, kinds))
            reasons.append(f"the sides were read at different kinds of representation ({listing}): features of "
                           f"different layers are not like for like, so the ordering says nothing against the claim")
    return tuple(reasons)
