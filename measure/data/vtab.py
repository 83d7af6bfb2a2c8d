"""The 19 VTAB-1k tasks as data, and the reader of the folders `bin/prepare-vtab` writes once from tensorflow-datasets.

Table 9 (App. D.10) prints one accuracy per task; Table 2's VTAB column is their mean. VTAB-1k (Zhai et al. 2019)
trains on 1000 examples per task — `train800` + `val200` — and scores on the task's `test` split. Which examples those
are is VTAB's definition, written here as data (`VtabTask.splits`: the tfds split strings) from the authors'
`google-research/task_adaptation` data classes (`task_adaptation/data/*.py` @ed9b417768c38c38e1fea8194d23442bd78eeafd):
`train800 = train[:800]`, `val200` = the first 200 of VTAB's own validation split, `test` = VTAB's test split. Where
VTAB carves its validation or test split out of a tfds split by percentage, the boundary is written out as the index
it comes to at the tfds size VTAB's code read (`VtabTask.assumes`, checked by the prepare script against the builder).
The 19 tasks and their task_adaptation configurations are VTAB-1k's standard list (e.g. `clevr(task="count_all")`);
the Natural / Specialized / Structured groups are VTAB's, as Fig. 2 groups them.

On disk, one folder per task under the `--claims-vtab` root — the format `bin/prepare-vtab` writes, nothing else::

    <root>/<folder>/manifest.json        {"format": FORMAT, "task": folder, "tfds": {"name", "version", "splits"},
                                          "num_classes", "counts": {split: n}, "label": rule}
    <root>/<folder>/<split>.csv          header "file,label", one row per example in tfds order
    <root>/<folder>/<split>/<i:06d>.png  the decoded image, lossless (RGB; grey tasks tiled to three channels)

A manifest whose splits differ from the definitions here, a missing or extra file, or a split of another size than
VTAB's is refused with what to do (`measure.errors.Missing`): a partial copy never stands in for the paper's data.
Importing this module costs no torch (claim modules parametrize from `VTAB_TASKS` at collection).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from measure.errors import Missing

FORMAT = "vit-claims-vtab-1k/1"
VTAB_OPTION = "--claims-vtab"
SPLITS = ("train800", "val200", "test")
TRAIN_SPLITS = ("train800", "val200")  # VTAB-1k's final runs train on train800 + val200 (1000 examples)
GROUPS = ("Natural", "Specialized", "Structured")
SOURCE = "google-research/task_adaptation task_adaptation/data/{file} @ed9b417768c38c38e1fea8194d23442bd78eeafd"
PREPARE = "bin/prepare-vtab"
NEED = (f"the 19 VTAB-1k task folders: pass {VTAB_OPTION} DIR, a folder written once by `{PREPARE} DIR` "
        f"(tensorflow-datasets, run by you with internet; docs/GPU.md)")


@dataclass(frozen=True)
class VtabTask:
    """One VTAB-1k task: Table 9's column, VTAB's group, and how its examples come out of tensorflow-datasets."""

    folder: str                  # the task's folder under --claims-vtab, and the suffix of its dataset key
    column: str                  # Table 9's column, as paper/numbers.csv spells it
    group: str                   # Natural | Specialized | Structured (VTAB; Fig. 2)
    vtab: str                    # task_adaptation's registry name with its arguments
    tfds: str                    # tfds builder name and the version task_adaptation pins
    splits: dict[str, str]       # train800 / val200 / test -> tfds split string
    num_classes: int
    sizes: dict[str, int]        # examples per split: 800, 200 and the test split's at that version
    source_file: str             # the task_adaptation data class the splits are from
    label: str = "label"         # a feature key, or a rule of LABEL_RULES
    image: str = "rgb"           # an image rule of IMAGE_RULES
    assumes: dict[str, int] = field(default_factory=dict)  # tfds split sizes the written-out boundaries assume
    note: str = ""

    @property
    def key(self) -> str:
        """The dataset key the tier measures (`vtab-caltech101`)."""
        return f"vtab-{self.folder}"

    @property
    def test_size(self) -> int:
        return self.sizes["test"]

    @property
    def source(self) -> str:
        return SOURCE.format(file=self.source_file)


def _task(folder: str, column: str, group: str, vtab: str, tfds: str, val200: str, test: str, num_classes: int,
          test_size: int, source_file: str, **extra: Any) -> VtabTask:
    splits = {"train800": "train[:800]", "val200": val200, "test": test}
    sizes = {"train800": 800, "val200": 200, "test": test_size}
    return VtabTask(folder, column, group, vtab, tfds, splits, num_classes, sizes, source_file, **extra)


_FIRST_200_OF_VALIDATION = "validation[:200]"
# The order is Table 9's columns (paper/numbers.csv), which is VTAB's.
TASKS: tuple[VtabTask, ...] = (
    # Natural
    _task("caltech101", "Caltech101", "Natural", "caltech101", "caltech101:3.*.*", "train[2754:2954]", "test",
          102, 6_084, "caltech.py", assumes={"train": 3_060}, note="val = train[90%:], 90 % of 3060 = 2754"),
    _task("cifar100", "CIFAR-100", "Natural", "cifar(num_classes=100)", "cifar100:3.*.*", "train[45000:45200]",
          "test", 100, 10_000, "cifar.py", assumes={"train": 50_000}, note="val = train[90%:]"),
    _task("dtd", "DTD", "Natural", "dtd", "dtd:3.*.*", _FIRST_200_OF_VALIDATION, "test", 47, 1_880, "dtd.py",
          note="the stored dtd.py predates train800/val200; VTAB's rule for a task with a tfds validation split "
               "(oxford_flowers102.py, kitti.py, ...) is validation[:200]"),
    _task("flowers102", "Flowers102", "Natural", "oxford_flowers102", "oxford_flowers102:2.*.*",
          _FIRST_200_OF_VALIDATION, "test", 102, 6_149, "oxford_flowers102.py"),
    _task("pets", "Pets", "Natural", "oxford_iiit_pet", "oxford_iiit_pet:3.*.*", "train[2944:3144]", "test", 37,
          3_669, "oxford_iiit_pet.py", assumes={"train": 3_680}, note="val = train[80%:], 80 % of 3680 = 2944"),
    _task("sun397", "Sun397", "Natural", "sun397", "sun397/tfds:4.*.*", _FIRST_200_OF_VALIDATION, "test", 397,
          21_750, "sun397.py"),
    _task("svhn", "SVHN", "Natural", "svhn", "svhn_cropped:3.*.*", "train[65931:66131]", "test", 10, 26_032,
          "svhn.py", assumes={"train": 73_257}, note="val = train[90%:], 90 % of 73257 = 65931"),
    # Specialized
    _task("camelyon", "Camelyon", "Specialized", "patch_camelyon", "patch_camelyon:2.*.*", _FIRST_200_OF_VALIDATION,
          "test", 2, 32_768, "patch_camelyon.py"),
    _task("eurosat", "EuroSAT", "Specialized", "eurosat", "eurosat/rgb:2.*.*", "train[16200:16400]",
          "train[21600:]", 10, 5_400, "eurosat.py", assumes={"train": 27_000},
          note="train / val / test = 60 / 20 / 20 % of tfds train"),
    _task("resisc45", "Resisc45", "Specialized", "resisc45", "resisc45:3.*.*", "train[18900:19100]",
          "train[25200:]", 45, 6_300, "resisc45.py", assumes={"train": 31_500},
          note="train / val / test = 60 / 20 / 20 % of tfds train"),
    _task("retinopathy", "Retinopathy", "Specialized", 'diabetic_retinopathy(config="btgraham-300")',
          "diabetic_retinopathy_detection/btgraham-300:3.*.*", _FIRST_200_OF_VALIDATION, "test", 5, 42_670,
          "diabetic_retinopathy.py", note="tfds needs the Kaggle archives downloaded by hand (its manual_dir)"),
    # Structured
    _task("clevr_count", "Clevr-Count", "Structured", 'clevr(task="count_all")', "clevr:3.*.*",
          "train[63000:63200]", "validation", 8, 15_000, "clevr.py", label="clevr_count_all",
          assumes={"train": 70_000}, note="VTAB's test is tfds validation; val = train[90%:]"),
    _task("clevr_dist", "Clevr-Dist", "Structured", 'clevr(task="closest_object_distance")', "clevr:3.*.*",
          "train[63000:63200]", "validation", 6, 15_000, "clevr.py", label="clevr_closest_object_distance",
          assumes={"train": 70_000}, note="VTAB's test is tfds validation; val = train[90%:]"),
    _task("dmlab", "DMLab", "Structured", "dmlab", "dmlab:2.0.1", _FIRST_200_OF_VALIDATION, "test", 6, 22_735,
          "dmlab.py", note="the stored dmlab.py predates train800/val200; validation[:200] as for every task with "
                           "a tfds validation split"),
    _task("dspr_loc", "dSpr-Loc", "Structured", 'dsprites(predicted_attribute="label_x_position",num_classes=16)',
          "dsprites:2.*.*", "train[589824:590024]", "train[663552:]", 16, 73_728, "dsprites.py",
          label="dsprites_x_position_16", image="binary_grey", assumes={"train": 737_280},
          note="train / val / test = 80 / 10 / 10 % of tfds train; 32 positions binned into 16 classes"),
    _task("dspr_ori", "dSpr-Ori", "Structured", 'dsprites(predicted_attribute="label_orientation",num_classes=16)',
          "dsprites:2.*.*", "train[589824:590024]", "train[663552:]", 16, 73_728, "dsprites.py",
          label="dsprites_orientation_16", image="binary_grey", assumes={"train": 737_280},
          note="train / val / test = 80 / 10 / 10 % of tfds train; 40 orientations binned into 16 classes"),
    _task("kitti_dist", "KITTI-Dist", "Structured", 'kitti(task="closest_vehicle_distance")', "kitti:3.1.0",
          _FIRST_200_OF_VALIDATION, "test", 4, 711, "kitti.py", label="kitti_closest_vehicle_distance"),
    _task("snorb_azim", "sNORB-Azim", "Structured", 'smallnorb(predicted_attribute="label_azimuth")',
          "smallnorb:2.*.*", "test[:200]", "test[12150:]", 18, 12_150, "smallnorb.py", label="label_azimuth",
          image="grey", assumes={"test": 24_300}, note="val / test = first / second half of tfds test"),
    _task("snorb_elev", "sNORB-Elev", "Structured", 'smallnorb(predicted_attribute="label_elevation")',
          "smallnorb:2.*.*", "test[:200]", "test[12150:]", 9, 12_150, "smallnorb.py", label="label_elevation",
          image="grey", assumes={"test": 24_300}, note="val / test = first / second half of tfds test"),
)
# Mutable on purpose, like measure.data's DATASETS: tests swap in the sizes of their tiny task folders.
VTAB_TASKS: dict[str, VtabTask] = {task.key: task for task in TASKS}
TASK_KEYS: tuple[str, ...] = tuple(VTAB_TASKS)


def task_for_column(column: str) -> VtabTask:
    """The task of Table 9's column `column` (LookupError naming the columns otherwise)."""
    for task in VTAB_TASKS.values():
        if task.column == column:
            return task
    raise LookupError(f"no VTAB-1k task for Table 9 column {column!r}; columns: "
                      f"{', '.join(t.column for t in VTAB_TASKS.values())}")


