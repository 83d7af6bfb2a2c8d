"""Figure 6's attention rollout against the ImageNet boxes and Figure 7 (left)'s embedding-filter components.

End to end — registry row → the suite's loader → the analysis tier on the fake ImageNet validation folder and box
files written in the public ILSVRC-2012 format → the claim function → the plugin's rule — on tiny timm ViTs with
planted weights (hub-cache layout):

* planted — the class token (every token) attends to the patches in the middle of the image, where every box lies;
  the patch-embedding filters are smooth (random mixtures of low-frequency cosines): both checks verify;
* reversed — attention on the patches outside the middle; the filters those smooth ones modulated by a pixel
  checkerboard (their spectrum moved to the Nyquist corner): both checks refute.

Then each statistic against values computed by hand, with its negative control (a uniform map reads the boxes'
share exactly; white noise reads the share of the frequency grid within the cutoff).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from measure.analysis import filters, rollout
from measure.data.imagenet_boxes import BOXES_NEED, boxes_folder, boxes_for, parse_boxes
from measure.data.opening import DatasetOpener
from measure.errors import Missing
from measure.models.hub import HubAccess
from measure.models.loaders import CheckpointLoader
from measure.run.cache import ChunkCache
from measure.tiers.evidence import Evidence
from measure.tiers.runner import TierRunner
from tests.claim_modules import load_claim_module
from tests.fake_checkpoints import timm_hub_files, write_hf_cache_repo
from tests.test_analysis import VIT, judged, rule_verdict
from tests.tier_world import world_paths

# timm's test_vit: a class token (test_vit3 has a register token and an attention-pooling head instead)
VIT_TAG = "test_vit.r160_in1k"
CLS_VIT = dataclasses.replace(VIT, key="tiny-vit-cls", hub_id=VIT_TAG, note="test-only tiny ViT (class token)")
ROLLOUT = load_claim_module("test_fig6_attention_rollout")
FILTERS = load_claim_module("test_fig7_embedding_filters")
MIDDLE = (0.3, 0.3, 0.7, 0.7)  # every fake image's box, as fractions: rows and columns 3-6 of the 10 x 10 grid
FILTER_SCALE = 1e-5  # planted filters are this small: an image moves a token by ~1e-4, its ±1 pattern decides


def middle_patches(rows: int = 10, cols: int = 10) -> np.ndarray:
    r, c = np.divmod(np.arange(rows * cols), cols)
    return (r >= 3) & (r <= 6) & (c >= 3) & (c <= 6)


def dct_basis(ky: int, kx: int, size: int) -> np.ndarray:
    """The 2-D DCT-II basis function of index (ky, kx) on a size x size patch: ky / 2·size cycles per pixel down."""
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.cos(np.pi * ky * (2 * y + 1) / (2 * size)) * np.cos(np.pi * kx * (2 * x + 1) / (2 * size))


def smooth_filters(count: int, size: int, seed: int = 0) -> np.ndarray:
    """(count, 3, size, size) random mixtures of the DCT basis functions of index ≤ 3 (≤ 3/32 cycles per pixel on
    16 px): all their energy within the cutoff."""
    rng = np.random.default_rng(seed)
    bases = np.stack([dct_basis(ky, kx, size) for ky in range(4) for kx in range(4)])
    return np.einsum("ncb,byx->ncyx", rng.normal(size=(count, 3, len(bases))), bases)


def checkerboard(size: int) -> np.ndarray:
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return (-1.0) ** (x + y)


def planted_vit(kind: str) -> torch.nn.Module:
    """test_vit (10 x 10 patches of 16 px, 2 heads, 6 layers) whose every token attends to the middle patches
    (kind "planted") or to the others ("reversed"), in every layer and head, with smooth or checkerboard filters.

    Patch tokens are ±1 patterns (mean 0, variance 1: LayerNorm leaves them): u in the middle, v outside, w the
    class token, mutually orthogonal. Each head's query is a constant (bias) and its key reads u (or v), so every
    query puts logit 6 on each attended patch and 0 elsewhere; the blocks add nothing to the residual stream."""
    torch.manual_seed(0)
    model = timm.create_model(VIT_TAG.split(".")[0], num_classes=1000).eval()
    dim, heads = model.embed_dim, model.blocks[0].attn.num_heads
    u = torch.tensor([1.0, -1.0, 1.0, -1.0] * (dim // 4))
    v = torch.tensor([1.0, -1.0, -1.0, 1.0] * (dim // 4))
    w = torch.tensor([1.0, 1.0, -1.0, -1.0] * (dim // 4))
    inside = torch.from_numpy(middle_patches())
    attended = u if kind == "planted" else v
    smooth = smooth_filters(dim, 16)
    planted_filters = smooth if kind == "planted" else smooth * checkerboard(16)
    with torch.no_grad():
        model.patch_embed.proj.weight.copy_(torch.from_numpy(FILTER_SCALE * planted_filters / np.abs(planted_filters).max()))
        model.patch_embed.proj.bias.zero_()
        model.pos_embed.zero_()
        model.pos_embed[0, 1:] = torch.where(inside[:, None], u, v)
        model.cls_token.copy_(w.view(1, 1, -1))
        for block in model.blocks:
            attn = block.attn
            block.norm1.weight.fill_(1.0)
            block.norm1.bias.zero_()
            attn.qkv.weight.zero_()
            attn.qkv.bias.zero_()
            for h in range(heads):
                attn.qkv.bias[h * attn.head_dim] = 1.0  # the query: e_0 of the head, for every token
                attn.qkv.weight[dim + h * attn.head_dim] = attended * 6.0 / (dim * attn.scale)  # key: 6·(attended·x)/D
            attn.proj.weight.zero_()
            attn.proj.bias.zero_()
            block.mlp.fc2.weight.zero_()
            block.mlp.fc2.bias.zero_()
    return model


VOC = """<annotation>
\t<folder>val</folder>
\t<filename>{name}</filename>
\t<source><database>ILSVRC_2012</database></source>
\t<size><width>{width}</width><height>{height}</height><depth>3</depth></size>
\t<segmented>0</segmented>
{objects}</annotation>
"""
OBJECT = """\t<object>
\t\t<name>{wnid}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
\t\t<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>
\t</object>
"""


def write_boxes(imagenet: Path, folder: Path, box=MIDDLE) -> Path:
    """val/ILSVRC2012_val_<n>.xml for every fake val image, as ILSVRC2012_bbox_val_v3.tgz lays them out: the box
    `box` (fractions) in the image's own pixels (1-based, inclusive), given twice (union counted once)."""
    out = folder / "val"
    out.mkdir(parents=True, exist_ok=True)
    for image in sorted((imagenet / "val").glob("*/*.JPEG")):
        width, height = Image.open(image).size
        pixels = {"xmin": round(box[0] * width) + 1, "ymin": round(box[1] * height) + 1,
                  "xmax": round(box[2] * width), "ymax": round(box[3] * height), "wnid": image.parent.name}
        (out / f"{image.stem}.xml").write_text(VOC.format(name=image.stem, width=width, height=height,
                                                          objects=OBJECT.format(**pixels) * 2))
    return folder


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for kind in ("planted", "reversed"):
        base = tmp_path_factory.mktemp(f"maps-{kind}")
        model = planted_vit(kind)
        write_hf_cache_repo(base / "hub", f"timm/{CLS_VIT.hub_id}", timm_hub_files(model, base / "export"))
        out[kind] = base
    return out


