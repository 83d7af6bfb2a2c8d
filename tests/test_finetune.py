"""The fine-tuning recipe's pieces on CPU, each with a test that fails when the piece is wrong.

Tiny ViTs (embed 32, depth 2) on 32x32 images, a few steps each: the whole file runs in well under a
minute on two cores.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import scipy.ndimage
import timm
import torch
from PIL import Image
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torch.utils.data import Dataset, Subset

from measure.data import datasets as ds_mod
from measure.data.opening import DatasetOpener
from measure.data.paths import DataPaths
from measure.data.splits import held_out_split
from measure.models.hub import HubAccess
from measure.models.loaders import CheckpointLoader
from measure.models.registry import CheckpointSpec
from measure.run import inference as evaluate
from measure.run.cache import ChunkCache
from measure.run.device import precision
from measure.tiers.runner import TierRunner
from measure.train import protocol
from measure.train.loop import TrainStats, accumulate_gradients, clip_gradients, make_optimizer, make_scheduler, train
from measure.train.protocol import FinetuneRun, finetune, select_lr
from measure.train.recipe import FinetuneRecipe, paper_recipe
from measure.train.settings import FinetuneSettings, Runtime
from measure.train.stream import train_transform
from measure.train.surgery import prepare_model, with_normalization
from tests.fake_checkpoints import timm_hub_files, write_hf_cache_repo
from tests.fake_datasets import accept_fake_checksums, write_cifar


# -- helpers ---------------------------------------------------------------------------------------
def tiny_vit(img_size: int = 32, num_classes: int = 0, seed: int = 0) -> VisionTransformer:
    torch.manual_seed(seed)
    return VisionTransformer(img_size=img_size, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                             num_classes=num_classes)


class ColourDataset(Dataset):
    """PIL images whose colour is their class (plus noise), with `targets` like torchvision's datasets."""

    def __init__(self, n: int, num_classes: int = 3, size: int = 32, seed: int = 0, transform=None) -> None:
        rng = np.random.default_rng(seed)
        palette = np.random.default_rng(99).integers(0, 256, size=(num_classes, 3))
        self.targets = [int(i % num_classes) for i in range(n)]
        self.images = [np.clip(palette[t] + rng.integers(-30, 31, size=(size, size, 3)), 0, 255).astype(np.uint8)
                       for t in self.targets]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        image = Image.fromarray(self.images[i])
        return (self.transform(image) if self.transform else image), self.targets[i]


def tiny_recipe(steps: int = 6, batch: int = 8, **changes) -> FinetuneRecipe:
    base = FinetuneRecipe(dataset="cifar10", steps=steps, lr_grid=(0.01, 0.03), held_out_fraction=0.2,
                          warmup_steps=2, batch_size=batch, resolution=32, paper_steps=10_000, shortened=True)
    return dataclasses.replace(base, **changes)


CPU = Runtime(device=torch.device("cpu"), num_workers=0, progress=False, eval_batch_size=16)


# -- device and precision ---------------------------------------------------------------------------
def test_runtime_autocasts_to_bf16_on_cuda_only_unless_told_otherwise():
    cpu, cuda = torch.device("cpu"), torch.device("cuda:0")
    assert (Runtime(device=cpu).precision, Runtime(device=cuda).precision) == ("float32", "bf16-autocast")
    assert Runtime(device=cpu, bf16=True).autocast and Runtime(device=cpu, bf16=True).precision == "bf16-autocast"
    assert not Runtime(device=cuda, bf16=False).autocast
    # The inference cache keys its entries with the same rule's label.
    assert precision(cuda) == Runtime(device=cuda).precision


# -- the recipe as data ----------------------------------------------------------------------------
def test_paper_recipe_is_table4_and_appendix_b11():
    cifar, pets, imagenet = paper_recipe("cifar100"), paper_recipe("pets"), paper_recipe("imagenet")
    assert (cifar.steps, cifar.batch_size, cifar.resolution, cifar.momentum) == (10_000, 512, 384, 0.9)
    assert (cifar.weight_decay, cifar.grad_clip_norm, cifar.held_out_fraction) == (0.0, 1.0, 0.02)
    assert cifar.lr_grid == (0.001, 0.003, 0.01, 0.03) and imagenet.lr_grid == (0.003, 0.01, 0.03, 0.06)
    assert (pets.steps, pets.held_out_fraction, imagenet.steps, imagenet.held_out_fraction) == (500, 0.1, 20_000, 0.01)
    assert cifar.warmup_steps == 500 and "NOT IN THE PAPER" in cifar.sources["warmup_steps"]
    assert cifar.is_paper and "paper recipe" in cifar.label()


