"""How each side of a comparison is read — preprocessing and representation — and whether that is like for like.

An ordering says something about two models only if both were read the same way: the same preprocessing
pipeline (same operations; each published fine-tune at the resolution its authors published it at; after the
finetune tier, each side evaluated at the same resolution with the same resize) and, for frozen features, the
same kind of representation. each tier's `plan` (`measure.tiers.protocol`; `probe_reading`, `eval_reading`, `finetune_reading` here) says,
from the registry and the recipes alone (no download, no
torch: offline records name it too), how a comparison *would* read its sides; `unlike` says, from the results
themselves, why a measured comparison is not like for like. Claims turn a non-empty `unlike` into "cannot
refute" *and* "cannot verify" (claims/decide.py): a difference may come from the reading, in either direction.

The finetune tier keeps, for a ResNet, the better on the held-out split of the paper's recipe (384 px) and
BiT-HyperRule (480 px on Pets and Flowers, 128 px on CIFAR; App. B.1.1); which one is known only after the
sweep, so its plan names both, and its result names the one kept (`FinetuneRecipe.evaluation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NEITHER = "so the ordering can neither verify nor refute the claim"


@dataclass(frozen=True)
class SideRead:
    """How one side is read."""

    checkpoint: str
    pipeline: str         # measure.data.pipelines name
    definition: str       # its operations; two sides with equal definitions see the same kind of pixels
    resolution: int
    representation: str = ""  # probe: the representation kind (measure.models.representations)
    recipes: tuple[str, ...] = ()       # finetune: each recipe the side may keep, and how it evaluates
    resolutions: tuple[int, ...] = ()   # finetune: the evaluation resolution of each of `recipes`


@dataclass(frozen=True)
class Reading:
    """How a comparison reads its sides, and why it is not like for like (empty: it is)."""

    tier: str
    sides: tuple[SideRead, ...]
    unlike: tuple[str, ...] = ()

    def describe(self) -> str:
        """One phrase for a plan: each side's pipeline (and, for probes, representation kind), or "on both sides"."""
        if self.tier == "finetune":
            return self._describe_finetune()
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

    def _describe_finetune(self) -> str:
        """Each side's evaluation after fine-tuning: the recipe(s) it may keep, at which resolution, with which resize."""
        parts = []
        for side in self.sides:
            if len(side.recipes) > 1:
                parts.append(f"{side.checkpoint}: the better on the held-out split of " + " and of ".join(side.recipes))
            else:
                parts.append(f"{side.checkpoint}: {side.recipes[0] if side.recipes else side.definition}")
        text = f"evaluation after fine-tuning: {'; '.join(parts)}; each: {self.sides[0].definition}"
        possible = {r for side in self.sides for r in (side.resolutions or (side.resolution,))}
        if len(self.sides) > 1 and len(possible) > 1 and not self.unlike:
            text += (f"; if the recipes kept evaluate at different resolutions ({' vs '.join(map(str, sorted(possible)))} "
                     f"px), the sides are not read alike and the check can neither verify nor refute")
        return text


def probe_reading(specs: Sequence[Any]) -> Reading:
    """Every side through big_vision's few-shot pipeline at its resolution, at the representation kind the sides
    share (`measure.models.representations.choose`); unlike where no kind is common."""
    from measure.data.pipelines import BIG_VISION_FEWSHOT
    from measure.models.representations import choose

    choice = choose(specs)
    sides = tuple(SideRead(s.key, BIG_VISION_FEWSHOT.name, _geometry(BIG_VISION_FEWSHOT, s.resolution),
                           s.resolution, kind) for s, kind in zip(specs, choice.kinds))
    unlike = _pipeline_unlike(sides)
    if not choice.common:
        offered = "; ".join(f"{s.key} gives {', '.join(getattr(s, 'representations', ()) or ()) or 'no registered kind'}"
                            for s in specs)
        unlike += ((f"the two sides cannot be read at the same kind of representation ({offered}): features of "
                    f"different layers are not like for like, {NEITHER}"),)
    return Reading("probe", sides, unlike)


def eval_reading(specs: Sequence[Any], readers: Sequence[Any]) -> Reading:
    """Each published fine-tune through `readers` (`measure.data.pipelines.Pipeline`, one per side) at its own
    resolution; unlike where the operations differ."""
    sides = tuple(SideRead(s.key, r.name, r.definition, s.resolution) for s, r in zip(specs, readers))
    return Reading("eval", sides, _pipeline_unlike(sides, by_definition=True))


