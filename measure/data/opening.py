"""Opening the paper's datasets from the user's folders, through torchvision's own loaders.

Every dataset is read by the torchvision class that defines its on-disk format (CIFAR pickles, the
Oxford-IIIT Pet and Flowers-102 archives, ImageNet class folders), so what runs here is what a GPU
runner with the real files runs. Downloads happen only when `DataPaths.download` is set (``--claims-download``);
anything missing or corrupt raises :class:`measure.errors.Missing` with the folder and the flag that fix it.
torch and torchvision are imported on first use: fixtures import this module when pytest starts.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from measure.data.datasets import IMAGENET_OPTION, DatasetSpec, dataset_spec
from measure.data.paths import DataPaths
from measure.errors import Missing

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = ["DatasetCorrupt", "DatasetOpener", "dataset_labels", "loader_class", "open_dataset"]


class DatasetCorrupt(Missing):
    """Files are there but fail torchvision's md5 check: a not-run reason, never a silent result."""


@dataclass(frozen=True)
class DatasetOpener:
    """``opener(name, split, transform)`` → torch Dataset from the folders `paths` names, or raises
    Missing with what to provide."""

    paths: DataPaths

    def __call__(self, name: str, split: str, transform: Callable | None = None) -> Dataset:
        return open_dataset(name, split, self.paths, transform)


def open_dataset(name: str, split: str, paths: DataPaths, transform: Callable | None = None) -> Dataset:
    """The dataset ``name``/``split`` read from the user's folders; raises Missing saying what to provide."""
    spec = dataset_spec(name)
    if split not in spec.splits:
        raise ValueError(f"{name} has splits {', '.join(spec.splits)}, not {split!r}")
    if spec.root_option == IMAGENET_OPTION:
        if split == "train":
            return _open_imagenet_train(spec, paths, transform)
        return _open_imagenet(spec, paths, transform)
    parts = [_open_torchvision(spec, tv_split, paths, transform) for tv_split in spec.splits[split]]
    if len(parts) == 1:
        return parts[0]
    from torch.utils.data import ConcatDataset

    return ConcatDataset(parts)


def dataset_labels(ds: Dataset) -> np.ndarray:
    """Integer labels in dataset order, read from the loaders' label lists — no image is decoded."""
    from torch.utils.data import ConcatDataset, Subset

    if isinstance(ds, ConcatDataset):
        return np.concatenate([dataset_labels(part) for part in ds.datasets])
    if isinstance(ds, Subset):
        return dataset_labels(ds.dataset)[np.asarray(ds.indices, dtype=np.int64)]
    for attribute in ("targets", "_labels"):  # CIFAR/ImageFolder keep `targets`; Pets/Flowers `_labels`
        if hasattr(ds, attribute):
            return np.asarray(getattr(ds, attribute), dtype=np.int64)
    raise TypeError(f"don't know where {type(ds).__name__} keeps its labels")


def loader_class(spec: DatasetSpec) -> type:
    """The class the catalog names for `spec` (``module:Class``), imported now."""
    module, _, attribute = spec.loader.partition(":")
    return getattr(importlib.import_module(module), attribute)


# ------------------------------------------------------------------------------------------------
def _is_cifar(loader: type) -> bool:
    from torchvision import datasets as tvd

    return loader in (tvd.CIFAR10, tvd.CIFAR100)


def _construct(spec: DatasetSpec, tv_split: str, root: Path, transform: Callable | None, download: bool) -> Any:
    loader = loader_class(spec)
    if _is_cifar(loader):
        return loader(root, train=tv_split == "train", transform=transform, download=download)
    return loader(root, split=tv_split, transform=transform, download=download)


def _open_torchvision(spec: DatasetSpec, tv_split: str, paths: DataPaths, transform: Callable | None) -> Any:
    root = paths.data_root
    try:
        ds = _construct(spec, tv_split, root, transform, download=False)
    except (RuntimeError, FileNotFoundError) as err:  # torchvision: "Dataset not found or corrupted"
        if not paths.download:
            raise _refusal(spec, root, err) from err
        ds = _download_and_open(spec, tv_split, root, transform)
    absent = [path for path in getattr(ds, "_images", getattr(ds, "_image_files", [])) if not Path(path).is_file()]
    if absent:  # torchvision checks only the folders; a missing jpg would otherwise crash mid-evaluation
        raise Missing(f"{spec.title} under {root / spec.folder} is incomplete: {len(absent)} images listed in its "
                      f"split files are missing (first: {absent[0]}); copy the complete dataset there", need=spec.need)
    return ds


def _download_and_open(spec: DatasetSpec, tv_split: str, root: Path, transform: Callable | None) -> Any:
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    # torchvision downloads into a fixed folder: one xdist worker fetches, the others wait and reuse it.
    with FileLock(str(root / f".{spec.folder}.download.lock")):
        existed = (root / spec.folder).exists()
        try:
            _construct(spec, tv_split, root, None, download=True)
        except (OSError, RuntimeError) as err:
            if not existed:  # an empty folder left behind would later read as "dataset incomplete"
                _remove_empty_tree(root / spec.folder)
            raise Missing(f"{spec.title}: download into {root / spec.folder} failed ({err}); copy the dataset "
                          f"there by hand, or pass --claims-data DIR where it already is", need=spec.need) from err
    try:
        return _construct(spec, tv_split, root, transform, download=False)
    except (RuntimeError, FileNotFoundError) as err:
        raise _refusal(spec, root, err) from err


