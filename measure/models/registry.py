"""The paper's checkpoints as data: the registry (`checkpoints.csv`), validated on load, and its look-ups.

Like timm's pretrained-cfg table, one row per paper model x pre-training [x fine-tune], always with an
explicit tag (timm's untagged default is usually *not* the paper's weights) and a provenance on every row:

* ``authors``    — the weights the paper reports, as released by their authors (ViT: Dosovitskiy et al.;
                   BiT: Kolesnikov et al.; Noisy Student: Xie et al.), possibly converted by timm / HF;
* ``substitute`` — the same architecture and data, trained differently (the note says how): orderings only;
* ``unreleased`` — nothing public (JFT-300M, the paper's ImageNet-1k ViTs, the ImageNet fine-tune of the
                   ImageNet-21k ViT-H/14, ...): untestable; the note says why.

A row may be the *twin* of another (``twin_of``): the same weights through another loader — the Hugging Face
conversions that keep the paper's pre-logits layer, the official npz read with it, the transformers
classifiers the harness check compares timm with. `find` passes twins over unless asked for them.
``eval_pipeline`` names the evaluation preprocessing the row's authors used (`measure.data.pipelines`; every
fine-tuned row has one), ``representations`` the kinds of frozen representation a head-less load of the row
can give (`measure.models.representations`; every released pre-training row has one).

Standard library only (plus the stdlib-only `paper` data): claim modules and fixtures import it at
collection time. Loading a row is `measure.models.loaders.load_model`.
"""

from __future__ import annotations

import csv
import difflib
import functools
from dataclasses import dataclass
from pathlib import Path

from measure.data.pipelines import BIT, TIMM, VIT_JAX
from measure.models.representations import KINDS
from paper import PRETRAININGS

REGISTRY_CSV = Path(__file__).with_name("checkpoints.csv")
LIBRARIES = ("timm", "transformers", "bit_npz", "vit_npz")
NPZ_LIBRARIES = ("bit_npz", "vit_npz")
PROVENANCES = ("authors", "substitute", "unreleased")
# The pipelines a fine-tuned row may be evaluated with, and the representations a row may be read at (both modules
# are stdlib only at import, like this one).
EVAL_PIPELINES = tuple(p.name for p in (VIT_JAX, BIT, TIMM))
REPRESENTATION_KINDS = tuple(KINDS)

__all__ = ["EVAL_PIPELINES", "LIBRARIES", "NPZ_LIBRARIES", "PRETRAININGS", "PROVENANCES", "REGISTRY_CSV",
           "REPRESENTATION_KINDS", "CheckpointSpec", "by_key", "find", "registry"]


@dataclass(frozen=True)
class CheckpointSpec:
    """One registry row (see the module docstring for `provenance`)."""

    key: str            # "vit_l16-i21k", "bit_m_r152x4-i21k", "vit_b16-i21k-ft_in1k-384", ...
    paper_model: str    # canonical model key of paper/numbers.csv ("ViT-L/16", "R152x4", "R50+ViT-B/16")
    pretraining: str    # imagenet | imagenet21k | jft300m
    finetuned_on: str   # "" or dataset key ("imagenet")
    resolution: int
    library: str        # timm | transformers | bit_npz | vit_npz ("" when unreleased)
    hub_id: str         # timm "arch.tag", HF repo id, or the official npz URL ("" when unreleased)
    provenance: str     # authors | substitute | unreleased
    note: str           # why (e.g. "SAM-trained substitute: different optimizer")
    timm_name: str = ""      # timm model built for npz rows / local files (its cfg gives the preprocessing);
    #                          empty for timm rows, whose hub_id is the model name
    num_classes: int = 0     # classes of the head stored in the checkpoint (0: head-less)
    pre_logits: bool = False  # output is the paper's pre-logits representation tanh(W·CLS + b)
    eval_pipeline: str = ""  # fine-tuned rows: the preprocessing their authors evaluate with (EVAL_PIPELINES)
    representations: tuple[str, ...] = ()  # pre-training rows: the representation kinds a head-less load gives
    twin_of: str = ""        # the key of the row with the same weights that `find` returns by default

    @property
    def released(self) -> bool:
        return self.provenance != "unreleased"

    @property
    def model_name(self) -> str:
        """The timm model that holds these weights ("" if timm has no such architecture)."""
        return self.timm_name or (self.hub_id if self.library == "timm" else "")


@functools.cache
def _registry() -> dict[str, CheckpointSpec]:
    with REGISTRY_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    specs: dict[str, CheckpointSpec] = {}
    for row in rows:
        spec = CheckpointSpec(
            key=row["key"], paper_model=row["paper_model"], pretraining=row["pretraining"],
            finetuned_on=row["finetuned_on"], resolution=int(row["resolution"]), library=row["library"],
            hub_id=row["hub_id"], provenance=row["provenance"], note=row["note"], timm_name=row["timm_name"],
            num_classes=int(row["num_classes"] or 0), pre_logits=row["pre_logits"].strip().lower() == "true",
            eval_pipeline=row["eval_pipeline"].strip(),
            representations=tuple(k for k in row["representations"].split(";") if k.strip()),
            twin_of=row["twin_of"].strip())
        problems = _row_problems(spec) + (["duplicate key"] if spec.key in specs else [])
        if problems:
            raise ValueError(f"{REGISTRY_CSV.name} row {spec.key!r}: {'; '.join(problems)}")
        specs[spec.key] = spec
    for spec in specs.values():
        problem = _twin_problem(spec, specs)
        if problem:
            raise ValueError(f"{REGISTRY_CSV.name} row {spec.key!r}: {problem}")
    return specs


