"""The paper's datasets as data: where each lives, how it is split, how big the real splits are.

One `DatasetSpec` per paper/numbers.csv dataset key. The loader is named, not imported (a
``module:Class`` path that `measure.data.opening` resolves), so importing the catalog costs no torch.
The development sub-split of each training set (App. B.1.1) is read from paper/numbers.csv; the
fine-tuning recipe takes it from here.
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass

import paper

DATA_OPTION, IMAGENET_OPTION = "--claims-data", "--claims-imagenet"
# One need for ImageNet and ImageNet-ReaL: both read the same folder.
IMAGENET_NEED = ("ILSVRC-2012 validation images (ImageNet and ReaL): pass --claims-imagenet DIR, a folder "
                 "holding val/<wnid>/*.JPEG (50,000 images in 1,000 class folders)")
# Fine-tuning on ImageNet (Table 2, Table 5 where no fine-tune was released) reads the training images too.
IMAGENET_TRAIN_NEED = ("ILSVRC-2012 training images (ImageNet fine-tuning): pass --claims-imagenet DIR, a folder "
                       "holding train/<wnid>/*.JPEG (1,281,167 images in 1,000 class folders) beside val/")
REAL_SCORED_IMAGES = 46_837  # images with a non-empty ReaL label list (Beyer et al. 2020)
IMAGENET_SIZES = {"val": 50_000, "train": 1_281_167}  # ILSVRC-2012 (tests may swap the spec's sizes, never these)

__all__ = ["DATASETS", "DATA_OPTION", "IMAGENET_NEED", "IMAGENET_OPTION", "IMAGENET_SIZES", "IMAGENET_TRAIN_NEED",
           "REAL_SCORED_IMAGES", "DatasetSpec", "dataset_spec", "held_out_fraction", "is_complete"]


def _development_split(row: str) -> float:
    # App. B.1.1 names the development splits "Pets", "Flowers", "CIFAR" (one value for both) and "ImageNet".
    return paper.number(table="Appendix B.1.1", row=row, column="development split of the training set").value / 100


@dataclass(frozen=True)
class DatasetSpec:
    name: str                        # canonical dataset key of paper/numbers.csv
    title: str                       # as the paper prints it (used in messages)
    loader: str                      # "module:Class" that reads the on-disk format (torchvision's own classes)
    folder: str                      # under the root option
    root_option: str                 # the command-line option that says where the root is
    splits: dict[str, tuple[str, ...]]  # our split -> the loader's split(s), concatenated in order
    sizes: dict[str, int]            # images per split in the complete real dataset
    num_classes: int
    held_out_fraction: float | None  # App. B.1.1's development sub-split of the training set (lr selection)
    note: str = ""

    @property
    def need(self) -> str:
        """What to provide when this dataset is missing or broken: the same text on every machine (reports group by it)."""
        if self.root_option == IMAGENET_OPTION:
            return IMAGENET_NEED
        return (f"{self.title} not found under --claims-data DIR, or incomplete: a complete, intact copy as "
                f"{self.folder}/ there, or run with --claims-download")

    def need_for(self, split: str) -> str:
        """`need` for one split: ImageNet's training images are a need of their own (only fine-tuning reads them)."""
        return IMAGENET_TRAIN_NEED if self.root_option == IMAGENET_OPTION and split == "train" else self.need


# ImageNet needs --claims-imagenet and is never downloaded; the others are fetched by --claims-download.
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("cifar10", "CIFAR-10", "torchvision.datasets:CIFAR10", "cifar-10-batches-py", DATA_OPTION,
                {"train": ("train",), "test": ("test",)}, {"train": 50_000, "test": 10_000}, 10,
                _development_split("CIFAR")),
    DatasetSpec("cifar100", "CIFAR-100", "torchvision.datasets:CIFAR100", "cifar-100-python", DATA_OPTION,
                {"train": ("train",), "test": ("test",)}, {"train": 50_000, "test": 10_000}, 100,
                _development_split("CIFAR")),
    DatasetSpec("pets", "Oxford-IIIT Pets", "torchvision.datasets:OxfordIIITPet", "oxford-iiit-pet", DATA_OPTION,
                {"train": ("trainval",), "test": ("test",)}, {"train": 3_680, "test": 3_669}, 37,
                _development_split("Pets"), "train = the official trainval list; labels are the 37 breeds"),
    DatasetSpec("flowers102", "Oxford Flowers-102", "torchvision.datasets:Flowers102", "flowers-102", DATA_OPTION,
                {"train": ("train", "val"), "test": ("test",)}, {"train": 2_040, "test": 6_149}, 102,
                _development_split("Flowers"),
                "train = trnid + valid of setid.mat (BiT/VTAB 'trainval' convention, 2,040 images); the paper "
                "does not print its split, and the authors' later big_vision configs train on trnid alone"),
    DatasetSpec("imagenet", "ImageNet", "measure.data.imagenet:ImageNetVal", "val", IMAGENET_OPTION,
                {"val": ("val",), "train": ("train",)}, dict(IMAGENET_SIZES), 1000,
                _development_split("ImageNet"),
                "val/ for evaluation; train/ (ILSVRC-2012 training images) only for fine-tuning, whose lr sweep holds "
                "out 1 % of it (App. B.1.1); each split is the folder of its name under --claims-imagenet"),
    DatasetSpec("imagenet_real", "ImageNet ReaL", "measure.data.imagenet:ImageNetReaL", "val", IMAGENET_OPTION,
                {"val": ("val",)}, {"val": 50_000}, 1000, None,
                "same images and order as imagenet/val; 46,837 of them carry ReaL labels and are scored"),
)}


def dataset_spec(name: str) -> DatasetSpec:
    """The catalog row of `name`; LookupError listing the known names otherwise."""
    if name not in DATASETS:
        raise LookupError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def held_out_fraction(dataset: str) -> float | None:
    """App. B.1.1's development sub-split of `dataset`'s training set (0.1 = 10 %); None if it names none."""
    return dataset_spec(dataset).held_out_fraction


def is_complete(name: str, split: str, ds: Sized) -> bool:
    """Whether ``ds`` has every image of the real split (a partial copy must not stand in for the paper's)."""
    return len(ds) == dataset_spec(name).sizes[split]
