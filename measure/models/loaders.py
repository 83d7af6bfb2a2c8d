"""Loading a registry row for inference, through the libraries' own code.

timm names come from the Hugging Face hub cache (``models--timm--<name>/snapshots/<revision>/model.safetensors``),
transformers ``ViTModel`` folders keep the pre-logits layer, and the official ``.npz`` files go through timm's
npz readers; `--claims-checkpoint KEY=FILE` replaces the hub by a local file or folder. Whatever is not
here raises `Missing` saying what to provide; a row with nothing public raises `Unreleased`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from measure.errors import Missing, Unreleased
from measure.models.hub import HubAccess
from measure.models.integrity import CheckpointUnusable, unusable
from measure.models.pins import pinned_version
from measure.models.registry import CheckpointSpec
from measure.models.weights import check_transformers_request, timm_model, transformers_model
from measure.models.wrappers import pre_logits_class

# timm's hub loader asks for pytorch_model.bin and prefers its safetensors twin (timm/models/_hub.py).
TIMM_HUB_FILES = ("model.safetensors", "pytorch_model.bin")
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HF_OPTIONAL_FILES = ("preprocessor_config.json",)
_PIL_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}

__all__ = ["CheckpointLoader", "LoadedModel", "SourceFile", "load_model", "pre_logits_class", "source_files"]


@dataclass(frozen=True)
class LoadedModel:
    """A checkpoint ready for inference (eval mode, CPU).

    ``model(images)`` returns logits when loaded with ``num_classes > 0`` and a (batch, dim)
    representation with ``num_classes=0``: for timm the pooled features before the head (ViT: CLS
    token after the final LayerNorm), for ``pre_logits`` rows the paper's pre-logits output.
    ``data_config`` is this checkpoint's own preprocessing in timm's form (input_size, mean, std,
    crop_pct, crop_mode, interpolation). ``revision`` keys caches: the hub snapshot hash, or
    ``sha256:<hex>`` of a file.
    """

    model: Any
    data_config: dict[str, Any]
    spec: CheckpointSpec
    revision: str
    source_path: Path


@dataclass(frozen=True)
class CheckpointLoader:
    """``loader(spec_or_key, num_classes=0) -> LoadedModel`` for one session: one `HubAccess`, and the
    local files the user named for some registry keys (``--claims-checkpoint KEY=FILE``)."""

    hub: HubAccess
    overrides: Mapping[str, Path] = field(default_factory=dict)
    # A file that failed to load fails again: every later check of the key gets the same refusal at once.
    failures: dict[str, CheckpointUnusable] = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, spec: CheckpointSpec | str, num_classes: int = 0) -> LoadedModel:
        from measure.models.registry import by_key

        spec = by_key(spec) if isinstance(spec, str) else spec
        if spec.key in self.failures:
            raise self.failures[spec.key]
        try:
            return load_model(spec, self.hub, num_classes=num_classes, local_file=self.overrides.get(spec.key))
        except CheckpointUnusable as failure:
            self.failures[spec.key] = failure
            raise


def load_model(spec: CheckpointSpec, hub: HubAccess | None, *, num_classes: int = 0,
               local_file: str | Path | None = None) -> LoadedModel:
    """Load `spec` (from `local_file` if given) for inference; Missing says what to provide."""
    if local_file is not None:
        path = Path(local_file).expanduser()
        if not path.exists():
            raise Missing(f"--claims-checkpoint {spec.key}={path}: no such file or folder",
                          need=f"checkpoint {spec.key}: --claims-checkpoint {spec.key}=FILE must name an existing "
                               f"file or folder")
        if spec.library == "transformers":
            return _transformers_model(spec, path if path.is_dir() else path.parent, num_classes,
                                       revision=_digest(path), override=True)
        return _timm_model(spec, spec.model_name, path, num_classes, revision=_digest(path), override=True)
    if not spec.released:
        raise Unreleased(f"{spec.key}: {spec.note}")
    if hub is None:
        raise ValueError("load_model needs a HubAccess unless local_file is given")
    provide = f"pass --claims-checkpoint {spec.key}=FILE"
    if spec.library == "timm":
        repo_id = _timm_repo_id(spec.hub_id)
        path = hub.hf_file(repo_id, _timm_hub_files(spec.hub_id))
        if path is None:
            raise Missing(_not_cached(spec.hub_id, hub, provide), need=_hub_need(spec, "timm", "FILE"))
        return _timm_model(spec, spec.hub_id, path, num_classes, revision=_snapshot(path))
    if spec.library == "transformers":
        config = hub.hf_file(spec.hub_id, ["config.json"])
        weights = hub.hf_file(spec.hub_id, HF_WEIGHT_FILES) if config else None
        folder = "FOLDER (config.json + model.safetensors)"
        if config is None or weights is None:
            raise Missing(_not_cached(spec.hub_id, hub, provide + " (a folder with config.json and model.safetensors)"),
                          need=_hub_need(spec, "Hugging Face", folder))
        for name in HF_OPTIONAL_FILES:
            hub.hf_file(spec.hub_id, [name])
        if weights.parent != config.parent:
            raise Missing(f"{spec.hub_id}: config.json and weights come from different cached revisions "
                          f"({config.parent.name}, {weights.parent.name}); re-download with internet",
                          need=_hub_need(spec, "Hugging Face", folder))
        return _transformers_model(spec, config.parent, num_classes, revision=_snapshot(config))
    dest, path = hub.url_file(spec.hub_id)
    if path is None:
        raise Missing(f"{dest.name} is not at {dest} and {hub.why_not()}: download {spec.hub_id} to {dest} "
                      f"(or set CLAIMS_CHECKPOINTS to a folder that has {dest.relative_to(hub.files_dir)}), "
                      f"or {provide}",
                      need=f"checkpoint {spec.key}: download {spec.hub_id} to {dest} (or set CLAIMS_CHECKPOINTS "
                           f"to a folder that has {dest.relative_to(hub.files_dir)}), or pass "
                           f"--claims-checkpoint {spec.key}=FILE")
    return _timm_model(spec, spec.timm_name, path, num_classes, revision=_digest(path))


@dataclass(frozen=True)
class SourceFile:
    """One file `load_model` asks `HubAccess` for: the first of `names` that the Hugging Face repo `repo_id`
    has, or the official file at `url`. `required=False`: used when present (a preprocessor config)."""

    repo_id: str = ""
    names: tuple[str, ...] = ()
    url: str = ""
    required: bool = True

    @property
    def label(self) -> str:
        return self.url or f"{self.repo_id}: {' | '.join(self.names)}"


def source_files(spec: CheckpointSpec) -> tuple[SourceFile, ...]:
    """The files `load_model(spec, hub)` reads, in the order it asks for them (the fetch command pre-fills
    exactly these; tests/test_fetch.py holds the two together). `Unreleased` for a row with nothing public;
    `Missing` when the installed timm lacks the row's tag."""
    if not spec.released:
        raise Unreleased(f"{spec.key}: {spec.note}")
    if spec.library == "timm":
        return (SourceFile(_timm_repo_id(spec.hub_id), tuple(_timm_hub_files(spec.hub_id))),)
    if spec.library == "transformers":
        return (SourceFile(spec.hub_id, ("config.json",)), SourceFile(spec.hub_id, HF_WEIGHT_FILES),
                *(SourceFile(spec.hub_id, (name,), required=False) for name in HF_OPTIONAL_FILES))
    return (SourceFile(url=spec.hub_id),)


