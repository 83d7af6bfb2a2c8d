"""Dataset fixtures: read the real on-disk formats, refuse what is missing or corrupt, split as the paper does."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import timm
import torch
from torch.utils.data import Subset
from torchvision import datasets as tvd
from torchvision import transforms as T

from measure.data.datasets import DATASETS, REAL_SCORED_IMAGES, held_out_fraction, is_complete
from measure.data.imagenet import imagenet_wnids, load_real_labels, real_correct, real_labels
from measure.data.opening import DatasetCorrupt, DatasetOpener, dataset_labels, loader_class, open_dataset
from measure.data.paths import DataPaths
from measure.data.splits import held_out_split
from measure.data.transforms import make_eval_transform
from measure.errors import Missing
from tests.fake_datasets import (
    FakeDataset,
    accept_fake_checksums,
    write_cifar,
    write_flowers,
    write_imagenet_val,
    write_pets,
    write_real_labels,
)

WRITERS = {"cifar10": lambda root: write_cifar(root, "cifar10"), "cifar100": lambda root: write_cifar(root, "cifar100"),
           "pets": write_pets, "flowers102": write_flowers}
SMALL = sorted(WRITERS)


def options(data_root: Path, *, imagenet: Path | None = None, download: bool = False,
            real: Path | None = None) -> DataPaths:
    return DataPaths(data_root=data_root, imagenet_root=imagenet, download=download, real_labels=real)


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FakeDataset]:
    root = tmp_path_factory.mktemp("data")
    built = {name: write(root) for name, write in WRITERS.items()}
    built["imagenet"] = write_imagenet_val(tmp_path_factory.mktemp("imagenet"))
    return built


@pytest.fixture
def trusted(fakes: dict[str, FakeDataset], monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeDataset]:
    for fake in fakes.values():
        accept_fake_checksums(monkeypatch, fake)
    return fakes


# --- the spec table ------------------------------------------------------------------------------
def test_spec_table_holds_the_papers_dev_fractions_and_real_split_sizes() -> None:
    # App. B.1.1: "10% for Pets and Flowers, 2% for CIFAR, 1% ImageNet" — read from paper/numbers.csv;
    # the fine-tuning recipe takes it from this table.
    assert {name: held_out_fraction(name) for name in DATASETS} == {
        "cifar10": 0.02, "cifar100": 0.02, "pets": 0.10, "flowers102": 0.10, "imagenet": 0.01, "imagenet_real": None}
    assert {name: spec.num_classes for name, spec in DATASETS.items()} == {
        "cifar10": 10, "cifar100": 100, "pets": 37, "flowers102": 102, "imagenet": 1000, "imagenet_real": 1000}
    assert DATASETS["flowers102"].sizes == {"train": 1020 + 1020, "test": 6149}
    assert DATASETS["pets"].sizes == {"train": 3680, "test": 3669}
    assert DATASETS["cifar10"].folder == tvd.CIFAR10.base_folder
    assert DATASETS["cifar100"].folder == tvd.CIFAR100.base_folder


# --- each format, read back ----------------------------------------------------------------------
@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("split", ["train", "test"])
def test_small_dataset_reads_back_the_labels_it_was_written_with(trusted, name: str, split: str) -> None:
    fake = trusted[name]
    ds = open_dataset(name, split, options(fake.root), None)
    labels = dataset_labels(ds)
    assert labels.tolist() == fake.labels[split]
    assert len(ds) == len(fake.labels[split])
    assert [ds[i][1] for i in (0, len(ds) - 1)] == [labels[0], labels[-1]]
    assert isinstance(ds[0][0], PIL.Image.Image) and ds[0][0].mode == "RGB"
    assert not is_complete(name, split, ds)  # a tiny copy never passes for the real split
    if split == "train":  # every class is present in the fake training sets
        assert set(labels.tolist()) == set(range(DATASETS[name].num_classes))


def test_cifar_pixels_come_back_in_the_layout_they_were_pickled(trusted) -> None:
    import pickle

    fake = trusted["cifar10"]
    with open(fake.root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        row = pickle.load(f, encoding="latin1")["data"][0]
    image = np.asarray(open_dataset("cifar10", "train", options(fake.root), None)[0][0])
    assert np.array_equal(image, row.reshape(3, 32, 32).transpose(1, 2, 0))


def test_flowers_train_is_trnid_then_valid_and_test_is_tstid(trusted) -> None:
    fake = trusted["flowers102"]
    train = open_dataset("flowers102", "train", options(fake.root), None)
    names = [p.name for part in train.datasets for p in part._image_files]
    assert names == fake.files["train"] and len(train) == 2 * 102
    test = open_dataset("flowers102", "test", options(fake.root), None)
    assert [p.name for p in test._image_files] == fake.files["test"]


def test_labels_are_read_without_decoding_a_single_image(trusted, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = {name: open_dataset(name, "train", options(trusted[name].root), None) for name in SMALL}
    opened["imagenet"] = open_dataset("imagenet", "val", options(Path("/nonexistent"),
                                                                 imagenet=trusted["imagenet"].root), None)

    def refuse(*args, **kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(PIL.Image, "open", refuse)
    monkeypatch.setattr(PIL.Image, "fromarray", refuse)
    for name, ds in opened.items():
        split = "val" if name == "imagenet" else "train"
        assert dataset_labels(ds).tolist() == trusted[name].labels[split]
    subset = Subset(opened["pets"], [3, 0, 5])
    assert dataset_labels(subset).tolist() == [trusted["pets"].labels["train"][i] for i in (3, 0, 5)]
    with pytest.raises(AssertionError, match="decoded"):
        opened["pets"][0]  # the guard above really stops decoding


# --- preprocessing -------------------------------------------------------------------------------
@pytest.mark.parametrize("tag, size", [("vit_base_patch16_384.orig_in21k_ft_in1k", 384),
                                       ("resnetv2_152x2_bit.goog_in21k", 224)])
def test_eval_transform_follows_the_checkpoints_own_config(trusted, tag: str, size: int) -> None:
    config = timm.models.get_pretrained_cfg(tag).to_dict()  # the whole pretrained cfg, hub ids and all
    transform = make_eval_transform(config)
    normalize = next(t for t in transform.transforms if isinstance(t, T.Normalize))
    assert tuple(normalize.mean.tolist()) == config["mean"] and tuple(normalize.std.tolist()) == config["std"]
    resize = next(t for t in transform.transforms if isinstance(t, T.Resize))
    assert resize.interpolation.value == config["interpolation"]
    for name in ("pets", "cifar10"):  # non-square photos and 32x32 CIFAR both become the model's input
        image, _ = open_dataset(name, "test", options(trusted[name].root), transform)[0]
        assert isinstance(image, torch.Tensor) and tuple(image.shape) == (3, size, size)
    image, _ = open_dataset("pets", "test", options(trusted["pets"].root), make_eval_transform(config, 160))[0]
    assert tuple(image.shape) == (3, 160, 160)


# --- missing, corrupt, download ------------------------------------------------------------------
@pytest.mark.parametrize("name", SMALL)
def test_missing_dataset_names_the_folder_and_the_flags(tmp_path: Path, name: str) -> None:
    with pytest.raises(Missing) as info:
        open_dataset(name, "train", options(tmp_path), None)
    message = str(info.value)
    assert f"not found under {tmp_path / DATASETS[name].folder};" in message
    assert "--claims-download" in message and "--claims-data DIR" in message
    # the grouped "what to provide" is the same on every machine: no path of this one
    assert info.value.need == DATASETS[name].need and str(tmp_path) not in info.value.need
    assert "--claims-download" in info.value.need and DATASETS[name].folder in info.value.need


def _fake_download(monkeypatch: pytest.MonkeyPatch, name: str, calls: list[Path], fail: bool = False) -> None:
    """Replace torchvision's download method by one that 'downloads' fake files (no network)."""
    cls = loader_class(DATASETS[name])
    method = "_download" if cls is tvd.OxfordIIITPet else "download"

    def download(self) -> None:
        calls.append(Path(self.root))
        if fail:
            raise urllib.error.URLError("no network")
        accept_fake_checksums(monkeypatch, WRITERS[name](Path(self.root)))

    monkeypatch.setattr(cls, method, download)