def test_paper_recipe_reads_its_numbers_from_paper_numbers_csv():
    import paper

    for dataset in ("imagenet", "cifar10", "cifar100", "pets", "flowers102"):
        recipe = paper_recipe(dataset)
        assert recipe.steps == paper.number(table="Table 4", dataset=dataset, metric="steps").value
        assert recipe.lr_grid == tuple(n.value for n in paper.numbers(table="Table 4", dataset=dataset, metric="base_lr"))
        assert recipe.batch_size == paper.number(table="Table 4", row="caption", column="batch size").value
    table2 = paper_recipe("imagenet", table2_imagenet=True)
    assert (table2.resolution, table2.polyak_decay) == (512, 0.9999)  # §4.1, ViT-L/16
    assert paper_recipe("imagenet", table2_imagenet=True, model="ViT-H/14").resolution == 518
    with pytest.raises(LookupError, match="no fine-tuning recipe for 'vtab'"):
        paper_recipe("vtab")  # Table 4 has VTAB, but no development split / warm-up here


def test_scaled_recipe_is_labelled_shortened_and_keyed_apart():
    paper = paper_recipe("cifar10")
    short = paper.scaled(steps=100, batch=64)
    assert short.shortened and not short.is_paper and "SHORTENED" in short.label()
    assert (short.steps, short.batch_size, short.paper_steps) == (100, 64, 10_000)
    assert short.warmup_steps == 5  # warm-up keeps its 5 % share of the run
    assert short.to_key() != paper.to_key() and short.to_key()["shortened"] is True
    assert paper.scaled() is paper


# -- schedule ----------------------------------------------------------------------------------------
def test_schedule_is_linear_warmup_from_zero_then_cosine_to_zero():
    recipe = tiny_recipe(steps=110, warmup_steps=10)
    assert recipe.lr_at(0, 0.1) == 0.0
    assert recipe.lr_at(5, 0.1) == pytest.approx(0.05)
    assert recipe.lr_at(10, 0.1) == pytest.approx(0.1)
    assert recipe.lr_at(60, 0.1) == pytest.approx(0.05)          # half-way through the decay: cos(pi/2)
    assert recipe.lr_at(35, 0.1) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.25)))
    assert recipe.lr_at(110, 0.1) == pytest.approx(0.0, abs=1e-12)
    decay = [recipe.lr_factor(s) for s in range(10, 111)]
    assert all(a > b for a, b in itertools.pairwise(decay))


def test_torch_scheduler_applies_the_recipe_lr_at_every_update():
    recipe = tiny_recipe(steps=20, warmup_steps=4)
    param = nn.Parameter(torch.zeros(1))
    optimizer = make_optimizer(nn.ParameterList([param]), recipe, 0.03, torch.device("cpu"))
    scheduler = make_scheduler(optimizer, recipe)
    used = []
    for _ in range(recipe.steps):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert used == pytest.approx([recipe.lr_at(k, 0.03) for k in range(recipe.steps)])
    assert optimizer.param_groups[0]["momentum"] == 0.9 and optimizer.param_groups[0]["weight_decay"] == 0.0


# -- clipping ----------------------------------------------------------------------------------------
def test_clipping_scales_a_norm_10_gradient_to_global_norm_1():
    a, b = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(4))
    model = nn.ParameterList([a, b])
    a.grad = torch.tensor([6.0, 0.0, 0.0])
    b.grad = torch.tensor([0.0, 8.0, 0.0, 0.0])             # global norm sqrt(36 + 64) = 10
    assert clip_gradients(model, 1.0) == pytest.approx(10.0)
    total = torch.sqrt(a.grad.square().sum() + b.grad.square().sum())
    assert total <= 1.0 + 1e-6 and total == pytest.approx(1.0, rel=1e-5)
    assert a.grad.tolist() == pytest.approx([0.6, 0, 0]) and b.grad.tolist() == pytest.approx([0, 0.8, 0, 0])


def test_clipping_leaves_a_small_gradient_alone():
    a = nn.Parameter(torch.zeros(2))
    a.grad = torch.tensor([0.3, 0.4])
    clip_gradients(nn.ParameterList([a]), 1.0)
    assert a.grad.tolist() == pytest.approx([0.3, 0.4])


# -- model surgery -----------------------------------------------------------------------------------
def test_new_head_is_zero_initialised_and_logits_start_at_zero():
    model = tiny_vit(num_classes=21)                       # a pre-training head with random weights
    assert model.head.weight.abs().sum() > 0
    prepare_model(model, num_classes=5, resolution=32)
    assert model.head.weight.shape == (5, 32)
    assert torch.count_nonzero(model.head.weight) == 0 and torch.count_nonzero(model.head.bias) == 0
    with torch.no_grad():
        logits = model(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4, 5) and torch.count_nonzero(logits) == 0