def _remove_empty_tree(folder: Path) -> None:
    """Remove `folder` and its sub-folders if they hold no file at all (a failed download's scaffolding)."""
    if not folder.is_dir() or any(path.is_file() or path.is_symlink() for path in folder.rglob("*")):
        return
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        path.rmdir()
    folder.rmdir()


def _refusal(spec: DatasetSpec, root: Path, err: Exception) -> Missing:
    if isinstance(err, FileNotFoundError):  # e.g. annotations/test.txt of a half-extracted Pets archive
        return Missing(f"{spec.title} under {root / spec.folder} is incomplete ({err.filename} missing); "
                       f"delete it and run with --claims-download, or copy the complete dataset there", need=spec.need)
    return _diagnose(spec, root) or Missing(f"{spec.title} under {root / spec.folder}: {err}", need=spec.need)


def _diagnose(spec: DatasetSpec, root: Path) -> Missing | None:
    """Why torchvision refused the folder, checked against torchvision's own file and md5 tables."""
    from torchvision import datasets as tvd
    from torchvision.datasets.utils import check_integrity

    base = root / spec.folder
    if not base.is_dir():
        return Missing(f"{spec.title} not found under {base}; run with --claims-download "
                       f"or pass --claims-data DIR (the folder holding {spec.folder}/)", need=spec.need)
    loader = loader_class(spec)
    if _is_cifar(loader):
        meta = loader.meta
        files = [*loader.train_list, *loader.test_list, [meta["filename"], meta["md5"]]]
        required, folders = [(base / name, md5) for name, md5 in files], []
    elif loader is tvd.Flowers102:
        required = [(base / name, md5) for key, (name, md5) in loader._file_dict.items() if key != "image"]
        folders = [base / "jpg"]
    else:  # Pets: torchvision checks only that both folders exist
        required, folders = [], [base / "images", base / "annotations"]
    missing = [path.name for path in folders if not path.is_dir()] + [p.name for p, _ in required if not p.is_file()]
    if missing:
        return Missing(f"{spec.title} under {base} is incomplete (missing {', '.join(missing)}); delete it and run "
                       f"with --claims-download, or copy the complete dataset there", need=spec.need)
    corrupt = [path.name for path, md5 in required if not check_integrity(str(path), md5)]
    if corrupt:
        return DatasetCorrupt(f"{spec.title} under {base} failed torchvision's md5 check ({', '.join(corrupt)}); "
                              f"delete it and run with --claims-download, or replace it with an intact copy", need=spec.need)
    return None


def _open_imagenet(spec: DatasetSpec, paths: DataPaths, transform: Callable | None) -> Any:
    if paths.imagenet_root is None:
        raise Missing(f"{spec.title} needs the ILSVRC-2012 validation images; pass --claims-imagenet DIR "
                      f"(a folder holding val/<wnid>/*.JPEG, 50,000 images in 1,000 class folders)", need=spec.need)
    val = paths.imagenet_root / spec.folder
    if not val.is_dir():
        raise Missing(f"{spec.title}: no val/ folder under {paths.imagenet_root} (expected {val}/<wnid>/*.JPEG); "
                      f"fix --claims-imagenet DIR", need=spec.need)
    if not any(entry.is_dir() for entry in os.scandir(val)):
        raise Missing(f"{spec.title}: {val} holds no class folders; sort the 50,000 val images into "
                      f"val/<wnid>/ (e.g. with the usual valprep.sh) and run again", need=spec.need)
    from measure.data.imagenet import ImageNetReaL

    loader = loader_class(spec)
    try:
        if issubclass(loader, ImageNetReaL):
            return loader(val, paths.real_labels, transform=transform)
        return loader(val, transform=transform)
    except FileNotFoundError as err:  # ImageFolder: a class folder without images
        raise Missing(f"{spec.title} under {val} is incomplete ({err}); copy the complete val set there",
                      need=spec.need) from err


def _open_imagenet_train(spec: DatasetSpec, paths: DataPaths, transform: Callable | None) -> Any:
    """ILSVRC-2012 train/<wnid>/*.JPEG: read only by fine-tuning, so every problem names its own need."""
    need = spec.need_for("train")
    if paths.imagenet_root is None:
        raise Missing(f"fine-tuning on {spec.title} needs the ILSVRC-2012 training images; pass --claims-imagenet DIR "
                      f"(a folder holding train/<wnid>/*.JPEG, 1,281,167 images in 1,000 class folders)", need=need)
    train = paths.imagenet_root / spec.splits["train"][0]
    if not train.is_dir():
        raise Missing(f"{spec.title}: no train/ folder under {paths.imagenet_root} (expected {train}/<wnid>/*.JPEG, "
                      f"e.g. the official ILSVRC2012_img_train.tar with each class tarball extracted into its "
                      f"folder); fix --claims-imagenet DIR", need=need)
    from measure.data.imagenet import ImageNetTrain

    try:
        data = ImageNetTrain(train, transform=transform)
    except FileNotFoundError as err:  # ImageFolder: no class folder, or one without images
        raise Missing(f"{spec.title} train under {train} is incomplete ({err}); extract every class tarball into "
                      f"train/<wnid>/", need=need) from err
    if len(data) != spec.sizes["train"]:  # a partial copy would fine-tune on other data than the paper's
        raise Missing(f"{spec.title} train under {train} has {len(data):,} of {spec.sizes['train']:,} images in "
                      f"{len(data.classes)} of 1,000 class folders; extract the complete training set there", need=need)
    return data
