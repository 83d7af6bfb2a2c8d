"""Where the user keeps the datasets, and whether they may be downloaded: what opening a dataset needs to know."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataPaths:
    """The suite builds this from --claims-data, --claims-imagenet, --claims-download, --claims-real-labels."""

    data_root: Path                 # holds cifar-10-batches-py/, cifar-100-python/, oxford-iiit-pet/, flowers-102/
    imagenet_root: Path | None = None  # holds val/<wnid>/*.JPEG; None: not provided (never downloaded)
    download: bool = False          # may torchvision download the small datasets into data_root
    real_labels: Path | None = None  # ReaL labels JSON; None: the copy shipped with timm
    imagenet_boxes: Path | None = None  # ILSVRC-2012 val box XMLs (--claims-imagenet-boxes); None: <imagenet>/bbox
    vtab_root: Path | None = None   # the VTAB-1k task folders bin/prepare-vtab wrote (--claims-vtab); None: not given