@pytest.mark.parametrize("name", ["cifar100", "pets", "flowers102"])
def test_download_happens_only_with_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    calls: list[Path] = []
    _fake_download(monkeypatch, name, calls)
    with pytest.raises(Missing, match="--claims-download"):
        open_dataset(name, "train", options(tmp_path), None)
    assert calls == []
    ds = open_dataset(name, "train", options(tmp_path, download=True), None)
    assert calls == [tmp_path] and len(ds) > 0
    open_dataset(name, "test", options(tmp_path, download=True), None)
    assert calls == [tmp_path]  # already there: not fetched again


def test_failed_download_is_a_missing_resource(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    _fake_download(monkeypatch, "cifar10", calls, fail=True)
    with pytest.raises(Missing, match=r"download into .*cifar-10-batches-py failed \(.*no network"):
        open_dataset("cifar10", "test", options(tmp_path, download=True), None)
    assert calls == [tmp_path]


def test_real_md5_table_rejects_files_that_are_not_the_real_archive(tmp_path: Path) -> None:
    # No accept_fake_checksums: torchvision's real md5s apply, exactly as for a user's download.
    write_cifar(tmp_path, "cifar10")
    write_flowers(tmp_path)
    with pytest.raises(DatasetCorrupt, match=r"CIFAR-10 under .*failed torchvision's md5 check \(data_batch_1"):
        open_dataset("cifar10", "test", options(tmp_path), None)
    with pytest.raises(DatasetCorrupt, match=r"imagelabels\.mat, setid\.mat"):
        open_dataset("flowers102", "test", options(tmp_path), None)


@pytest.mark.parametrize("name, file_name", [("cifar10", "data_batch_3"), ("flowers102", "setid.mat")])
def test_a_file_changed_after_the_check_table_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          name: str, file_name: str) -> None:
    fake = WRITERS[name](tmp_path)
    accept_fake_checksums(monkeypatch, fake)
    open_dataset(name, "test", options(tmp_path), None)  # intact: opens
    path = tmp_path / DATASETS[name].folder / file_name
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetCorrupt) as info:
        open_dataset(name, "test", options(tmp_path), None)
    assert f"md5 check ({file_name})" in str(info.value) and "--claims-download" in str(info.value)
    assert info.value.need == DATASETS[name].need  # grouped with "not found": the same thing to provide