def groups() -> dict[str, tuple[str, ...]]:
    """VTAB's groups, each with its task keys in Table 9's order."""
    return {group: tuple(t.key for t in VTAB_TASKS.values() if t.group == group) for group in GROUPS}


# ------------------------------------------------------------------------------------------------
# Labels and images from tfds examples (numpy, as `tfds.as_numpy` yields them): task_adaptation's preprocessing
# functions, the thresholds copied from them. The prepare script applies them; tests check them on hand-made examples.
def _max_index_below(thresholds: list[float], value: float) -> int:
    """task_adaptation's `tf.reduce_max(tf.where((thrs - value) < 0))`: the last threshold below `value`."""
    below = np.flatnonzero(np.asarray(thresholds, dtype=np.float64) - value < 0)
    if below.size == 0:
        raise ValueError(f"{value} is below every threshold {thresholds}")
    return int(below.max())


def _clevr_count_all(example: Mapping[str, Any]) -> int:
    return int(np.size(example["objects"]["size"])) - 3  # clevr.py: 3..10 objects -> 8 classes


def _clevr_closest_object_distance(example: Mapping[str, Any]) -> int:
    distance = float(np.min(np.asarray(example["objects"]["pixel_coords"])[:, 2]))
    return _max_index_below([0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0], distance)