def test_position_embeddings_are_interpolated_like_vit_jax():
    model = tiny_vit(img_size=32)                          # 4x4 grid + class token
    original = model.pos_embed.detach().clone()
    prepare_model(model, num_classes=3, resolution=48)  # 6x6 grid
    assert model.pos_embed.shape == (1, 1 + 36, 32)
    assert torch.equal(model.pos_embed[:, :1], original[:, :1])  # class token's embedding untouched
    # vit_jax checkpoint.load_pretrained: scipy.ndimage.zoom(grid, (6/4, 6/4, 1), order=1)
    grid = original[0, 1:].reshape(4, 4, 32).numpy()
    expected = scipy.ndimage.zoom(grid, (1.5, 1.5, 1), order=1).reshape(36, 32)
    np.testing.assert_allclose(model.pos_embed[0, 1:].detach().numpy(), expected, atol=1e-5)
    assert model(torch.randn(2, 3, 48, 48)).shape == (2, 3)


# -- gradient accumulation ---------------------------------------------------------------------------
def test_gradient_accumulation_equals_the_big_batch_gradient():
    model = prepare_model(tiny_vit(), num_classes=3, resolution=32)
    nn.init.normal_(model.head.weight, std=0.1)            # a zero head would give zero gradients elsewhere
    images, targets = torch.randn(8, 3, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])

    def grads(micro: int) -> list[torch.Tensor]:
        model.zero_grad(set_to_none=True)
        accumulate_gradients(model, images, targets, batch_size=8, micro_batch=micro)
        return [p.grad.clone() for p in model.parameters()]

    big, accumulated = grads(8), grads(2)
    assert max(float((g - h).abs().max()) for g, h in zip(big, accumulated)) < 1e-6
    assert sum(float(g.abs().sum()) for g in big) > 0


# -- held-out split and lr selection ------------------------------------------------------------------
def test_select_lr_takes_the_best_held_out_accuracy_and_breaks_ties_low():
    assert select_lr({0.001: 0.5, 0.003: 0.9, 0.01: 0.7}) == 0.003
    assert select_lr({0.03: 0.8, 0.01: 0.8, 0.1: 0.2}) == 0.01


def test_lr_is_chosen_on_the_held_out_split_and_the_final_run_uses_train_and_test(monkeypatch, tmp_path):
    held_out_acc = {0.01: 0.25, 0.03: 0.75}                # what the sweep sees (4 held-out examples)
    test_acc = {0.01: 1.0, 0.03: 0.0}                      # what a (forbidden) test-set selection would see
    train, test = ColourDataset(20), ColourDataset(9, seed=1)
    opened, calls = [], []

    def open_split(split, transform):
        data = train if split == "train" else test
        opened.append((split, transform))
        return data

    def fake_run_one(request, cache, runtime):
        calls.append(request)
        acc = (test_acc if request.evaluated_on == "test" else held_out_acc)[request.base_lr]
        n = len(request.eval_data)
        correct = np.arange(n) < round(acc * n)
        return FinetuneRun(request.base_lr, request.seed, request.trained_on, request.evaluated_on, correct,
                            np.zeros(n, dtype=np.int32), {}, False)

    monkeypatch.setattr(protocol, "run_one", fake_run_one)
    recipe = tiny_recipe()
    result = finetune(make_model=tiny_vit, data_config={}, num_classes=3, open_split=open_split, recipe=recipe,
                         seeds=(0, 1), cache=ChunkCache(tmp_path), key={"checkpoint": "tiny"}, runtime=CPU)
    assert result.best_lr == 0.03 and result.held_out == held_out_acc
    fit, held = held_out_split(train.targets, recipe.held_out_fraction, recipe.split_seed)
    sweep = [c for c in calls if c.evaluated_on == "held-out"]
    finals = [c for c in calls if c.evaluated_on == "test"]
    assert sorted(c.base_lr for c in sweep) == [0.01, 0.03] and all(c.seed == 0 for c in sweep)
    for c in sweep:
        assert isinstance(c.eval_data, Subset) and c.eval_data.dataset is not test
        assert c.eval_data.indices == held.tolist() and c.train_data.indices == fit.tolist()
        assert not set(c.eval_data.indices) & set(c.train_data.indices)
    assert [(c.base_lr, c.seed) for c in finals] == [(0.03, 0), (0.03, 1)]
    assert all(c.eval_data is test and c.train_data is train and c.trained_on == "train" for c in finals)
    assert result.spread()["seeds"] == [0, 1] and result.metadata()["lr_selection"]["best_lr"] == 0.03


