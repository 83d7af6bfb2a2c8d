"""Tiny datasets written in the exact on-disk formats of the real ones, for offline tests.

Each builder writes what the real archive extracts to (CIFAR python pickles, the Oxford-IIIT Pet
and Flowers-102 folders, ImageNet val and train class folders, a ReaL labels JSON) and returns a
:class:`FakeDataset` with the labels it wrote, so a test can compare what the loaders read back.

Images are really encoded (PIL JPEG/PNG) and carry their class: each class has its own colour plus
noise, so a linear probe on a tiny model can learn them.

torchvision md5-checks the CIFAR batches and the Flowers ``.mat`` files against the real
archives' checksums, which fake files cannot match. :func:`accept_fake_checksums` swaps
torchvision's expected-md5 table for the md5s of the files just written (for one test, through
``monkeypatch``), so torchvision's own check still runs — and still rejects a file changed later.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
from PIL import Image
from torchvision import datasets as tvd
from torchvision.datasets.utils import calculate_md5

from measure.data.imagenet import imagenet_wnids

IMAGENET_WNIDS = imagenet_wnids()  # the standard 1000-class order the fake val folders are named in

CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# The 37 breeds in the order of their class ids (1..37): case-insensitive alphabetical, cats capitalised.
PET_BREEDS = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "Bengal", "Birman",
    "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau", "english_cocker_spaniel", "english_setter",
    "german_shorthaired", "great_pyrenees", "havanese", "japanese_chin", "keeshond", "leonberger", "Maine_Coon",
    "miniature_pinscher", "newfoundland", "Persian", "pomeranian", "pug", "Ragdoll", "Russian_Blue", "saint_bernard",
    "samoyed", "scottish_terrier", "shiba_inu", "Siamese", "Sphynx", "staffordshire_bull_terrier", "wheaten_terrier",
    "yorkshire_terrier",
)


@dataclass(frozen=True)
class FakeDataset:
    name: str
    root: Path                          # what --claims-data (or --claims-imagenet) points at
    labels: dict[str, list[int]]        # split -> labels in the order the loader reads them
    files: dict[str, list[str]] = field(default_factory=dict)  # split -> file names in that order
    patches: tuple[tuple[type, str, Any], ...] = ()  # torchvision md5 tables that accept these files


def accept_fake_checksums(monkeypatch: pytest.MonkeyPatch, fake: FakeDataset) -> None:
    """Make torchvision's integrity check expect the md5s of ``fake``'s files (undone after the test)."""
    for cls, attribute, value in fake.patches:
        monkeypatch.setattr(cls, attribute, value)


def class_image(label: int, size: tuple[int, int], rng: np.random.Generator, num_classes: int) -> np.ndarray:
    """An HxWx3 uint8 image whose colour says its class (a fixed palette) plus noise."""
    palette = np.random.default_rng(12345).integers(0, 256, size=(num_classes, 3))
    noise = rng.integers(-20, 21, size=(*size, 3))
    return np.clip(palette[label] + noise, 0, 255).astype(np.uint8)


def _save_jpeg(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="JPEG", quality=90)


def _balanced_labels(n: int, num_classes: int, rng: np.random.Generator) -> list[int]:
    return rng.permutation(np.arange(n) % num_classes).tolist()


# ------------------------------------------------------------------------------------------------
def write_cifar(root: Path, name: str = "cifar10", per_batch: int = 20, n_test: int = 20, seed: int = 0) -> FakeDataset:
    """CIFAR-10 (5 train batches + test_batch + batches.meta) or CIFAR-100 (train, test, meta) pickles.

    Same dicts as the real python-version archives: ``data`` uint8 N x 3072 (R, G, B planes, each
    32x32 row-major), ``labels`` (CIFAR-10) or ``fine_labels``/``coarse_labels`` (CIFAR-100).
    """
    rng = np.random.default_rng(seed)
    cls = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[name]
    num_classes = 10 if name == "cifar10" else 100
    folder = root / cls.base_folder
    folder.mkdir(parents=True, exist_ok=True)

    def batch(n: int, batch_label: str) -> tuple[dict[str, Any], list[int]]:
        labels = _balanced_labels(n, num_classes, rng)
        images = [class_image(label, (32, 32), rng, num_classes) for label in labels]
        data = np.stack([image.transpose(2, 0, 1).reshape(3072) for image in images]).astype(np.uint8)
        entry: dict[str, Any] = {"batch_label": batch_label, "data": data,
                                 "filenames": [f"fake_{batch_label.split()[0]}_{i:05d}.png" for i in range(n)]}
        if name == "cifar10":
            entry["labels"] = labels
        else:
            entry["fine_labels"], entry["coarse_labels"] = labels, [label // 5 for label in labels]
        return entry, labels

    def dump(obj: Any, file_name: str) -> None:
        with open(folder / file_name, "wb") as f:
            pickle.dump(obj, f, protocol=2)  # the real files are Python 2 pickles (protocol 2)

    train_names = [file_name for file_name, _ in cls.train_list]
    labels: dict[str, list[int]] = {"train": [], "test": []}
    n_train = per_batch if name == "cifar10" else per_batch * 5  # CIFAR-100 keeps train in one file
    for i, file_name in enumerate(train_names, 1):
        entry, batch_labels = batch(n_train, f"training batch {i} of {len(train_names)}")
        dump(entry, file_name)
        labels["train"] += batch_labels
    entry, labels["test"] = batch(n_test, "testing batch 1 of 1")
    dump(entry, cls.test_list[0][0])
    if name == "cifar10":
        meta = {"num_cases_per_batch": 10000, "label_names": list(CIFAR10_NAMES), "num_vis": 3072}
    else:  # placeholder names: the format, not the vocabulary, is under test
        meta = {"fine_label_names": [f"fine_{i:03d}" for i in range(100)],
                "coarse_label_names": [f"coarse_{i:02d}" for i in range(20)]}
    dump(meta, cls.meta["filename"])

    md5 = {file_name: calculate_md5(folder / file_name)
           for file_name in [*train_names, cls.test_list[0][0], cls.meta["filename"]]}
    patches = (
        (cls, "train_list", [[file_name, md5[file_name]] for file_name in train_names]),
        (cls, "test_list", [[cls.test_list[0][0], md5[cls.test_list[0][0]]]]),
        (cls, "meta", {**cls.meta, "md5": md5[cls.meta["filename"]]}),
    )
    return FakeDataset(name, root, labels, patches=patches)


def write_pets(root: Path, per_class_trainval: int = 2, per_class_test: int = 1, seed: int = 0) -> FakeDataset:
    """``oxford-iiit-pet/images/<Breed>_<n>.jpg`` + ``annotations/{list,trainval,test}.txt`` + trimaps.

    Annotation lines are "<image> <class id 1-37> <species 1 cat, 2 dog> <breed id within species>".
    """
    rng = np.random.default_rng(seed)
    base = root / "oxford-iiit-pet"
    annotations = base / "annotations"
    (annotations / "trimaps").mkdir(parents=True, exist_ok=True)
    cats = [breed for breed in PET_BREEDS if breed[0].isupper()]
    dogs = [breed for breed in PET_BREEDS if breed[0].islower()]
    lines: dict[str, list[str]] = {"trainval": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    files: dict[str, list[str]] = {"train": [], "test": []}
    for class_id, breed in enumerate(PET_BREEDS, 1):
        species, breed_id = (1, cats.index(breed) + 1) if breed in cats else (2, dogs.index(breed) + 1)
        for number in range(1, per_class_trainval + per_class_test + 1):
            image_id = f"{breed}_{number}"
            split = "trainval" if number <= per_class_trainval else "test"
            size = (int(rng.integers(30, 50)), int(rng.integers(30, 50)))  # real pets are not square
            _save_jpeg(class_image(class_id - 1, size, rng, len(PET_BREEDS)), base / "images" / f"{image_id}.jpg")
            trimap = np.full(size, 2, dtype=np.uint8)  # 1 pet, 2 background, 3 border, as in the real PNGs
            trimap[size[0] // 4: -size[0] // 4, size[1] // 4: -size[1] // 4] = 1
            Image.fromarray(trimap, mode="L").save(annotations / "trimaps" / f"{image_id}.png")
            lines[split].append(f"{image_id} {class_id} {species} {breed_id}")
            ours = "train" if split == "trainval" else "test"
            labels[ours].append(class_id - 1)
            files[ours].append(f"{image_id}.jpg")
    for split, split_lines in lines.items():
        (annotations / f"{split}.txt").write_text("\n".join(split_lines) + "\n")
    header = ("#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
              "#BREED ID: 1-25:Cat 1:12:Dog\n")
    (annotations / "list.txt").write_text(header + "\n".join(lines["trainval"] + lines["test"]) + "\n")
    return FakeDataset("pets", root, labels, files)


def write_flowers(root: Path, per_class: tuple[int, int, int] = (1, 1, 1), seed: int = 0) -> FakeDataset:
    """``flowers-102/jpg/image_00001.jpg …`` + ``imagelabels.mat`` (labels 1-102) + ``setid.mat``.

    ``per_class`` = images per class in trnid, valid, tstid. Image ids are shuffled across classes
    and splits, as in the real files. Our ``train`` split reads trnid then valid.
    """
    rng = np.random.default_rng(seed)
    base = root / "flowers-102"
    n_per_class = sum(per_class)
    class_of_image = rng.permutation(np.repeat(np.arange(102), n_per_class))  # index i -> image id i + 1
    set_ids: dict[str, list[int]] = {"trnid": [], "valid": [], "tstid": []}
    for label in range(102):
        ids = (np.flatnonzero(class_of_image == label) + 1).tolist()
        set_ids["trnid"] += ids[: per_class[0]]
        set_ids["valid"] += ids[per_class[0]: per_class[0] + per_class[1]]
        set_ids["tstid"] += ids[per_class[0] + per_class[1]:]
    set_ids = {key: rng.permutation(ids).tolist() for key, ids in set_ids.items()}
    for image_id, label in enumerate(class_of_image, 1):
        size = (int(rng.integers(30, 50)), int(rng.integers(30, 50)))
        _save_jpeg(class_image(int(label), size, rng, 102), base / "jpg" / f"image_{image_id:05d}.jpg")
    # Real files: labels 1 x 8189 uint8; trnid/valid/tstid 1 x k uint16 (MATLAB v5, as savemat writes).
    scipy.io.savemat(base / "imagelabels.mat", {"labels": (class_of_image + 1).astype(np.uint8)[None, :]})
    scipy.io.savemat(base / "setid.mat",
                     {key: np.asarray(ids, dtype=np.uint16)[None, :] for key, ids in set_ids.items()})

    label_of = {image_id: int(label) for image_id, label in enumerate(class_of_image, 1)}
    train_ids, test_ids = set_ids["trnid"] + set_ids["valid"], set_ids["tstid"]
    labels = {"train": [label_of[i] for i in train_ids], "test": [label_of[i] for i in test_ids]}
    files = {split: [f"image_{i:05d}.jpg" for i in ids] for split, ids in (("train", train_ids), ("test", test_ids))}
    file_dict = dict(tvd.Flowers102._file_dict)
    for key in ("label", "setid"):
        file_name = file_dict[key][0]
        file_dict[key] = (file_name, calculate_md5(base / file_name))
    return FakeDataset("flowers102", root, labels, files, patches=((tvd.Flowers102, "_file_dict", file_dict),))


def write_imagenet_val(root: Path, wnids: tuple[str, ...] = (IMAGENET_WNIDS[0], IMAGENET_WNIDS[281],
                                                             IMAGENET_WNIDS[999]),
                       per_class: int = 2, seed: int = 0) -> FakeDataset:
    """``val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG``; file numbers are spread across classes as in the real set.

    Labels are the standard 1000-class indices (position of the wnid in the sorted wnid list).
    """
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(np.arange(1, len(wnids) * per_class + 1)).reshape(len(wnids), per_class)
    for wnid, row in zip(wnids, numbers):
        for number in row:
            size = (int(rng.integers(30, 50)), int(rng.integers(30, 50)))
            image = class_image(IMAGENET_WNIDS.index(wnid), size, rng, 1000)
            _save_jpeg(image, root / "val" / wnid / f"ILSVRC2012_val_{number:08d}.JPEG")
    ordered = sorted((wnid, f"ILSVRC2012_val_{number:08d}.JPEG") for wnid, row in zip(wnids, numbers) for number in row)
    labels = {"val": [IMAGENET_WNIDS.index(wnid) for wnid, _ in ordered]}
    return FakeDataset("imagenet", root, labels, {"val": [file_name for _, file_name in ordered]})


def write_imagenet_train(root: Path, wnids: tuple[str, ...] = (IMAGENET_WNIDS[0], IMAGENET_WNIDS[281],
                                                               IMAGENET_WNIDS[999]),
                         per_class: int = 17, seed: int = 1) -> FakeDataset:
    """``train/<wnid>/<wnid>_<n>.JPEG``, as the official per-class tarballs of ILSVRC2012_img_train.tar extract.

    Labels are the standard 1000-class indices. 3 x 17 = 51 images by default: the fewest from which App. B.1.1's
    1 % development split holds out an image (TFDS rounding), so the lr sweep has something to judge.
    """
    rng = np.random.default_rng(seed)
    files = []
    for wnid in wnids:
        for number in sorted(rng.choice(np.arange(1, 20_000), size=per_class, replace=False)):
            size = (int(rng.integers(30, 50)), int(rng.integers(30, 50)))
            image = class_image(IMAGENET_WNIDS.index(wnid), size, rng, 1000)
            name = f"{wnid}_{number}.JPEG"
            _save_jpeg(image, root / "train" / wnid / name)
            files.append((wnid, name))
    ordered = sorted(files)
    labels = {"train": [IMAGENET_WNIDS.index(wnid) for wnid, _ in ordered]}
    return FakeDataset("imagenet", root, labels, {"train": [name for _, name in ordered]})


def write_real_labels(path: Path, labels: dict[int, list[int]], total: int = 50_000) -> Path:
    """A ReaL ``real.json``: a list of ``total`` class-index lists, entry i for ILSVRC2012_val_{i+1:08d}."""
    table = [labels.get(number, []) for number in range(1, total + 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table))
    return path
