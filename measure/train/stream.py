"""The fine-tuning data: the paper's train/eval transforms and a training stream that resumes exactly.

Data order and augmentation are functions of (seed, position in the example stream), not of loader worker
count or of where a run was resumed. torch and torchvision are imported where they are used.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """vit_jax input_pipeline.py evaluates on the image resized to crop size ("intentional"), no crop."""
    from torchvision import transforms as T

    return T.Compose([T.Resize((recipe.resolution, recipe.resolution), interpolation=T.InterpolationMode.BILINEAR),
                      T.PILToTensor()])


class ExampleStream:
    """Position p of the training stream -> (augmented image, label); a map-style dataset for a DataLoader.

    Epoch e = p // n visits the examples in the order of a permutation seeded by (seed, e); the
    augmentation of position p is drawn from its own seed. Both depend only on (seed, p), so a run resumed
    at any step, with any number of loader workers, sees exactly the images an uninterrupted run sees.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed = dataset, seed
        self.n = len(dataset)  # type: ignore[arg-type]
        self._epoch, self._order = -1, np.empty(0, dtype=np.int64)

    def example_index(self, position: int) -> int:
        epoch = position // self.n
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return int(self._order[position % self.n])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int]:
        import torch

        index = self.example_index(position)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(np.random.SeedSequence([self.seed, position]).generate_state(1)[0]))
            image, label = self.dataset[index]
        return image, int(label)