# -- resume -------------------------------------------------------------------------------------------
class Interrupt(Exception):
    pass


def _train_tiny(tmp_path, runtime: Runtime, recipe: FinetuneRecipe) -> tuple[nn.Module, TrainStats]:
    data = ColourDataset(12, transform=train_transform(recipe))
    model = prepare_model(tiny_vit(), num_classes=3, resolution=recipe.resolution)
    net = with_normalization(model, {"mean": (0.5,) * 3, "std": (0.5,) * 3})
    stats = train(net, data, recipe, base_lr=0.1, seed=3, runtime=runtime, state_path=tmp_path / "state.pt",
                     run_key="run")
    return net, stats


def _interrupted_and_resumed(tmp_path, recipe: FinetuneRecipe) -> tuple[nn.Module, nn.Module, TrainStats]:
    """(uninterrupted run, the same run stopped after step 3 and resumed from its step-2 state, the resumed stats)."""
    runtime = dataclasses.replace(CPU, checkpoint_every=2)
    reference, _ = _train_tiny(tmp_path / "a", runtime, recipe)

    def stop_after_3(step: int) -> None:
        if step == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        _train_tiny(tmp_path / "b", dataclasses.replace(runtime, on_step=stop_after_3), recipe)
    torch.manual_seed(12345)                               # the resumed run must not depend on the global RNG
    resumed, stats = _train_tiny(tmp_path / "b", runtime, recipe)
    return reference, resumed, stats


def test_resumed_training_ends_bit_identical_to_an_uninterrupted_run(tmp_path):
    recipe = tiny_recipe(steps=6, batch=4)
    runtime = dataclasses.replace(CPU, checkpoint_every=2)
    reference, resumed, stats = _interrupted_and_resumed(tmp_path, recipe)
    assert (stats.resumed_from, stats.steps_this_call, stats.steps) == (2, 4, 6)
    for (name, p), q in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, q) for p, q in zip(reference.state_dict().values(),
                                                     _train_tiny(tmp_path / "c", runtime, tiny_recipe(
                                                         steps=6, batch=4, momentum=0.5))[0].state_dict().values()))


def test_polyak_averaging_keeps_the_exponential_average_of_the_weights(tmp_path):
    from timm.utils import ModelEmaV3

    recipe = tiny_recipe(steps=3, batch=4, warmup_steps=1, polyak_decay=0.5)
    data = ColourDataset(8, transform=train_transform(recipe))
    net = with_normalization(prepare_model(tiny_vit(), 3, 32), {"mean": (0.5,) * 3, "std": (0.5,) * 3})
    expected = {k: v.clone() for k, v in net.state_dict().items()}
    ema = ModelEmaV3(net, decay=recipe.polyak_decay)

    def track(step: int) -> None:
        for k, v in net.state_dict().items():
            expected[k] = 0.5 * expected[k] + 0.5 * v

    train(net, data, recipe, base_lr=0.5, seed=0, runtime=dataclasses.replace(CPU, on_step=track),
             state_path=None, ema=ema)
    averaged = ema.module.state_dict()
    assert all(torch.allclose(averaged[k], expected[k], atol=1e-6) for k in expected)
    assert any(not torch.allclose(averaged[k], v) for k, v in net.state_dict().items())


# -- the finetune tier end to end: interrupted, resumed, then served from the cache --------------------
TINY = CheckpointSpec(key="tiny-vit-i21k", paper_model="ViT-L/16", pretraining="imagenet21k", finetuned_on="",
                      resolution=160, library="timm", hub_id="test_vit.r160_in1k", provenance="substitute",
                      note="test-only tiny stand-in", num_classes=1000)
STEPS = 3                        # per run; 4 sweep runs (Table 4's CIFAR grid) + 1 final run = 15 steps


@pytest.fixture
def tier_world(tmp_path, monkeypatch):
    cifar = write_cifar(tmp_path / "data", "cifar10", per_batch=6, n_test=10)  # 30 train: 2 % = 1 held out
    accept_fake_checksums(monkeypatch, cifar)
    monkeypatch.setitem(ds_mod.DATASETS, "cifar10",
                        dataclasses.replace(ds_mod.DATASETS["cifar10"], sizes={"train": 30, "test": 10}))
    torch.manual_seed(0)
    model = timm.create_model("test_vit", num_classes=1000).eval()
    write_hf_cache_repo(tmp_path / "hf", f"timm/{TINY.hub_id}", timm_hub_files(model, tmp_path / "export"))
    return tmp_path