def test_half_extracted_pets_is_reported_as_incomplete(tmp_path: Path) -> None:
    fake = write_pets(tmp_path)
    (tmp_path / "oxford-iiit-pet" / "images" / fake.files["test"][4]).unlink()
    with pytest.raises(Missing, match=rf"1 images listed .*missing \(first: .*{fake.files['test'][4]}"):
        open_dataset("pets", "test", options(tmp_path), None)
    (tmp_path / "oxford-iiit-pet" / "annotations" / "trainval.txt").unlink()
    with pytest.raises(Missing, match=r"incomplete \(.*trainval\.txt missing\)"):
        open_dataset("pets", "train", options(tmp_path), None)


def test_unknown_names_and_splits_list_the_choices(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="cifar100"):
        open_dataset("cifar1000", "train", options(tmp_path), None)
    with pytest.raises(ValueError, match="train, test"):
        open_dataset("pets", "trainval", options(tmp_path), None)


# --- ImageNet and ReaL ---------------------------------------------------------------------------
def test_imagenet_class_order_is_the_sorted_wnid_order(trusted) -> None:
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and list(wnids) == sorted(wnids)
    fake = trusted["imagenet"]
    ds = open_dataset("imagenet", "val", options(Path("/nonexistent"), imagenet=fake.root), None)
    assert [Path(path).name for path, _ in ds.samples] == fake.files["val"]
    assert dataset_labels(ds).tolist() == fake.labels["val"]
    # three folders, yet the last wnid keeps index 999: a pretrained head's order, not 0..k-1
    assert ds.class_to_idx == {wnids[0]: 0, wnids[281]: 281, wnids[999]: 999}