def evidence_for(world, cache: Path, boxes: Path | None) -> Evidence:
    loader = CheckpointLoader(HubAccess(offline=True, cache_dir=cache / "hub"))
    paths = dataclasses.replace(world_paths(world), imagenet_boxes=boxes)
    runner = TierRunner(tiers=("analysis",), load=lambda spec, n: loader(spec, num_classes=n),
                        open_dataset=DatasetOpener(paths), cache=ChunkCache(cache / "results"),
                        device=torch.device("cpu"), batch_size=6, num_workers=0)
    return Evidence(runner, find=lambda *args, **kwargs: CLS_VIT)


CHECKS = [("fig6-attention-rollout", ROLLOUT.test_class_token_rollout_falls_inside_the_object_boxes, "ViT-L/16"),
          ("fig7-embedding-filters", FILTERS.test_principal_components_of_the_embedding_filters_are_smooth, "ViT-L/32")]


@pytest.mark.parametrize("claim,test,model", CHECKS, ids=["rollout", "filters"])
def test_planted_structure_verifies_and_reversed_structure_refutes(trusted, caches, tmp_path, claim, test, model):
    boxes = write_boxes(trusted.imagenet, tmp_path / "bbox")
    records = {kind: judged(claim, test, evidence_for(trusted, caches[kind], boxes), model)
               for kind in ("planted", "reversed")}
    assert {kind: r.verdict for kind, r in records.items()} == {"planted": "verified", "reversed": "refuted"}
    for record in records.values():
        assert record.kind == "ordering_scores" and record.tier.startswith("analysis")
        assert record.details["figure"]["kind"] == "heatmaps"
    planted = records["planted"].details["tiny-vit-cls"]
    if claim.startswith("fig6"):
        # the middle 4 x 4 of 10 x 10 patches: the boxes' share is 0.16 up to the pixel rounding of the fake boxes
        assert planted["mean_area_share"] == pytest.approx(0.16, abs=0.03)
        assert planted["mean_mass"] > 0.95  # logit 6 on 16 patches against 0 on 84: 0.987 of each query's weight
        assert records["reversed"].details["tiny-vit-cls"]["mean_mass"] < 0.02
        assert len(records["planted"].details["figure"]["maps"]) == 8  # 4 images: rollout and boxes
    else:
        assert len(records["planted"].details["figure"]["maps"]) == 28
        assert planted["white_noise_share"] == pytest.approx(58 / 256, abs=1e-4)  # a quarter disc of radius 8