def tier_session(world, cache: str, on_step=None) -> TierRunner:
    """A new pytest session: nothing shared with the previous one but the disk cache."""
    runtime = Runtime(device=torch.device("cpu"), num_workers=0, checkpoint_every=1, progress=False,
                         eval_batch_size=8, on_step=on_step)
    settings = FinetuneSettings(seeds=(0,), steps=STEPS, batch=4, resolution=32, runtime=runtime)
    paths = DataPaths(data_root=world / "data", imagenet_root=None, download=False)
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=world / "hf"))
    return TierRunner(tiers=("finetune",), load=lambda spec, n: loader(spec, num_classes=n),
                      open_dataset=DatasetOpener(paths), cache=ChunkCache(world / cache),
                      device=torch.device("cpu"), batch_size=8, num_workers=0, finetune=settings)


def test_finetune_tier_interrupted_resumes_then_is_served_from_the_cache(tier_world, monkeypatch):
    inferred = []
    original_chunk = evaluate._Runner.chunk
    monkeypatch.setattr(evaluate._Runner, "chunk", lambda runner, i: inferred.append(i) or original_chunk(runner, i))
    trained: list[int] = []

    def killed_in_the_final_run(step: int) -> None:
        trained.append(step)
        if len(trained) == 4 * STEPS + 2:                  # step 2 of the final run, after its state was saved
            raise Interrupt

    with pytest.raises(Interrupt):
        tier_session(tier_world, "cache", killed_in_the_final_run).finetune(TINY, "cifar10")
    assert inferred == [0] * 4                              # the four sweep runs predicted their held-out image

    trained.clear()
    resumed = tier_session(tier_world, "cache", trained.append).finetune(TINY, "cifar10")
    assert trained == [3]                                   # sweep runs from the cache; the final run resumed at 2
    final = resumed.metadata["runs"][0]
    assert final["meta"]["train"]["resumed_from"] == 2 and final["evaluated_on"] == "test"
    assert resumed.n == 10 and resumed.metadata["shortened"] is True
    assert "SHORTENED" in resumed.metadata["tier_label"] and resumed.metadata["recipe"]["steps"] == STEPS
    # how the kept recipe evaluated, per side (what `reading.unlike` compares): resolution, resize kernel, antialias
    assert resumed.pipeline == resumed.metadata["evaluation"]
    assert (resumed.pipeline["recipe"], resumed.pipeline["resize"], resumed.pipeline["interpolation"],
            resumed.pipeline["antialias"]) == ("vit-paper-finetune", [32, 32], "bilinear", False)

    trained.clear()
    inferred.clear()
    cached = tier_session(tier_world, "cache", trained.append).finetune(TINY, "cifar10")
    assert trained == [] and inferred == []                 # nothing trained, nothing predicted
    assert cached.metadata["runs"][0]["from_cache"] is True
    np.testing.assert_array_equal(cached.correct, resumed.correct)

    straight = tier_session(tier_world, "uninterrupted").finetune(TINY, "cifar10")
    assert straight.metadata["lr_selection"] == resumed.metadata["lr_selection"]
    assert straight.metadata["runs"][0]["meta"]["train"]["loss"] == final["meta"]["train"]["loss"]
    np.testing.assert_array_equal(straight.correct, resumed.correct)
    assert not list((tier_world / "cache" / "finetune-state").glob("*.pt"))  # states dropped once cached


# -- mixup in the loop (BiT-HyperRule on CIFAR) ------------------------------------------------------------------
def test_mixup_loss_mixes_inputs_and_targets_with_the_steps_lambda():
    from measure.train.loop import MixedBatch

    bare = prepare_model(tiny_vit(), num_classes=3, resolution=32)
    nn.init.normal_(bare.head.weight, std=0.1)
    model = with_normalization(bare, {"mean": (0.5,) * 3, "std": (0.5,) * 3}).eval()  # eval: no dropout
    a, b = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    ya, yb = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 2, 1, 0])
    loss = accumulate_gradients(model, a, ya, batch_size=4, micro_batch=2, mixed=MixedBatch(0.3, b, yb))
    with torch.no_grad():
        logits = model(0.3 * a.float() + 0.7 * b.float())
        expected = 0.3 * nn.functional.cross_entropy(logits, ya) + 0.7 * nn.functional.cross_entropy(logits, yb)
    assert loss == pytest.approx(float(expected), rel=1e-5)
    plain = accumulate_gradients(model, a, ya, batch_size=4, micro_batch=4)
    assert accumulate_gradients(model, a, ya, batch_size=4, micro_batch=4, mixed=MixedBatch(1.0, b, yb)) == \
        pytest.approx(plain, rel=1e-6)  # lambda 1: the partner contributes nothing