def _kitti_closest_vehicle_distance(example: Mapping[str, Any]) -> int:
    objects = example["objects"]
    vehicles = np.asarray(objects["type"]) < 3  # Car, Van, Truck
    depths = np.concatenate([np.asarray(objects["location"], dtype=np.float64).reshape(-1, 3)[vehicles, 2], [1000.0]])
    return _max_index_below([-100.0, 8.0, 20.0, 999.0], float(depths.min()))  # 3 distances + "no vehicle"


def _dsprites_binned(attribute: str, original: int, classes: int = 16) -> Callable[[Mapping[str, Any]], int]:
    factor = original / classes  # dsprites.py: floordiv(value, num_original_classes / num_classes)

    def rule(example: Mapping[str, Any]) -> int:
        return int(np.floor(float(example[attribute]) / factor))

    return rule


LABEL_RULES: dict[str, Callable[[Mapping[str, Any]], int]] = {
    "clevr_count_all": _clevr_count_all,
    "clevr_closest_object_distance": _clevr_closest_object_distance,
    "kitti_closest_vehicle_distance": _kitti_closest_vehicle_distance,
    "dsprites_x_position_16": _dsprites_binned("label_x_position", 32),
    "dsprites_orientation_16": _dsprites_binned("label_orientation", 40),
}