def _hub_need(spec: CheckpointSpec, source: str, file: str) -> str:
    # The same text on every machine state (no cache path, no network error): reports count by it.
    return (f"checkpoint {spec.key} ({source} {spec.hub_id}): in the Hugging Face cache (run once with internet, "
            f"or set HF_HOME), or pass --claims-checkpoint {spec.key}={file}")


def _not_cached(what: str, hub: HubAccess, provide: str) -> str:
    return (f"{what} is not in the Hugging Face cache ({hub.cache_dir}) and {hub.why_not()}: run once with "
            f"internet, or set HF_HOME to a cache that has it, or {provide}")


def _timm_repo_id(hub_id: str) -> str:
    import timm.models

    cfg = timm.models.get_pretrained_cfg(hub_id)
    if cfg is None or not cfg.hf_hub_id:
        pinned = pinned_version("timm")
        wanted = f"timm=={pinned}" if pinned else "the timm of requirements.lock"
        raise Missing(f"timm {timm.__version__} has no pretrained tag {hub_id!r} with hub weights; the registry "
                      f"(measure/models/checkpoints.csv) is written for {wanted} (requirements.lock): install it, "
                      f"e.g. pip install {wanted if pinned else '-r requirements.lock'}",
                      need=f"{wanted} as pinned in requirements.lock (the installed timm lacks tags of the "
                           f"checkpoint registry)")
    return cfg.hf_hub_id