def test_mixup_training_resumes_bit_identical(tmp_path):
    recipe = tiny_recipe(steps=4, batch=4, mixup_alpha=0.2)
    reference, resumed, stats = _interrupted_and_resumed(tmp_path, recipe)
    assert stats.resumed_from == 2
    assert all(torch.equal(p, q) for p, q in zip(reference.state_dict().values(), resumed.state_dict().values()))
    unmixed, _ = _train_tiny(tmp_path / "c", dataclasses.replace(CPU, checkpoint_every=2),
                             dataclasses.replace(recipe, mixup_alpha=0.0))
    assert any(not torch.equal(p, q) for p, q in zip(reference.state_dict().values(), unmixed.state_dict().values()))


# -- Polyak averaging lives on the training device (§4.1, Table 2's ImageNet) -------------------------------------
def test_the_polyak_copy_is_made_on_the_training_device(monkeypatch, tmp_path):
    """Issue 12: built before the model moved to CUDA, the average stayed on the CPU and the first update failed.
    Two devices here: the CPU the model is built on and the meta device it is trained on (timm's average cannot
    itself live on meta — it keeps a torch.Generator — so the run's order is what is pinned: the model is on the
    training device when its average is made, and the loop refuses an average elsewhere)."""
    from measure.train import loop

    made_on = []
    monkeypatch.setattr(protocol, "polyak_average",
                        lambda net, decay: made_on.append(next(net.parameters()).device) or raise_interrupt())
    request = protocol.RunRequest(make_model=tiny_vit, data_config={"mean": (0.5,) * 3, "std": (0.5,) * 3},
                                  num_classes=3, train_data=ColourDataset(4), eval_data=ColourDataset(2),
                                  recipe=tiny_recipe(polyak_decay=0.9999), base_lr=0.01, seed=0, trained_on="train",
                                  evaluated_on="test", key={"checkpoint": "tiny"})
    with pytest.raises(Interrupt):
        protocol.run_one(request, ChunkCache(tmp_path), dataclasses.replace(CPU, device=torch.device("meta")))
    assert made_on == [torch.device("meta")]
    net = with_normalization(prepare_model(tiny_vit(), 3, 32), {"mean": (0.5,) * 3, "std": (0.5,) * 3})
    cpu_average = loop.polyak_average(net, 0.9)
    assert {p.device.type for p in cpu_average.parameters()} == {"cpu"}  # made where the model is
    with pytest.raises(ValueError, match="the Polyak average lives on cpu, the model on meta"):
        train(net, ColourDataset(4), tiny_recipe(), base_lr=0.01, seed=0,
              runtime=dataclasses.replace(CPU, device=torch.device("meta")), state_path=None, ema=cpu_average)


def raise_interrupt():
    raise Interrupt


# -- ImageNet: the train folder, the paper's settings, what it costs ---------------------------------------------
def test_imagenet_train_folder_opens_in_the_standard_class_order_and_says_what_is_missing(tmp_path, monkeypatch):
    from measure.data.datasets import IMAGENET_TRAIN_NEED
    from measure.data.opening import open_dataset
    from measure.errors import Missing
    from tests.fake_datasets import write_imagenet_train

    paths = DataPaths(data_root=tmp_path, imagenet_root=tmp_path / "imagenet")
    with pytest.raises(Missing, match="no train/ folder") as info:
        open_dataset("imagenet", "train", paths)
    assert info.value.need == IMAGENET_TRAIN_NEED and "train/<wnid>/*.JPEG" in IMAGENET_TRAIN_NEED
    with pytest.raises(Missing, match="pass --claims-imagenet DIR") as info:
        open_dataset("imagenet", "train", DataPaths(data_root=tmp_path))
    assert info.value.need == IMAGENET_TRAIN_NEED
    fake = write_imagenet_train(tmp_path / "imagenet")
    with pytest.raises(Missing, match="has 51 of 1,281,167 images in 3 of 1,000 class folders") as info:
        open_dataset("imagenet", "train", paths)  # a partial copy would fine-tune on other data than the paper's
    assert info.value.need == IMAGENET_TRAIN_NEED
    monkeypatch.setitem(ds_mod.DATASETS, "imagenet", dataclasses.replace(ds_mod.DATASETS["imagenet"],
                                                                         sizes={"train": 51, "val": 50_000}))
    train = open_dataset("imagenet", "train", paths)
    assert [p.rsplit("/", 1)[1] for p, _ in train.samples] == fake.files["train"]
    assert train.targets == fake.labels["train"] and set(train.targets) == {0, 281, 999}
    fit, held = held_out_split(train.targets, ds_mod.held_out_fraction("imagenet"), 0)
    assert (len(fit), len(held)) == (50, 1)  # App. B.1.1's 1 %


