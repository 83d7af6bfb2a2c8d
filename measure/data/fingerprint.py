"""Which examples a result is over: a content fingerprint of a dataset, and the identity a result records.

Orderings pair two results example by example and caches are keyed by what was measured, so both need
to know that two opened datasets hold the same examples in the same order, wherever the folder lives.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from measure.data.opening import dataset_labels

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = ["dataset_fingerprint", "examples_identity"]


def dataset_fingerprint(ds: Dataset) -> str:
    """A cheap content fingerprint of a dataset: its examples' identities (file paths relative to the
    dataset root, in order — or, for CIFAR, whose pickles keep no file names, the pixel array held in
    memory) and labels. No image is decoded. The same folder moved elsewhere keeps its fingerprint; a
    re-ordered, relabelled or swapped dataset of the same size does not."""
    digest = hashlib.sha256()
    _feed_fingerprint(ds, digest)
    return digest.hexdigest()[:20]


def _feed_fingerprint(ds: Dataset, digest: Any) -> None:
    from torch.utils.data import ConcatDataset, Subset

    if isinstance(ds, ConcatDataset):
        digest.update(f"concat:{len(ds.datasets)};".encode())
        for part in ds.datasets:
            _feed_fingerprint(part, digest)
        return
    if isinstance(ds, Subset):
        digest.update(b"subset;")
        _feed_fingerprint(ds.dataset, digest)
        digest.update(np.asarray(ds.indices, dtype=np.int64).tobytes())
        return
    root = str(getattr(ds, "root", ""))
    if hasattr(ds, "samples"):                      # ImageFolder (ImageNet val / ReaL)
        paths = [path for path, _ in ds.samples]
    elif hasattr(ds, "_images"):                    # OxfordIIITPet
        paths = list(ds._images)
    elif hasattr(ds, "_image_files"):               # Flowers102
        paths = list(ds._image_files)
    elif isinstance(getattr(ds, "data", None), np.ndarray):  # CIFAR: images in memory, no file names
        paths = None
    else:
        raise TypeError(f"don't know how to fingerprint a {type(ds).__name__}: no file list or in-memory array")
    labels = dataset_labels(ds)
    digest.update(f"{len(ds)};{'pixels' if paths is None else 'paths'};".encode())
    if paths is None:
        digest.update(np.ascontiguousarray(ds.data).tobytes())
    else:
        for path in paths:
            digest.update(os.path.relpath(os.fspath(path), root).replace(os.sep, "/").encode() + b"\0")
    digest.update(np.asarray(labels, dtype=np.int64).tobytes())


def examples_identity(dataset: str, split: str, data: Dataset, n: int | None = None,
                      extra: Any = None, fingerprint: str | None = None) -> dict[str, Any]:
    """What a result's `correct` array is over (TierResult.metadata["examples"]); `extra` folds in whatever
    else selects or scores the examples (ReaL: the label lists). `fingerprint`: the data's
    `dataset_fingerprint`, where the caller already has it (hashing CIFAR's pixels twice is not free)."""
    if fingerprint is None:
        fingerprint = dataset_fingerprint(data)
    if extra is not None:
        fingerprint = hashlib.sha256(f"{fingerprint};{extra!r}".encode()).hexdigest()[:20]
    return {"dataset": dataset, "split": split, "n": len(data) if n is None else n, "fingerprint": fingerprint}