def _timm_hub_files(hub_id: str) -> list[str]:
    import timm.models

    cfg = timm.models.get_pretrained_cfg(hub_id)
    return [cfg.hf_hub_filename] if cfg and cfg.hf_hub_filename else list(TIMM_HUB_FILES)


def _timm_model(spec: CheckpointSpec, name: str, path: Path, num_classes: int, *, revision: str,
                override: bool = False) -> LoadedModel:
    import timm
    import timm.data

    if not name:
        raise Missing(f"{spec.key}: timm has no architecture for {spec.paper_model}; nothing can load {path}",
                      need=f"checkpoint {spec.key}: a timm architecture for {spec.paper_model} (none is registered)")
    # `file` outranks the hub id in timm's source resolution; `custom_load` routes the official npz
    # files to the model's npz reader, and must be False for state dicts even where the tag's cfg
    # says custom_load (BiT, AugReg: their cfgs describe the npz URL).
    # (measure.models.weights builds it with the checkpoint's own head, so that the load stays strict.)
    try:
        model = timm_model(name, path, spec, num_classes)
    except Exception as error:  # whatever the file holds (truncated, other weights, refused pickle): one line
        raise unusable(spec.key, spec.paper_model, path, f"timm {name}", error, override=override) from error
    data_config = timm.data.resolve_model_data_config(getattr(model, "backbone", model))
    return LoadedModel(model, data_config, spec, revision, path)


def _transformers_model(spec: CheckpointSpec, folder: Path, num_classes: int, *, revision: str,
                        override: bool = False) -> LoadedModel:
    check_transformers_request(spec, num_classes)
    if not (folder / "config.json").is_file():
        raise Missing(f"{folder} has no config.json: give the folder that holds config.json and model.safetensors",
                      need=f"checkpoint {spec.key}: --claims-checkpoint {spec.key}=FOLDER holding config.json and "
                           f"model.safetensors")
    what = "transformers " + ("ViTModel" if spec.pre_logits else "ViTForImageClassification")
    try:  # every weight from the folder, or an error naming the missing ones (measure.models.weights)
        model, config = transformers_model(folder, spec, num_classes)
    except Exception as error:  # see _timm_model
        raise unusable(spec.key, spec.paper_model, folder, what, error, override=override) from error
    return LoadedModel(model, _hf_data_config(folder, config), spec, revision, folder)


def _hf_data_config(folder: Path, config: Any) -> dict[str, Any]:
    """timm-style data config from the HF image-processor config (ViTImageProcessor defaults where absent):
    HF resizes straight to the input size, i.e. crop_pct 1.0."""
    processor = folder / "preprocessor_config.json"
    settings = json.loads(processor.read_text()) if processor.is_file() else {}
    size = settings.get("size", config.image_size)
    height, width = (size["height"], size["width"]) if isinstance(size, dict) else (size, size)
    return {
        "input_size": (config.num_channels, int(height), int(width)),
        "interpolation": _PIL_RESAMPLE.get(settings.get("resample", 2), "bilinear"),
        "mean": tuple(settings.get("image_mean", (0.5, 0.5, 0.5))),
        "std": tuple(settings.get("image_std", (0.5, 0.5, 0.5))),
        "crop_pct": 1.0,
        "crop_mode": "center",
    }


def _snapshot(path: Path) -> str:
    """The commit hash of a file in the hub cache (…/snapshots/<hash>/<file>)."""
    return path.parent.name if path.parent.parent.name == "snapshots" else _digest(path)


def _digest(path: Path) -> str:
    stat = path.stat()
    return _digest_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest_cached(path: str, size: int, mtime_ns: int) -> str:
    target = Path(path)
    files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(target).as_posix().encode() if target.is_dir() else b"")
        with file.open("rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return f"sha256:{digest.hexdigest()}"