def test_imagenet_settings_table2_for_vit_l16_i21k_table5_for_the_rest():
    settings = FinetuneSettings()
    table2 = settings.recipe("imagenet", "ViT-L/16", "imagenet21k")
    assert (table2.resolution, table2.polyak_decay, table2.steps, table2.batch_size) == (512, 0.9999, 20_000, 512)
    assert table2.lr_grid == (0.003, 0.01, 0.03, 0.06) and table2.held_out_fraction == 0.01 and table2.dropout == 0.1
    h14 = settings.recipe("imagenet", "ViT-H/14", "imagenet21k")  # Table 2's ViT-H/14 is JFT: Table 5's 384 here
    assert (h14.resolution, h14.polyak_decay) == (384, None)
    assert settings.recipe("imagenet_real", "ViT-L/16", "imagenet21k") == table2  # ReaL is ImageNet's fine-tune
    assert settings.recipe("imagenet", "ViT-L/16", "imagenet").polyak_decay is None


def test_vit_flops_in_closed_form_equal_torchs_count():
    from measure.studies.flops import model_forward_flops
    from measure.train.cost import vit_finetune_cost, vit_forward_flops

    for model, resolution in (("ViT-B/16", 384), ("ViT-L/16", 512), ("ViT-B/32", 224)):
        assert vit_forward_flops(model, resolution) == model_forward_flops(model, resolution).per_image
    cost = vit_finetune_cost("ViT-L/16", paper_recipe("imagenet", table2_imagenet=True), 1_281_167, 50_000)
    per_run = 3 * vit_forward_flops("ViT-L/16", 512) * 20_000 * 512 / (989e12 * 0.4) / 3600
    assert cost.run_hours(0) == pytest.approx(per_run) and cost.held_out_images == 12_812
    assert cost.tier_hours == pytest.approx(5 * per_run, rel=0.01) and "≈ 78 H100-hours" in cost.describe()


def test_the_paper_imagenet_recipe_is_read_from_the_cache_never_trained_without_cuda(tmp_path, monkeypatch):
    """On a CPU the finetune tier refuses to start the paper's ImageNet recipe (tens of GPU-hours) and says how to
    train it; a run already in the cache — what a torchrun launch leaves — is read instead."""
    from measure.errors import Missing
    from measure.tiers.finetune import FinetuneTier
    from tests.fake_datasets import write_imagenet_train, write_imagenet_val

    write_imagenet_train(tmp_path / "imagenet")
    write_imagenet_val(tmp_path / "imagenet")
    monkeypatch.setitem(ds_mod.DATASETS, "imagenet", dataclasses.replace(ds_mod.DATASETS["imagenet"],
                                                                         sizes={"train": 51, "val": 6}))
    torch.manual_seed(0)
    model = timm.create_model("test_vit", num_classes=1000).eval()
    write_hf_cache_repo(tmp_path / "hf", f"timm/{TINY.hub_id}", timm_hub_files(model, tmp_path / "export"))
    monkeypatch.setattr(protocol, "train", lambda *a, **k: pytest.fail("trained the paper's ImageNet recipe on a CPU"))
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=tmp_path / "hf"))
    runner = TierRunner(tiers=("finetune",), load=lambda spec, n: loader(spec, num_classes=n),
                        open_dataset=DatasetOpener(DataPaths(tmp_path, tmp_path / "imagenet")),
                        cache=ChunkCache(tmp_path / "cache"), device=torch.device("cpu"), num_workers=0)
    with pytest.raises(Missing, match=r"not trained without CUDA .*torchrun --nproc-per-node 8 -m measure.train.launch "
                                      r"tiny-vit-i21k imagenet") as info:
        FinetuneTier().measure(runner, TINY, "imagenet")
    assert "H100-hours" in info.value.need and "512 px, Polyak averaging 0.9999" in info.value.need

    # the same run, complete in the cache (bf16, as a GPU launch keys it): read, not refused
    recipe = tiny_recipe(steps=3, batch=4)
    request = protocol.RunRequest(make_model=tiny_vit, data_config={"mean": (0.5,) * 3, "std": (0.5,) * 3},
                                  num_classes=3, train_data=ColourDataset(8, transform=train_transform(recipe)),
                                  eval_data=ColourDataset(4, transform=protocol.eval_transform(recipe)),
                                  recipe=recipe, base_lr=0.01, seed=0, trained_on="train", evaluated_on="test",
                                  key={"checkpoint": "tiny"})
    monkeypatch.undo()
    cache = ChunkCache(tmp_path / "cache2")
    first = protocol.run_one(request, cache, CPU)
    refusing = dataclasses.replace(CPU, refuse_training=Missing("would train", need="GPUs"))
    again = protocol.run_one(request, cache, refusing)
    assert again.from_cache and np.array_equal(again.correct, first.correct)
    with pytest.raises(Missing, match="would train"):
        protocol.run_one(dataclasses.replace(request, seed=1), cache, refusing)


