"""The fine-tuning data: the paper's train/eval transforms and a training stream that resumes exactly.

Data order, augmentation and mixup are functions of (seed, position in the example stream), not of loader worker
count, process count or of where a run was resumed: step s trains on positions s·B … s·B + B − 1 (B the global
batch), and under torchrun each rank reads its contiguous share of them (`ShardPositions`). torch and
torchvision are imported where they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from measure.train.recipe import FinetuneRecipe

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset


def train_transform(recipe: FinetuneRecipe) -> Callable:
    """vit_jax input_pipeline.py: inception crop (area 5-100 %) to the resolution + horizontal flip."""
    from torchvision import transforms as T

    return T.Compose([
        T.RandomResizedCrop(recipe.resolution, scale=recipe.train_crop_area, ratio=recipe.train_crop_ratio,
                            interpolation=T.InterpolationMode.BILINEAR),
        T.RandomHorizontalFlip(recipe.train_hflip),
        T.PILToTensor(),
    ])


def eval_transform(recipe: FinetuneRecipe) -> Callable:
    """vit_jax input_pipeline.py evaluates on the image resized to crop size ("intentional"), no crop, with
    ``tf.image.resize`` (bilinear, no antialiasing, float: `measure.data.resize`), for either recipe."""
    from measure.data.resize import TFResize

    return TFResize(recipe.resolution)


class ShardPositions(Sequence[int]):
    """The stream positions one rank trains on, from step `start` to the end: its share of every global batch.

    Rank r of W takes positions s·B + r·B/W … s·B + (r+1)·B/W − 1 of step s — a contiguous block, so rank r's
    k-th micro-batch holds the same examples as micro-batch r·(B/W)/m + k of a single process with the same
    micro-batch m (what makes 1 and W processes agree bit for bit). A sampler for torch's DataLoader, like its
    DistributedSampler but over the project's (seed, position) stream instead of a shuffled index list.
    """

    def __init__(self, start: int, steps: int, batch: int, rank: int = 0, size: int = 1) -> None:
        if batch % size:
            raise ValueError(f"a batch of {batch} cannot be shared evenly by {size} processes")
        self.start, self.steps, self.batch, self.rank = start, steps, batch, rank
        self.per_rank = batch // size

    def __len__(self) -> int:
        return max(0, self.steps - self.start) * self.per_rank

    def __getitem__(self, i: int) -> int:  # type: ignore[override]
        if not 0 <= i < len(self):
            raise IndexError(i)
        step, j = divmod(i, self.per_rank)
        return (self.start + step) * self.batch + self.rank * self.per_rank + j


MIXUP_STREAM = 0x6D6978  # keeps mixup's draws apart from the data order's and the augmentation's ("mix")


@dataclass(frozen=True)
class Mixup:
    """Mixup (Zhang et al. 2018) as BiT-HyperRule uses it (bit_pytorch/train.py: ``mixup_data``): step s mixes
    each example with a partner of the same global batch, x = λ·x + (1 − λ)·x_partner, and scores the loss
    λ·CE(y) + (1 − λ)·CE(y_partner); λ ~ Beta(α, α) once per step.

    λ and the partner permutation are drawn from (seed, step) alone — not from a generator that advances — so a
    resumed run and a run over any number of processes mix exactly the same pairs. BiT permutes within each
    micro-batch (``batch_split``), which makes its pairs depend on the accelerator's memory; we permute the
    whole batch of 512, which does not.
    """

    alpha: float
    batch: int
    seed: int

    def draw(self, step: int) -> tuple[float, np.ndarray]:
        """(λ, permutation of 0..batch−1) of step `step`: example i of the batch is mixed with example perm[i]."""
        rng = np.random.default_rng([self.seed, MIXUP_STREAM, step])
        return float(rng.beta(self.alpha, self.alpha)), rng.permutation(self.batch)

    def partner(self, position: int) -> int:
        """The stream position `position` is mixed with (in the same global batch)."""
        step, i = divmod(position, self.batch)
        return step * self.batch + int(self.draw(step)[1][i])


class ExampleStream:
    """Position p of the training stream -> (augmented image, label); a map-style dataset for a DataLoader.

    Epoch e = p // n visits the examples in the order of a permutation seeded by (seed, e); the
    augmentation of position p is drawn from its own seed. Both depend only on (seed, p), so a run resumed
    at any step, with any number of loader workers or processes, sees exactly the images an uninterrupted run
    sees. With `mixup`, position p also yields its partner's (augmented image, label) — the partner's own
    position in the stream, so whichever rank holds p can mix it without the other ranks' images.
    """

    def __init__(self, dataset: Dataset, seed: int, mixup: Mixup | None = None) -> None:
        self.dataset, self.seed, self.mixup = dataset, seed, mixup
        self.n = len(dataset)  # type: ignore[arg-type]
        self._epoch, self._order = -1, np.empty(0, dtype=np.int64)

    def example_index(self, position: int) -> int:
        epoch = position // self.n
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return int(self._order[position % self.n])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, position: int) -> tuple:
        if self.mixup is None:
            return self.example(position)
        return (*self.example(position), *self.example(self.mixup.partner(position)))

    def example(self, position: int) -> tuple[torch.Tensor, int]:
        """The augmented image and label at stream position `position`."""
        import torch

        index = self.example_index(position)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(np.random.SeedSequence([self.seed, position]).generate_state(1)[0]))
            image, label = self.dataset[index]
        return image, int(label)