def test_another_model_cannot_refute_and_without_inputs_the_plan_says_what_to_provide(trusted, caches, tmp_path):
    boxes = write_boxes(trusted.imagenet, tmp_path / "bbox")
    for claim, test, _ in CHECKS:
        record = judged(claim, test, evidence_for(trusted, caches["reversed"], boxes), "ViT-B/16")
        assert rule_verdict(record) == "refuted" and record.verdict == "inconclusive"
        assert ("figure" in record.details) == claim.startswith("fig6")  # 28 components: the paper's model only
    (tmp_path / "empty" / "hub").mkdir(parents=True)
    rollout_record = judged(*CHECKS[0][:2], evidence_for(trusted, tmp_path / "empty", None), "ViT-L/16")
    assert rollout_record.verdict == "not_run" and rollout_record.plan.tier.startswith("analysis")
    assert any(VIT_TAG in need for need in rollout_record.needs)  # the checkpoint …
    assert BOXES_NEED in rollout_record.needs  # … and the boxes, at once
    filter_record = judged(*CHECKS[1][:2], evidence_for(trusted, tmp_path / "empty", None), "ViT-L/32")
    assert filter_record.verdict == "not_run" and BOXES_NEED not in filter_record.needs  # weights only
    assert '"' in filter_record.plan.description and "cannot refute" not in filter_record.plan.description


def test_rollout_without_box_files_is_not_run_and_names_the_release(trusted, caches, tmp_path):
    record = judged(*CHECKS[0][:2], evidence_for(trusted, caches["planted"], tmp_path / "nothing"), "ViT-L/16")
    assert record.verdict == "not_run" and list(record.needs) == [BOXES_NEED]
    assert "ILSVRC2012_bbox_val_v3.tgz" in BOXES_NEED and "--claims-imagenet-boxes" in BOXES_NEED


# -- attention rollout on its own -------------------------------------------------------------------------------