def finetune_reading(specs: Sequence[Any], dataset: str, settings: Any) -> Reading:
    """Every recipe each side may keep on `dataset` (ResNets: the paper's and BiT-HyperRule) and how each
    evaluates; unlike only where every side has one recipe and their evaluations differ."""
    from measure.data import resize
    from measure.data.datasets import DATASETS
    from measure.train.recipe import FINETUNED_ON
    from measure.train.settings import FinetuneSettings

    settings = settings or FinetuneSettings()
    if not dataset:  # no dataset named: the paper's recipe, as every side reads it
        sides = tuple(SideRead(s.key, "finetune", resize.DEFINITION, 0) for s in specs)
        return Reading("finetune", sides)
    source = FINETUNED_ON.get(dataset, dataset)
    train_size = DATASETS[source].sizes.get("train", 0) if source in DATASETS else 0
    sides = []
    for spec in specs:
        recipes = settings.recipes(dataset, spec.paper_model, train_size, spec.pretraining)
        first = recipes[0]
        sides.append(SideRead(spec.key, f"{first.name} evaluation", first.eval_preprocessing, first.resolution,
                              recipes=tuple(r.describe_evaluation() for r in recipes),
                              resolutions=tuple(r.resolution for r in recipes)))
    unlike: tuple[str, ...] = ()
    if all(len(s.recipes) == 1 for s in sides) and len({(s.definition, s.resolution) for s in sides}) > 1:
        listing = "; ".join(f"{s.checkpoint}: {s.recipes[0]}" for s in sides)
        unlike = ((f"the sides are not evaluated alike after fine-tuning ({listing}): a difference may come from the "
                   f"reading, not the models, {NEITHER}"),)
    return Reading("finetune", tuple(sides), unlike)


def _geometry(pipeline: Any, resolution: int) -> str:
    size, crop = pipeline.geometry(resolution)
    same = (size, crop) == (pipeline.resize, pipeline.crop)
    return pipeline.definition if same else f"{pipeline.definition}, scaled: {size}x{size}, central crop {crop}"


def _pipeline_unlike(sides: Sequence[SideRead], by_definition: bool = False) -> tuple[str, ...]:
    seen = {s.definition if by_definition else (s.pipeline, s.definition) for s in sides}
    if len(seen) <= 1:
        return ()
    listing = "; ".join(f"{s.checkpoint}: {s.pipeline} ({s.definition})" for s in sides)
    reason = (f"the two sides are not read through the same preprocessing ({listing}): different pixels, {NEITHER}")
    return (reason,)


def unlike(*results: Any) -> tuple[str, ...]:
    """Why measured results are not like for like: different preprocessing operations, geometry, resize kernel
    or antialiasing (probe and finetune: a different resize size too — after fine-tuning, e.g. BiT-HyperRule
    kept and evaluated at 480 px against a ViT's 384 px; the eval tier reads each published fine-tune at its own
    resolution by design), or probe features of different representation kinds."""
    reasons = []
    pipes = [dict(r.pipeline or {}) for r in results]
    tier = results[0].tier if results else ""
    if all(pipes):
        shapes = {(p.get("definition"), tuple(p.get("resize") or ()) if tier in ("probe", "finetune") else (),
                   p.get("crop"), p.get("interpolation"), p.get("antialias")) for p in pipes}
        if len(shapes) > 1:
            listing = "; ".join(f"{r.checkpoint}: {p.get('name')} ({p.get('definition')}, resize {p.get('resize')}"
                                + (f" {p.get('interpolation')}, antialias {p.get('antialias')}" if tier == "finetune"
                                   else "") + f", crop {p.get('crop')})" for r, p in zip(results, pipes))
            reasons.append(f"the sides were not read through the same preprocessing ({listing}): different pixels, "
                           f"{NEITHER}")
    if results and results[0].tier == "probe":
        kinds = [(r.representation or {}).get("kind", "") for r in results]
        if len(set(kinds)) > 1 or not all(kinds):
            listing = "; ".join(f"{r.checkpoint}: {(r.representation or {}).get('label')} ({k or 'unspecified kind'})"
                                for r, k in zip(results, kinds))
            reasons.append(f"the sides were read at different kinds of representation ({listing}): features of "
                           f"different layers are not like for like, {NEITHER}")
    return tuple(reasons)
