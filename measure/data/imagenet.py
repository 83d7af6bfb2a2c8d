"""ImageNet val in the standard 1000-class order, and its ReaL labels (Beyer et al. 2020) and scorer.

The folder classes subclass torchvision's ImageFolder, so this module imports torchvision: only the
opening path (`measure.data.opening`) and the measuring code import it, never the catalog.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset, Subset
from torchvision import datasets as tvd

from measure.data.datasets import IMAGENET_NEED, IMAGENET_TRAIN_NEED
from measure.errors import Missing

REAL_LABELS_NEED = ("ImageNet ReaL labels: a timm that ships them (requirements.lock), or pass --claims-real-labels "
                    "FILE (real.json from github.com/google-research/reassessed-imagenet)")
_VAL_FILE = re.compile(r"ILSVRC2012_val_(\d{8})\.JPEG$", re.IGNORECASE)

__all__ = ["REAL_LABELS_NEED", "ImageNetReaL", "ImageNetTrain", "ImageNetVal", "imagenet_wnids", "load_real_labels",
           "real_correct", "real_labels"]


@functools.cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 WordNet ids in the order every ImageNet-1k classifier uses.

    timm ships them (sorted wnids: the order of torchvision's ImageFolder over the full train/val folders);
    read on first use, so importing this module does not import timm."""
    text = (importlib.resources.files("timm.data") / "_info" / "imagenet_synsets.txt").read_text()
    return tuple(text.split())


@functools.cache
def _wnid_index() -> dict[str, int]:
    return {wnid: i for i, wnid in enumerate(imagenet_wnids())}


class ImageNetVal(tvd.ImageFolder):
    """ImageNet val as ``val/<wnid>/*.JPEG``; targets are indices in the standard 1000-class order.

    ImageFolder alone numbers the folders it finds 0..k-1, which matches a pretrained head only
    when all 1000 folders are present; mapping through the wnid list keeps a partial copy honest.
    """

    need = IMAGENET_NEED

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        index = _wnid_index()
        classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
        unknown = [name for name in classes if name not in index]
        if unknown:
            split = os.path.basename(os.path.normpath(directory))
            raise Missing(f"ImageNet {split} under {directory} has class folders that are not ILSVRC-2012 WordNet "
                          f"ids ({', '.join(unknown[:3])}…); expected {split}/n01440764/*.JPEG … "
                          f"{split}/n15075141/*.JPEG", need=self.need)
        return classes, {name: index[name] for name in classes}


class ImageNetTrain(ImageNetVal):
    """ILSVRC-2012 train as ``train/<wnid>/*.JPEG`` (1,281,167 images), targets in the standard 1000-class order.

    Fine-tuning opens the folder several times (with and without augmentation, once per recipe); listing 1.28M
    files is the slow part, so the listing of a folder is kept for the process (`_listing`).
    """

    need = IMAGENET_TRAIN_NEED

    @staticmethod
    def make_dataset(directory: str | Path, class_to_idx: dict[str, int], extensions: tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        if is_valid_file is not None:  # not hashable: list afresh
            return tvd.ImageFolder.make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)
        return list(_listing(os.fspath(directory), tuple(sorted(class_to_idx.items())), extensions, allow_empty))


@functools.lru_cache(maxsize=2)
def _listing(directory: str, classes: tuple[tuple[str, int], ...], extensions: tuple[str, ...] | None,
             allow_empty: bool) -> tuple[tuple[str, int], ...]:
    return tuple(tvd.ImageFolder.make_dataset(directory, dict(classes), extensions, None, allow_empty))


class ImageNetReaL(ImageNetVal):
    """ImageNet val with the ReaL labels (Beyer et al. 2020) of each image in ``real_labels``.

    ReaL labels are stored per original file name ILSVRC2012_val_00000001 … 00050000; images whose
    list is empty were judged to have no valid label and are not scored (46,837 of 50,000 are).
    """

    def __init__(self, root: str | Path, labels_file: Path | None, transform: Callable | None = None) -> None:
        super().__init__(root, transform=transform)
        table = load_real_labels(labels_file)
        self.real_labels: list[tuple[int, ...]] = []
        for path, _ in self.samples:
            match = _VAL_FILE.search(os.path.basename(path))
            if match is None or not 1 <= int(match.group(1)) <= len(table):
                raise Missing(f"{path} is not an ILSVRC-2012 validation file name covered by the ReaL labels "
                              f"{labels_file or 'shipped with timm'}; ReaL scoring needs the original names "
                              f"ILSVRC2012_val_00000001.JPEG …", need=IMAGENET_NEED)
            self.real_labels.append(table[int(match.group(1)) - 1])


def load_real_labels(path: Path | None = None) -> list[tuple[int, ...]]:
    """The ReaL label lists, one per validation image in file-name order (timm's copy unless ``path``)."""
    if path is None:
        source = importlib.resources.files("timm.data") / "_info" / "imagenet_real_labels.json"
        if not source.is_file():
            raise Missing("this timm has no ImageNet-ReaL labels; pass --claims-real-labels FILE "
                          "(real.json from github.com/google-research/reassessed-imagenet)", need=REAL_LABELS_NEED)
        text = source.read_text()
    elif not Path(path).is_file():
        raise Missing(f"ReaL labels file {path} not found; fix --claims-real-labels FILE or leave it out "
                      "to use the copy shipped with timm", need=REAL_LABELS_NEED)
    else:
        text = Path(path).read_text()
    table = json.loads(text)
    if not isinstance(table, list) or not all(
            isinstance(row, list) and all(isinstance(c, int) and 0 <= c < 1000 for c in row) for row in table):
        raise Missing(f"{path or 'timm ReaL labels'} is not a ReaL label file (a JSON list of class-index lists)",
                      need=REAL_LABELS_NEED)
    return [tuple(row) for row in table]


def real_labels(ds: Dataset) -> list[tuple[int, ...]]:
    """The ReaL label list of every image of an ``imagenet_real`` dataset, in dataset order."""
    if isinstance(ds, Subset):
        table = real_labels(ds.dataset)
        return [table[i] for i in ds.indices]
    if not isinstance(ds, ImageNetReaL):
        raise TypeError(f"{type(ds).__name__} carries no ReaL labels; open 'imagenet_real'")
    return list(ds.real_labels)


def real_correct(pred_top1: Sequence[int] | np.ndarray, labels: Sequence[Sequence[int]]) -> np.ndarray:
    """Per scored image: is the top-1 prediction one of its ReaL labels (Beyer et al. 2020, ReaL accuracy).

    Images with an empty label list are not scored (REAL_SCORED_IMAGES of the 50,000 are).
    """
    pred = np.asarray(pred_top1)
    if len(pred) != len(labels):
        raise ValueError(f"{len(pred)} predictions for {len(labels)} images")
    return np.array([int(p) in row for p, row in zip(pred, labels) if row], dtype=bool)