def test_rollout_of_a_hand_made_two_layer_attention():
    # 3 tokens (class token, p1, p2). Layer 1: everyone but p2 attends to p1; layer 2: a cyclic shift.
    w1 = np.array([[0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    w2 = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=float)
    # Ã = (W + I)/2: Ã1 = [[.5,.5,0],[0,1,0],[0,0,1]], Ã2 = [[.5,0,.5],[.5,.5,0],[0,.5,.5]]; R = Ã2·Ã1
    expected = np.array([[0.25, 0.25, 0.5], [0.25, 0.75, 0.0], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(rollout.rollout([w1, w2]), expected)
    # the class token's row over the patches, renormalised: (0.25, 0.5) / 0.75
    np.testing.assert_allclose(rollout.class_token_map(rollout.rollout([w1, w2])), [1 / 3, 2 / 3])
    # the other order (Ã1·Ã2) is another matrix: the layers are multiplied from the first up
    assert not np.allclose(rollout.rollout([w2, w1]), expected)
    # per layer, the identity is added: without it the class token would read W2·W1's row (0, 0, 1)
    np.testing.assert_allclose((w2 @ w1)[0], [0, 0, 1])


def test_rollout_averages_heads_as_timm_computes_them():
    # test_vit: the maps of attention_rollout are the rollout of timm's own attention weights, heads averaged
    torch.manual_seed(1)
    model = timm.create_model("test_vit", num_classes=0).eval()
    seen = []
    for block in model.blocks:
        block.attn.fused_attn = False
        block.attn.attn_drop.register_forward_pre_hook(lambda m, a: seen.append(a[0].mean(1).double().numpy()))
    images = torch.randn(2, 3, 160, 160)
    maps = rollout.attention_rollout(model, images)
    expected = rollout.class_token_map(rollout.rollout(seen))
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps.sum(1), 1.0)


def test_box_coverage_and_mass_by_hand():
    # a 2 x 4 grid; a box over the middle half of the width and the top half: patches (0,1) and (0,2)
    coverage = rollout.box_coverage([(0.25, 0.0, 0.75, 0.5)], 2, 4)
    np.testing.assert_allclose(coverage, [0, 1, 1, 0, 0, 0, 0, 0])
    # a box over half of patch 0 and half of patch 1 of a 1 x 4 grid, given twice: the union counts once
    np.testing.assert_allclose(rollout.box_coverage([(0.125, 0, 0.375, 1)] * 2, 1, 4), [0.5, 0.5, 0, 0])
    assert rollout.area_share(coverage) == pytest.approx(0.25)
    # a map with 0.6 on patch (0,1), 0.1 on (0,2), 0.3 on (1,3): 0.7 inside
    assert rollout.box_mass(np.array([0, 0.6, 0.1, 0, 0, 0, 0, 0.3]), coverage) == pytest.approx(0.7)


def test_a_uniform_map_reads_exactly_the_area_share():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x0, x1 = np.sort(rng.uniform(size=2))
        y0, y1 = np.sort(rng.uniform(size=2))
        coverage = rollout.box_coverage([(x0, y0, x1, y1), (0.1, 0.1, 0.2, 0.9)], 14, 14)
        assert rollout.box_mass(np.full(196, 1 / 196), coverage) == pytest.approx(rollout.area_share(coverage))
        # and the area share is the boxes' area up to the sampling (8 x 8 points per patch)
        union = (x1 - x0) * (y1 - y0) + 0.08 - max(0, min(x1, 0.2) - max(x0, 0.1)) * max(0, min(y1, 0.9) - max(y0, 0.1))
        assert rollout.area_share(coverage) == pytest.approx(union, abs=2 * (2 / (14 * 8)))


def test_voc_boxes_are_read_one_based_and_inclusive(tmp_path):
    path = tmp_path / "ILSVRC2012_val_00000001.xml"
    path.write_text(VOC.format(name="ILSVRC2012_val_00000001", width=500, height=375,
                               objects=OBJECT.format(wnid="n01751748", xmin=111, ymin=108, xmax=441, ymax=193)
                               + OBJECT.format(wnid="n01751748", xmin=1, ymin=1, xmax=500, ymax=375)))
    boxes = parse_boxes(path)
    assert (boxes.width, boxes.height, boxes.wnids) == (500, 375, ("n01751748",) * 2)
    np.testing.assert_allclose(boxes.boxes[0], (110 / 500, 107 / 375, 441 / 500, 193 / 375))
    assert boxes.boxes[1] == (0.0, 0.0, 1.0, 1.0)  # the whole image: pixels 1..500 x 1..375
    assert boxes_folder(tmp_path, None) == tmp_path
    assert [b.name for b in boxes_for(tmp_path, ["n01751748/ILSVRC2012_val_00000001.JPEG"])] == [path.stem]
    with pytest.raises(Missing, match="no bounding-box file") as missing:
        boxes_for(tmp_path, ["ILSVRC2012_val_00000002.JPEG"])
    assert missing.value.need == BOXES_NEED
    with pytest.raises(Missing, match="ILSVRC2012_val_"):
        boxes_folder(None, tmp_path / "imagenet")  # nothing under <imagenet>/bbox
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ILSVRC2012_val_00000003.xml").write_text("<annotation><size></size></annotation>")
    with pytest.raises(Missing, match="not an ILSVRC-2012 bounding-box annotation"):
        parse_boxes(tmp_path / "bad" / "ILSVRC2012_val_00000003.xml")


# -- embedding filters on their own -----------------------------------------------------------------------------

def test_low_frequency_share_of_hand_made_filters():
    size = 32
    constant = np.ones((1, 3, size, size))
    slow = dct_basis(0, 16, size)[None, None]    # 16/64 cycle per pixel: just within the cutoff
    fast = dct_basis(0, 17, size)[None, None]    # 17/64: just beyond it
    diagonal = dct_basis(11, 11, size)[None, None]  # 11·√2/64 = 0.243 cycle per pixel: within
    shares = filters.low_frequency_share(np.concatenate([constant[:, :1], slow, fast, diagonal]))
    np.testing.assert_allclose(shares, [1.0, 1.0, 0.0, 1.0], atol=1e-12)
    assert filters.low_frequency_share(constant)[0] == pytest.approx(1.0)  # the channels summed
    board = checkerboard(size)[None, None].repeat(3, axis=1)
    assert filters.low_frequency_share(board)[0] < 0.001  # all but a sliver at the highest indices
    # white noise: the share of the 32 x 32 index grid within radius 16 — a quarter of the disc, axes included:
    # (N(16) − 4·16 − 1)/4 + 2·16 + 1 = 216 lattice points (Gauss's circle count N(16) = 797) of 1024
    assert filters.white_noise_share(32, 32) == 216 / 1024
    noise = np.random.default_rng(0).normal(size=(2000, 3, size, size))
    assert filters.low_frequency_share(noise).mean() == pytest.approx(216 / 1024, abs=0.005)


def test_principal_components_recover_two_planted_patterns_and_their_variance():
    # filters = a·p + b·q (+ a common mean), a ~ ±2, b ~ ±1 exactly balanced: variances 4 and 1
    size = 8
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    p = np.stack([np.cos(2 * np.pi * x / size)] * 3)  # a whole cycle: orthogonal to q and to the constant
    q = np.stack([np.cos(2 * np.pi * y / size)] * 3)
    p, q = p / np.linalg.norm(p), q / np.linalg.norm(q)
    a = np.array([2, -2, 2, -2], dtype=float)
    b = np.array([1, 1, -1, -1], dtype=float)
    stack = a[:, None, None, None] * p + b[:, None, None, None] * q + 5.0  # the mean filter is removed first
    components, explained = filters.principal_components(stack, 28)
    assert len(components) == 4  # no more components than filters
    np.testing.assert_allclose(explained[:2], [0.8, 0.2], atol=1e-12)
    assert abs(np.sum(components[0] * p)) == pytest.approx(1.0) and abs(np.sum(components[1] * q)) == pytest.approx(1.0)


def test_smooth_filters_read_smooth_and_their_checkerboard_twins_read_rough():
    smooth = smooth_filters(64, 16)
    for planted, expect in ((smooth, lambda s: s > 0.99), (smooth * checkerboard(16), lambda s: s < 0.02)):
        components, _ = filters.principal_components(planted)
        assert np.all(expect(filters.low_frequency_share(components)))
    control = filters.random_init_filters(timm.create_model("test_vit", num_classes=0))
    share = filters.low_frequency_share(filters.principal_components(control)[0])
    assert abs(share.mean() - filters.white_noise_share(16, 16)) < 0.05  # timm's init: white noise


def test_a_hybrid_has_no_rgb_filters():
    model = timm.create_model("vit_tiny_r_s16_p8_224", num_classes=0)
    with pytest.raises(ValueError, match="ResNet features"):
        filters.patch_filters(model)
    assert all("+" not in m for m in FILTERS.VITS)