def _row_problems(spec: CheckpointSpec) -> list[str]:
    """What is wrong with a registry row (empty when it is well formed)."""
    problems = []
    if spec.pretraining not in PRETRAININGS:
        problems.append(f"pretraining {spec.pretraining!r} not in {sorted(PRETRAININGS)}")
    if spec.provenance not in PROVENANCES:
        problems.append(f"provenance {spec.provenance!r} not in {PROVENANCES}")
    if spec.released:
        if spec.library not in LIBRARIES:
            problems.append(f"library {spec.library!r} not in {LIBRARIES}")
        if spec.library == "timm" and "." not in spec.hub_id:
            problems.append(f"timm hub_id {spec.hub_id!r} has no explicit tag")
        if spec.library in NPZ_LIBRARIES and not (spec.hub_id.startswith("https://") and spec.timm_name):
            problems.append("npz rows need the official URL as hub_id and a timm_name")
    elif spec.library or spec.hub_id:
        problems.append("an unreleased row has no library / hub_id")
    if spec.finetuned_on and spec.eval_pipeline not in EVAL_PIPELINES:
        problems.append(f"a fine-tuned row names the pipeline its authors evaluate with: eval_pipeline "
                        f"{spec.eval_pipeline!r} not in {EVAL_PIPELINES}")
    if not spec.finetuned_on and spec.eval_pipeline:
        problems.append("eval_pipeline is for fine-tuned rows")
    unknown = [k for k in spec.representations if k not in REPRESENTATION_KINDS]
    if unknown:
        problems.append(f"representations {unknown} not in {REPRESENTATION_KINDS}")
    if spec.released and not spec.finetuned_on and not spec.representations:
        problems.append("a released pre-training row lists the representation kinds it gives (representations)")
    if spec.pre_logits and "pre_logits" not in spec.representations:
        problems.append("a pre_logits row offers the pre_logits representation")
    return problems


def _twin_problem(spec: CheckpointSpec, specs: dict[str, CheckpointSpec]) -> str | None:
    if not spec.twin_of:
        return None
    other = specs.get(spec.twin_of)
    if other is None:
        return f"twin_of {spec.twin_of!r} is no row of the registry"
    if (other.paper_model, other.pretraining, other.finetuned_on, other.resolution) != \
            (spec.paper_model, spec.pretraining, spec.finetuned_on, spec.resolution) or other.twin_of:
        return f"twin_of {spec.twin_of!r} must be a primary row of the same model, pre-training, fine-tune and resolution"
    return None


def registry() -> dict[str, CheckpointSpec]:
    """Every row of checkpoints.csv by key, in file order."""
    return dict(_registry())


def by_key(key: str) -> CheckpointSpec:
    """The row named `key`; LookupError naming the close matches otherwise."""
    specs = _registry()
    if key not in specs:
        close = difflib.get_close_matches(key, list(specs), n=5, cutoff=0.5)
        raise LookupError(f"no checkpoint {key!r} in {REGISTRY_CSV.name}; close matches: {close or 'none'}")
    return specs[key]


def find(paper_model: str, pretraining: str, finetuned_on: str = "", *, resolution: int | None = None,
         library: str | None = None, pre_logits: bool = False) -> CheckpointSpec:
    """The registry row for (paper model, pre-training, fine-tune); LookupError listing close matches.

    Where several rows match: without `library` and `pre_logits`, twins (``twin_of``) are passed over for
    the primary row; with `pre_logits`, only the rows that keep the paper's pre-logits layer qualify;
    without `resolution`, the highest resolution wins — the paper fine-tunes at 384 (Table 5 caption), and
    pre-training rows are unique anyway. An `unreleased` row is returned like any other: its provenance and
    note say why nothing can be loaded.
    """
    rows = [s for s in _registry().values()
            if (s.paper_model, s.pretraining, s.finetuned_on) == (paper_model, pretraining, finetuned_on)]
    if library is not None:
        rows = [s for s in rows if s.library == library]
    if pre_logits:
        rows = [s for s in rows if s.pre_logits]
    elif library is None:
        rows = [s for s in rows if not s.twin_of]
    if resolution is not None:
        rows = [s for s in rows if s.resolution == resolution]
    if not rows:
        raise LookupError(_no_match(paper_model, pretraining, finetuned_on, resolution, library))
    best = max(s.resolution for s in rows)
    rows = [s for s in rows if s.resolution == best]
    if len(rows) > 1:
        raise LookupError(f"several checkpoints match: {[s.key for s in rows]}; pass library=")
    return rows[0]


def _no_match(paper_model: str, pretraining: str, finetuned_on: str, resolution: int | None,
              library: str | None) -> str:
    specs = _registry().values()
    wanted = f"({paper_model!r}, {pretraining!r}, {finetuned_on!r}" + "".join(
        f", {name}={value!r}" for name, value in (("resolution", resolution), ("library", library))
        if value is not None) + ")"
    models = sorted({s.paper_model for s in specs})
    if paper_model not in models:
        close = difflib.get_close_matches(paper_model, models, n=5, cutoff=0.5)
        hint = f"unknown model; close matches: {close or 'none'}"
    elif pretraining not in PRETRAININGS:
        close = difflib.get_close_matches(pretraining, sorted(PRETRAININGS), n=3)
        hint = f"unknown pretraining; close matches: {close or 'none'}"
    else:
        hint = "close matches: " + str(sorted(
            f"{s.key} ({s.pretraining}, {s.finetuned_on or '-'}, {s.resolution}, {s.library or s.provenance})"
            for s in specs if s.paper_model == paper_model))
    return f"no checkpoint for {wanted} in {REGISTRY_CSV.name}: {hint}"