IMAGE_RULES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "rgb": lambda image: np.asarray(image, dtype=np.uint8),
    # smallnorb.py tiles the grey channel to three; dsprites.py also scales its 0/1 pixels to 0/255
    "grey": lambda image: np.repeat(np.asarray(image, dtype=np.uint8).reshape(*np.shape(image)[:2], 1), 3, axis=2),
    "binary_grey": lambda image: np.repeat(
        (np.asarray(image, dtype=np.uint8) * 255).reshape(*np.shape(image)[:2], 1), 3, axis=2),
}


def example_label(task: VtabTask, example: Mapping[str, Any]) -> int:
    """`task`'s label of one tfds example, in [0, num_classes)."""
    rule = LABEL_RULES.get(task.label)
    label = rule(example) if rule is not None else int(example[task.label])
    if not 0 <= label < task.num_classes:
        raise ValueError(f"{task.column}: label {label} outside [0, {task.num_classes})")
    return label


def example_image(task: VtabTask, example: Mapping[str, Any]) -> np.ndarray:
    """`task`'s image of one tfds example as an H x W x 3 uint8 array."""
    image = IMAGE_RULES[task.image](example["image"])
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{task.column}: expected an RGB image, got shape {image.shape}")
    return image


# ------------------------------------------------------------------------------------------------
# Writing a task folder (bin/prepare-vtab feeds it tfds examples; tests feed it hand-made ones: one format)
def write_task_folder(root: Path, task: VtabTask, examples: Mapping[str, Any], tfds_version: str) -> Path:
    """Write `task`'s folder under `root` from `examples` (split -> iterable of tfds-style example dicts, in tfds
    order), labels and images through the task's rules. Written beside and renamed into place at the end, so an
    interrupted run never leaves a folder that reads as complete."""
    import shutil

    from PIL import Image

    final = Path(root) / task.folder
    partial = Path(root) / f".{task.folder}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    counts: dict[str, int] = {}
    for split in SPLITS:
        (partial / split).mkdir()
        with (partial / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label"])
            n = 0
            for n, example in enumerate(examples[split], start=1):
                name = f"{n - 1:06d}.png"
                Image.fromarray(example_image(task, example)).save(partial / split / name)
                writer.writerow([name, example_label(task, example)])
        counts[split] = n
    manifest = {"format": FORMAT, "task": task.folder, "column": task.column, "group": task.group,
                "vtab": task.vtab, "num_classes": task.num_classes, "label": task.label, "image": task.image,
                "tfds": {"name": task.tfds.split(":")[0], "version": tfds_version, "splits": task.splits},
                "counts": counts, "source": task.source, "written_by": PREPARE}
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return final


# ------------------------------------------------------------------------------------------------
# Reading the prepared folders
class VtabSplit:
    """One split of one prepared task folder, as a torch-style dataset of (transformed PIL image, label).

    `root`, `samples` and `targets` as torchvision's ImageFolder keeps them, so the suite's label reader and
    content fingerprint (`measure.data.opening.dataset_labels`, `measure.data.fingerprint`) read it unchanged."""

    def __init__(self, root: Path, samples: list[tuple[str, int]], transform: Callable | None = None) -> None:
        self.root = str(root)
        self.samples = samples
        self.targets = [label for _, label in samples]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        path, label = self.samples[index]
        with Image.open(path) as image:
            image = image.convert("RGB")
        return (self.transform(image) if self.transform is not None else image), label


def task_folder(root: Path | None, task: VtabTask) -> Path:
    """The folder of `task` under the --claims-vtab root, or Missing saying how to make it."""
    if root is None:
        raise Missing(f"VTAB-1k: no task folders given; write the 19 task folders once with "
                      f"`{PREPARE} DIR` (needs tensorflow-datasets and internet) and pass {VTAB_OPTION} DIR",
                      need=NEED)
    folder = Path(root) / task.folder
    if not (folder / "manifest.json").is_file():
        raise Missing(f"VTAB-1k {task.column}: no {task.folder}/manifest.json under {root}; write it with "
                      f"`{PREPARE} {root} --tasks {task.folder}`", need=NEED)
    return folder


def read_manifest(folder: Path, task: VtabTask) -> dict[str, Any]:
    """The manifest of `folder`, checked against `task`'s definition (format, task, splits, classes)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    redo = f"delete {folder} and write it again with `{PREPARE} {folder.parent} --tasks {task.folder}`"
    if manifest.get("format") != FORMAT:
        raise Missing(f"VTAB-1k {task.column}: {folder} is in format {manifest.get('format')!r}, not {FORMAT!r}; "
                      f"{redo}", need=NEED)
    written = (manifest.get("task"), manifest.get("tfds", {}).get("splits"), manifest.get("num_classes"))
    if written != (task.folder, task.splits, task.num_classes):
        raise Missing(f"VTAB-1k {task.column}: {folder} holds task {written[0]!r} with splits {written[1]} and "
                      f"{written[2]} classes, not VTAB's {task.splits} and {task.num_classes}; {redo}", need=NEED)
    return manifest


def open_split(root: Path | None, task: VtabTask, split: str, transform: Callable | None = None) -> VtabSplit:
    """`split` of `task` from its prepared folder: every file present, every label in range, and exactly VTAB's
    number of examples (800, 200, the test split's size) — else Missing saying what to do."""
    if split not in SPLITS:
        raise ValueError(f"VTAB-1k splits are {', '.join(SPLITS)}, not {split!r}")
    folder = task_folder(root, task)
    manifest = read_manifest(folder, task)
    listing = folder / f"{split}.csv"
    redo = f"write it again with `{PREPARE} {folder.parent} --tasks {task.folder}`"
    if not listing.is_file():
        raise Missing(f"VTAB-1k {task.column}: {listing} is missing; {redo}", need=NEED)
    with listing.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    samples = [(str(folder / split / row["file"]), int(row["label"])) for row in rows]
    expected = task.sizes[split]
    if len(samples) != expected or manifest.get("counts", {}).get(split) != expected:
        raise Missing(f"VTAB-1k {task.column} {split}: {len(samples):,} examples listed (manifest: "
                      f"{manifest.get('counts', {}).get(split)}), VTAB's split has {expected:,}; {redo}", need=NEED)
    absent = [path for path, _ in samples if not Path(path).is_file()]
    if absent:
        raise Missing(f"VTAB-1k {task.column} {split}: {len(absent)} listed images are missing (first: {absent[0]}); "
                      f"{redo}", need=NEED)
    outside = sorted({label for _, label in samples if not 0 <= label < task.num_classes})
    if outside:
        raise Missing(f"VTAB-1k {task.column} {split}: labels {outside[:5]} outside [0, {task.num_classes}); {redo}",
                      need=NEED)
    return VtabSplit(folder / split, samples, transform)


def open_training_set(root: Path | None, task: VtabTask, transform: Callable | None = None) -> Any:
    """VTAB-1k's 1000 training examples: train800 then val200 (task_adaptation's `train800val200`)."""
    from torch.utils.data import ConcatDataset

    return ConcatDataset([open_split(root, task, split, transform) for split in TRAIN_SPLITS])