def test_launch_lists_the_imagenet_fine_tunes_the_claims_need(capsys):
    from measure.train import launch

    runs = {spec.key: plan for spec, plan in launch.imagenet_runs()}
    assert set(runs) == {"vit_l16-i21k", "vit_h14-i21k"}  # Table 2's ViT-L/16; Table 5's never-released ViT-H/14
    assert runs["vit_l16-i21k"].recipe.polyak_decay == 0.9999 and runs["vit_h14-i21k"].recipe.resolution == 384
    assert launch.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "vit_l16-i21k imagenet" in out and "H100-hours" in out
    assert launch.main(["no-such-key", "imagenet"]) == 2


class Recorded(Exception):
    pass


def test_imagenet_cells_no_released_fine_tune_reproduces_are_not_run_naming_tier_folders_and_gpus():
    """Table 2's ImageNet-21k ImageNet / ReaL cells and Table 5's ViT-H/14 ones: offline, not run (no longer
    untestable), naming the finetune tier, the ImageNet train and val folders and the GPU-hours; Table 5's cells
    of a released fine-tune stay with the eval tier, those of a never-released pre-training stay untestable."""
    from measure.data.datasets import IMAGENET_NEED, IMAGENET_TRAIN_NEED
    from measure.tiers.results import Unavailable
    from tests.claim_modules import load_claim_module

    class Check:
        def not_run(self, reason, paper=None, needs=None, plan=None, references=None):
            self.kind, self.reason, self.needs, self.plan = "not_run", reason, needs, plan
            raise Recorded

        def untestable(self, reason, paper=None, plan=None, references=None):
            self.kind, self.reason = "untestable", reason
            raise Recorded

    class Offline:  # the default run: tiers eval and probe only
        def selected(self, tier):
            return Unavailable.not_run(f"tier {tier} not selected", [f"select tier {tier}"])

        def measure(self, tier, models, dataset, method=None, reading=None):
            return Unavailable.not_run(f"{tier}: checkpoint missing", ["checkpoint"])

        def reading(self, tier, models, pipeline="", dataset=""):
            from measure.tiers.evidence import Evidence

            return Evidence(None).reading(tier, models, pipeline)

    claim1, claim2 = load_claim_module("test_claim1_vit_vs_cnn"), load_claim_module("test_claim2_pretraining_size")
    cells = [(claim1.test_table2_i21k_value, n) for n in claim1.TABLE2_I21K if n.dataset in ("imagenet", "imagenet_real")]
    cells += [(claim2.test_table5_value, n) for n in claim2.TABLE5
              if n.dataset in ("imagenet", "imagenet_real") and n.model in ("ViT-H/14", "ViT-B/16")]
    outcomes = {}
    for test, number in cells:
        check = Check()
        with pytest.raises(Recorded):
            test(check, Offline(), number)
        outcomes[(number.table, number.pretraining, number.dataset, number.model)] = check
    table2 = [c for key, c in outcomes.items() if key[0] == "Table 2"]
    h14 = [c for key, c in outcomes.items() if key[:2] == ("Table 5", "imagenet21k") and key[3] == "ViT-H/14"]
    assert len(table2) == 2 and len(h14) == 2
    for check in table2 + h14:
        assert check.kind == "not_run" and check.needs[0] == "select tier finetune"
        assert IMAGENET_TRAIN_NEED in check.needs and IMAGENET_NEED in check.needs
        assert any("H100-hours" in need and "torchrun" in need for need in check.needs)
        assert check.plan.kind == "value" and "ImageNet train folder" in check.plan.tier
    assert all("512 px, Polyak averaging 0.9999" in c.plan.tier for c in table2)
    assert all("384 px" in c.plan.tier for c in h14)
    b16 = outcomes[("Table 5", "imagenet21k", "imagenet", "ViT-B/16")]  # a released fine-tune: the eval tier's
    assert b16.kind == "not_run" and b16.reason == "eval: checkpoint missing"
    assert outcomes[("Table 5", "imagenet", "imagenet", "ViT-B/16")].kind == "untestable"  # the paper's I1k ViT
