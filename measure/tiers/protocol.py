"""What a tier is: one declared object the harness drives (lm-evaluation-harness's `Task`; /work/shared/STYLE.md §7).

A tier is a kind of evidence (eval, probe, finetune, analysis). Everything the suite asks about one is a method
of its object, so nothing outside its module asks "which tier is this?" (tests/test_tier_protocol.py fails on a
tier-name comparison outside `measure/tiers/`):

* `scope` — its name, the datasets it measures and its methods (`measure.tiers.scopes`, data without torch);
* `pre_logits` — which registry row stands for a paper model (the probe reads the pre-logits twin);
* `plan(specs, pipeline=, dataset=, settings=)` — how it would read each side (`measure.tiers.reading.Reading`),
  offline; planned once per check and handed to `Evidence.measure`, which returns it with the results;
* `parameters(side, method=, pipeline=)` — the keyword parameters of `measure` for one planned side;
* `memo_key(spec, dataset, **parameters)` / `measure(runner, spec, dataset, **parameters)` — one measurement,
  once per session (`measure.tiers.runner.TierRunner`), a `TierResult` or a raised `Unavailable`;
* `describe(results)` — the evidence tier a record shows for a check on `results`;
* `needs(rows)` — the released registry rows it reads (bin/claims-fetch --tier lists them);
* `words(method)` — the tier as a plan names it; `pairing(method)` — how an ordering pairs its sides;
  `repeats` — what an ordering is judged over besides the examples ("draws", "seeds" or "").

`TierBase` gives the defaults; a new tier (say VTAB-1k) is one module with one class and a scope, listed in
`TIER_CLASSES` below, plus its claim file (docs/CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, ClassVar, Protocol, runtime_checkable

from measure.tiers.scopes import TierScope

# Where each standard tier's class lives ("module:Class"); imported on first use, so collection stays light.
TIER_CLASSES: dict[str, str] = {
    "eval": "measure.tiers.eval:EvalTier",
    "probe": "measure.tiers.probe:ProbeTier",
    "finetune": "measure.tiers.finetune:FinetuneTier",
    "analysis": "measure.tiers.analysis:AnalysisTier",
    "vtab": "measure.tiers.vtab:VtabTier",
}


@runtime_checkable
class Tier(Protocol):
    """The interface every tier object offers (see the module docstring)."""

    scope: TierScope
    pre_logits: bool
    repeats: str

    def plan(self, specs: Sequence[Any], *, pipeline: str = "", dataset: str = "", settings: Any = None) -> Any: ...

    def parameters(self, side: Any, *, method: str | None = None, pipeline: str = "") -> dict[str, Any]: ...

    def memo_key(self, spec: Any, dataset: str, **parameters: Any) -> tuple: ...

    def measure(self, runner: Any, spec: Any, dataset: str, **parameters: Any) -> Any: ...

    def describe(self, results: Sequence[Any]) -> str: ...

    def needs(self, rows: Sequence[Any]) -> list[Any]: ...

    def words(self, method: str | None = None) -> str: ...

    def pairing(self, method: str | None = None) -> str: ...


class TierBase:
    """Defaults for a tier: reads each row as registered, no parameters, one reading per side, labels as results do."""

    scope: ClassVar[TierScope]
    pre_logits: ClassVar[bool] = False
    repeats: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return self.scope.name

    def plan(self, specs: Sequence[Any], *, pipeline: str = "", dataset: str = "", settings: Any = None) -> Any:
        from measure.tiers.reading import Reading, SideRead

        return Reading(self.name, tuple(SideRead(s.key, self.name, "", 0) for s in specs))

    def parameters(self, side: Any, *, method: str | None = None, pipeline: str = "") -> dict[str, Any]:
        return {}

    def memo_key(self, spec: Any, dataset: str, **parameters: Any) -> tuple:
        return (spec.key, dataset, *(f"{k}={v}" for k, v in sorted(parameters.items())))

    def describe(self, results: Sequence[Any]) -> str:
        return results[0].label

    def needs(self, rows: Sequence[Any]) -> list[Any]:
        return [spec for spec in rows if not spec.finetuned_on]

    def words(self, method: str | None = None) -> str:
        return self.name

    def pairing(self, method: str | None = None) -> str:
        return "per-example correctness paired"

    def how(self, method: str | None = None) -> str:
        """What an ordering's description adds after the dataset (the probe: its method)."""
        return ""


def _build(path: str) -> Tier:
    from importlib import import_module

    module, _, name = path.partition(":")
    return getattr(import_module(module), name)()


@cache
def _standard(name: str) -> Tier:
    return _build(TIER_CLASSES[name])


def tier(name: str, available: Mapping[str, Tier] | None = None) -> Tier:
    """The tier object called `name` (from `available` where given: a runner's own set, else the standard ones)."""
    if available is not None and name in available:
        return available[name]
    if name not in TIER_CLASSES:
        raise ValueError(f"unknown tier {name!r}; known: {sorted(TIER_CLASSES)}")
    return _standard(name)


def plan_reading(name: str, specs: Sequence[Any], pipeline: str = "", dataset: str = "", settings: Any = None) -> Any:
    """How tier `name` reads the registry rows `specs` (its `plan`): `pipeline` overrides the eval tier's per-row
    choice; the finetune tier reads `dataset` with `settings`'s recipes (None: the paper's)."""
    return tier(name).plan(specs, pipeline=pipeline, dataset=dataset, settings=settings)


def standard_tiers() -> dict[str, Tier]:
    """Every standard tier by name (a fresh mapping; the objects are shared: they hold no state)."""
    return {name: _standard(name) for name in TIER_CLASSES}
