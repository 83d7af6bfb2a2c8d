"""Building a model from a checkpoint file so that every weight the model uses comes from that file.

The libraries load permissively where it is convenient for training and silent where it matters here: timm
drops to a non-strict load whenever the requested head differs from the checkpoint's (and its npz reader
skips a head of another size), and transformers' ``from_pretrained`` initialises at random any weight the
file lacks — a pooler-stripped ViT would still "give pre-logits". A measurement on random weights is not a
measurement, so:

* timm: the model is built with the checkpoint's own head (the registry's ``num_classes``, which must match
  the tag's pretrained_cfg), so timm's load stays strict; the head asked for is set afterwards
  (``reset_classifier``); an official npz is checked to hold the head and, for ``pre_logits`` rows, the
  pre-logits layer that is read from it (timm's npz reader drops that layer);
* transformers: ``output_loading_info`` — any missing or mismatched weight is an error.

Each failure raises `IncompleteWeights` naming the weights; `measure.models.loaders` turns it into the
one-line `CheckpointUnusable` that says which key and file, and what to provide. torch, timm and
transformers are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from measure.errors import MeasureError
from measure.models.wrappers import classifier_class, npz_pre_logits_class, pre_logits_class

if TYPE_CHECKING:
    from torch import nn

    from measure.models.registry import CheckpointSpec

PRE_LOGITS_KERNEL, PRE_LOGITS_BIAS = "pre_logits/kernel", "pre_logits/bias"
SHOWN = 6  # missing weights named in a message; the count says how many more

__all__ = ["IncompleteWeights", "check_transformers_request", "classifier_class", "npz_pre_logits_class",
           "timm_model", "transformers_model"]


class IncompleteWeights(MeasureError, RuntimeError):
    """The checkpoint file lacks weights the model would use (they would be random)."""


def _names(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def timm_model(name: str, path: Path, spec: CheckpointSpec, num_classes: int) -> nn.Module:
    """timm model `name` with every weight from `path` (state dict or official npz), head set to `num_classes`
    (0: head-less), wrapped with the npz pre-logits layer for ``pre_logits`` npz rows."""
    import timm
    import timm.models

    npz = path.suffix == ".npz"
    stored = spec.num_classes
    cfg = timm.models.get_pretrained_cfg(name)
    if not npz and cfg is not None and cfg.num_classes != stored:
        raise IncompleteWeights(f"the registry says the checkpoint holds a {stored}-class head but timm's tag "
                                f"{name} a {cfg.num_classes}-class one: timm would load it non-strictly")
    if npz:
        _check_npz(path, stored, pre_logits=spec.pre_logits)
    overlay = {"file": str(path), "custom_load": npz}
    try:
        model = timm.create_model(name, pretrained=True, num_classes=stored, pretrained_cfg_overlay=overlay)
    except RuntimeError:
        if npz or num_classes or not _only_head_missing(name, path, stored):
            raise
        # Features only, from a file without its head: nothing the model uses is missing (checked above), so
        # timm's head-less (non-strict) load is safe here.
        model = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay=overlay)
    if num_classes != stored and model.num_classes != num_classes:
        model.reset_classifier(num_classes)
    model.eval()
    if spec.pre_logits and npz:
        kernel, bias = _npz_arrays(path, (PRE_LOGITS_KERNEL, PRE_LOGITS_BIAS))
        model = npz_pre_logits_class()(model, kernel, bias).eval()
    return model


def _only_head_missing(name: str, path: Path, stored: int) -> bool:
    """Whether a safetensors file holds every weight of timm model `name` but its classifier."""
    import timm
    from safetensors import safe_open

    if path.suffix != ".safetensors":
        return False
    with safe_open(str(path), framework="pt") as handle:
        present = set(handle.keys())
    model = timm.create_model(name, pretrained=False, num_classes=stored)
    head = {f"{c}.{p}" for c in _classifiers(model) for p in ("weight", "bias")}
    missing = set(model.state_dict()) - present
    return bool(missing) and missing <= head


def _classifiers(model: nn.Module) -> tuple[str, ...]:
    names = model.pretrained_cfg.get("classifier") or ()
    return (names,) if isinstance(names, str) else tuple(names)


def _npz_keys(path: Path) -> list[str]:
    import numpy as np

    with np.load(path) as archive:
        return list(archive.files)


def _npz_arrays(path: Path, names: tuple[str, ...]) -> list[Any]:
    import numpy as np

    with np.load(path) as archive:
        keys = {key.rsplit("/", 2)[-2] + "/" + key.rsplit("/", 1)[-1]: key for key in archive.files if "/" in key}
        return [archive[keys[name]] for name in names]


def _check_npz(path: Path, num_classes: int, *, pre_logits: bool) -> None:
    """The official npz holds the head the registry says it has, and the pre-logits layer where one is read."""
    import numpy as np

    keys = _npz_keys(path)
    problems = []
    if num_classes:
        with np.load(path) as archive:
            heads = [archive[k].shape[-1] for k in keys if k.endswith(("head/kernel", "head/conv2d/kernel"))]
        if num_classes not in heads:
            problems.append(f"a {num_classes}-class head (found heads of {heads or 'no'} classes); timm's npz reader "
                            f"would leave it random")
    if pre_logits:
        absent = [name for name in (PRE_LOGITS_KERNEL, PRE_LOGITS_BIAS) if not any(k.endswith(name) for k in keys)]
        if absent:
            problems.append(f"the pre-logits layer ({', '.join(absent)})")
    if problems:
        raise IncompleteWeights(f"{path.name} lacks {' and '.join(problems)}")


def transformers_model(folder: Path, spec: CheckpointSpec, num_classes: int) -> tuple[nn.Module, Any]:
    """The transformers model of `folder` with every weight from it: the pre-logits (pooler) output for
    ``pre_logits`` rows, the classifier's logits for classifier rows; (module, HF config)."""
    check_transformers_request(spec, num_classes)
    if spec.pre_logits:
        from transformers import ViTModel

        vit, info = ViTModel.from_pretrained(folder, add_pooling_layer=True, local_files_only=True,
                                             output_loading_info=True)
        _check_loading_info(info, "the pre-logits layer (pooler) and encoder")

        return pre_logits_class()(vit).eval(), vit.config
    from transformers import ViTForImageClassification

    vit, info = ViTForImageClassification.from_pretrained(folder, local_files_only=True, output_loading_info=True)
    _check_loading_info(info, "the classifier")
    if vit.config.num_labels != spec.num_classes:
        raise IncompleteWeights(f"the checkpoint's classifier has {vit.config.num_labels} classes, the registry "
                                f"says {spec.num_classes}")
    return classifier_class()(vit).eval(), vit.config


def check_transformers_request(spec: CheckpointSpec, num_classes: int) -> None:
    """A transformers row gives what it holds: pre-logits features (``pre_logits`` rows) or its own logits."""
    if spec.pre_logits and num_classes:
        raise ValueError(f"{spec.key}: transformers rows give pre-logits features only; use num_classes=0 "
                         f"or the timm row for a classifier")
    if not spec.pre_logits and num_classes != spec.num_classes:
        raise ValueError(f"{spec.key}: a transformers classifier row gives its own {spec.num_classes}-class logits, "
                         f"not {num_classes}")


def _check_loading_info(info: dict[str, Any], what: str) -> None:
    missing, mismatched = set(info.get("missing_keys") or ()), list(info.get("mismatched_keys") or ())
    if missing or mismatched:
        parts = [f"missing {_names(missing)}"] if missing else []
        parts += [f"shape-mismatched {_names(str(m[0]) if isinstance(m, tuple) else str(m) for m in mismatched)}"] \
            if mismatched else []
        raise IncompleteWeights(f"the checkpoint lacks weights of {what} ({'; '.join(parts)}): transformers would "
                                f"initialise them at random")