def test_imagenet_problems_name_the_option_and_the_folder(tmp_path: Path) -> None:
    needs = set()
    with pytest.raises(Missing, match="--claims-imagenet DIR") as info:
        open_dataset("imagenet", "val", options(tmp_path), None)
    needs.add(info.value.need)
    with pytest.raises(Missing, match=rf"expected {tmp_path / 'val'}/<wnid>/\*\.JPEG") as info:
        open_dataset("imagenet", "val", options(tmp_path, imagenet=tmp_path), None)
    needs.add(info.value.need)
    (tmp_path / "val").mkdir()
    PIL.Image.new("RGB", (8, 8)).save(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(Missing, match="holds no class folders") as info:  # the flat val/ of the official tarball
        open_dataset("imagenet", "val", options(tmp_path, imagenet=tmp_path), None)
    needs.add(info.value.need)
    (tmp_path / "val" / "cats").mkdir()
    with pytest.raises(Missing, match="not ILSVRC-2012 WordNet ids") as info:
        open_dataset("imagenet_real", "val", options(tmp_path, imagenet=tmp_path), None)
    needs.add(info.value.need)
    # one grouped need for ImageNet and ReaL whatever is wrong, without this machine's paths
    assert needs == {DATASETS["imagenet"].need} == {DATASETS["imagenet_real"].need}
    assert "--claims-imagenet DIR" in DATASETS["imagenet"].need and str(tmp_path) not in DATASETS["imagenet"].need


def test_real_labels_are_attached_by_file_name(trusted, tmp_path: Path) -> None:
    fake = trusted["imagenet"]
    numbers = [int(name[15:23]) for name in fake.files["val"]]
    table = {number: ([number % 1000, 7] if number % 3 else []) for number in numbers}
    real_file = write_real_labels(tmp_path / "real.json", table)
    ds = open_dataset("imagenet_real", "val", options(tmp_path, imagenet=fake.root, real=real_file), None)
    assert real_labels(ds) == [tuple(table[number]) for number in numbers]
    assert dataset_labels(ds).tolist() == fake.labels["val"]  # the original labels stay available
    assert real_labels(Subset(ds, [2, 0])) == [tuple(table[numbers[2]]), tuple(table[numbers[0]])]
    short = write_real_labels(tmp_path / "short.json", {}, total=2)
    with pytest.raises(Missing, match="ILSVRC2012_val_00000001.JPEG"):
        open_dataset("imagenet_real", "val", options(tmp_path, imagenet=fake.root, real=short), None)
    with pytest.raises(Missing, match="--claims-real-labels") as info:
        open_dataset("imagenet_real", "val", options(tmp_path, imagenet=fake.root, real=tmp_path / "no.json"), None)
    assert "--claims-real-labels FILE" in info.value.need and str(tmp_path) not in info.value.need


def test_real_scorer_counts_a_hit_on_any_label_and_skips_unlabelled_images() -> None:
    labels = [(3, 5), (), (7,), (1, 2, 4), ()]
    pred = [5, 9, 6, 4, 0]  # hit on the 2nd of two labels, skipped, miss, hit, skipped
    assert real_correct(pred, labels).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="4 predictions for 5 images"):
        real_correct(pred[:4], labels)


def test_timm_real_labels_score_46837_of_50000_images() -> None:
    table = load_real_labels()
    assert len(table) == 50_000
    assert len(real_correct(np.zeros(len(table), dtype=int), table)) == REAL_SCORED_IMAGES == 46_837
    assert table[0] == () and table[1] == (970, 795)  # ILSVRC2012_val_00000001 has no valid label


# --- held-out split for learning-rate selection (App. B.1.1) ------------------------------------
@pytest.mark.parametrize("name, n, held", [("cifar100", 50_000, 1_000), ("pets", 3_680, 368),
                                           ("flowers102", 2_040, 204), ("imagenet", 1_281_167, 12_812)])
def test_held_out_split_has_the_papers_fraction(name: str, n: int, held: int) -> None:
    labels = np.arange(n) % DATASETS[name].num_classes
    train, dev = held_out_split(labels, DATASETS[name].held_out_fraction, seed=0)
    assert len(dev) == held and len(train) == n - held
    assert np.intersect1d(train, dev).size == 0 and np.array_equal(np.union1d(train, dev), np.arange(n))


def test_held_out_split_is_deterministic_per_seed_and_random() -> None:
    labels = np.repeat(np.arange(10), 100)
    first, again, other = (held_out_split(labels, 0.1, seed) for seed in (0, 0, 1))
    assert np.array_equal(first[1], again[1]) and np.array_equal(first[0], again[0])
    assert not np.array_equal(first[1], other[1])
    assert not np.array_equal(first[1], np.arange(900, 1000))  # not the tail of the file order
    with pytest.raises(ValueError, match="too few"):
        held_out_split(labels[:5], 0.02, 0)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        held_out_split(labels, 1.0, 0)


# --- importing the library costs no torch ----------------------------------------------------------
HEAVY = ("torch", "torchvision", "timm", "transformers", "sklearn", "safetensors", "huggingface_hub")


@pytest.mark.parametrize("module", ["measure.data.datasets", "measure.data.paths", "measure.data.splits",
                                    "measure.data.transforms", "measure.data.opening", "measure.data.fingerprint"])
def test_importing_the_data_catalog_and_opener_imports_no_torch(module: str) -> None:
    # Fixtures and claim modules import these when pytest starts; torch would cost seconds and ~1 GB per process.
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]", out.stdout


# --- the pytest fixture --------------------------------------------------------------------------
def test_dataset_opener_fixture_uses_the_suite_options(dataset_opener, suite_options, trusted) -> None:
    assert isinstance(dataset_opener, DatasetOpener) and dataset_opener.paths == suite_options.data_paths
    opener = DatasetOpener(DataPaths(data_root=trusted["pets"].root, imagenet_root=None, download=False))
    assert dataset_labels(opener("pets", "test")).tolist() == trusted["pets"].labels["test"]
