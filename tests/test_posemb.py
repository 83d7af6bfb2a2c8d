"""§3.2 measurement: grid agreement accepts both resamplers the suite uses, each against its own geometric
convention, and refuses wrong correspondences; the tolerance is the formula it claims to be."""

from __future__ import annotations

import inspect
import json
import math
import tomllib
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed

from measure.studies.posemb.design import CODE_MODULES, PATHS, ResolutionTransfer, linear_interpolation_rms_error
from measure.studies.posemb.field import LowFrequencyField, relative_rms_error, sample_positions
from measure.studies.posemb.study import PosembStudy
from measure.studies.posemb.transfer import transfer_resolution
from measure.train.surgery import resample_position_embeddings

OLD, NEW, DIM = 14, 24, 768


def _tolerance() -> float:
    with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["tool"]["claims"]["tolerances"]["posemb"]["abs"]


@pytest.fixture(scope="module")
def field() -> LowFrequencyField:
    return LowFrequencyField.random(DIM, seed=1)


def _as_image(tokens: torch.Tensor, n: int) -> torch.Tensor:
    return tokens.reshape(1, n, n, -1).permute(0, 3, 1, 2)


def _as_tokens(image: torch.Tensor) -> torch.Tensor:
    return image.permute(0, 2, 3, 1).reshape(-1, image.shape[1])


def _timm_load(old: torch.Tensor) -> torch.Tensor:
    """timm's checkpoint_filter_fn default: bicubic, antialias, half-pixel centres."""
    cls = torch.zeros(1, 1, old.shape[-1])
    return resample_abs_pos_embed(torch.cat([cls, old[None]], 1), [NEW, NEW], num_prefix_tokens=1)[0, 1:]


class _GridOnly(torch.nn.Module):
    """Just what measure.train.surgery.resample_position_embeddings touches: pos_embed + patch_embed."""

    def __init__(self, old: torch.Tensor) -> None:
        super().__init__()
        self.pos_embed = torch.nn.Parameter(torch.cat([torch.zeros(1, 1, old.shape[-1]), old[None]], 1))
        self.patch_embed = _PatchEmbed(OLD * 16)
        self.num_prefix_tokens = 1


class _PatchEmbed:
    def __init__(self, img_size: int) -> None:
        self.set_input_size(img_size=(img_size, img_size))

    def set_input_size(self, img_size: tuple[int, int]) -> None:
        self.grid_size = (img_size[0] // 16, img_size[1] // 16)


def _finetune_tier(old: torch.Tensor) -> torch.Tensor:
    """The fine-tuning tier's own function (vit_jax's zoom: bilinear, corners aligned)."""
    model = _GridOnly(old)
    resample_position_embeddings(model, NEW * 16)
    return model.pos_embed.data[0, 1:]


METHODS = {"timm-load": (_timm_load, PATHS["timm-load"][1]), "finetune-tier": (_finetune_tier, PATHS["finetune-tier"][1])}


def _error(field: LowFrequencyField, got: torch.Tensor, convention: str) -> float:
    return relative_rms_error(got, field.resampled_reference((OLD, OLD), (NEW, NEW), convention), scale=field.at(OLD))


WRONG = {
    "transposed": lambda r, old: _as_tokens(_as_image(r(old), NEW).transpose(2, 3)),
    "flipped": lambda r, old: _as_tokens(_as_image(r(old), NEW).flip(2)),
    "shifted-one-patch": lambda r, old: _as_tokens(torch.roll(_as_image(r(old), NEW), 1, dims=3)),
    "1d-sequence": lambda r, old: F.interpolate(old.T[None], size=NEW * NEW, mode="linear")[0].T,
    "nearest": lambda r, old: _as_tokens(F.interpolate(_as_image(old, OLD), size=(NEW, NEW), mode="nearest")),
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_resampler_agrees_with_the_field_where_it_samples(field, method):
    resample, convention = METHODS[method]
    assert _error(field, resample(field.at(OLD)), convention) < _tolerance()


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_wrong_correspondences_fail_the_agreement_check(field, method, wrong):
    resample, convention = METHODS[method]
    assert _error(field, WRONG[wrong](resample, field.at(OLD)), convention) > _tolerance()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_the_reference_convention_matters(field, method):
    # Judged against the other method's geometry, each resampler fails: the reference is not so loose that
    # the corner-aligned and half-pixel placements (≤ 0.21 old patch apart) are indistinguishable.
    resample, convention = METHODS[method]
    other = next(c for _, c in METHODS.values() if c != convention)
    assert _error(field, resample(field.at(OLD)), other) > _tolerance()


def test_finetune_tier_resampler_is_scipy_zoom_order_1(field):
    # vit_jax checkpoint.load_pretrained: scipy.ndimage.zoom(grid, (new/old, new/old, 1), order=1).
    from scipy import ndimage

    old = field.at(OLD)
    zoomed = ndimage.zoom(old.reshape(OLD, OLD, DIM).numpy(), (NEW / OLD, NEW / OLD, 1), order=1)
    assert torch.allclose(_finetune_tier(old), torch.from_numpy(zoomed).reshape(-1, DIM), atol=1e-5)


def test_sample_positions_follow_each_convention():
    centres = sample_positions(OLD, NEW, "centres")
    assert torch.allclose(centres, (torch.arange(NEW) + 0.5).double() / NEW)
    corners = sample_positions(OLD, NEW, "corners-aligned")
    assert corners[0] == pytest.approx(0.5 / OLD) and corners[-1] == pytest.approx(1 - 0.5 / OLD)
    assert torch.allclose(corners.diff(), torch.full((NEW - 1,), (OLD - 1) / (NEW - 1) / OLD, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown convention"):
        sample_positions(OLD, NEW, "edges")


def test_linear_interpolation_error_formula_matches_a_measurement():
    # One plane wave at the band limit (1 cycle per side on both axes), linearly interpolated from the 14×14
    # centres to a fine corners-aligned grid (positions ≈ uniform within cells, as the formula assumes).
    wave = LowFrequencyField(freqs=torch.tensor([[[1.0, 1.0]]]), phases=torch.tensor([[0.3]]), amps=torch.ones(1, 1))
    fine = 14 * 20 + 1
    got = F.interpolate(_as_image(wave.at(OLD), OLD), size=(fine, fine), mode="bilinear", align_corners=True)
    measured = relative_rms_error(_as_tokens(got), wave.resampled_reference((OLD, OLD), (fine, fine),
                                                                            "corners-aligned"), scale=wave.at(OLD))
    assert measured == pytest.approx(linear_interpolation_rms_error(OLD, 1.0), rel=0.1)
    assert linear_interpolation_rms_error(OLD, 1.0) == pytest.approx((2 * math.pi / 14) ** 2 / 2 * (1 / 15 + 1 / 18) ** 0.5)


def test_tolerance_is_the_linear_interpolation_error_at_the_band_limit():
    assert _tolerance() == pytest.approx(linear_interpolation_rms_error(224 // 16, 1.0), abs=5e-4)


def test_field_is_row_major_and_a_function_of_image_position():
    f = LowFrequencyField(freqs=torch.tensor([[[1.0, 0.0]]]), phases=torch.zeros(1, 1), amps=torch.ones(1, 1))
    grid = f.at(4, 3).reshape(4, 3)
    assert torch.allclose(grid, grid[:, :1].expand(4, 3))       # varies along rows only
    assert not torch.allclose(grid[0], grid[1])
    centre = torch.cos(torch.tensor(2 * torch.pi * 0.5 / 4))  # row 0 centre at u = 0.5/4
    assert torch.isclose(grid[0, 0], centre)


def test_relative_rms_error_refuses_mismatched_grids():
    with pytest.raises(ValueError, match="shapes differ"):
        relative_rms_error(torch.zeros(196, 4), torch.zeros(576, 4), scale=torch.ones(1))


def test_both_paths_move_a_checkpoint_to_a_higher_resolution(tmp_path):
    m = transfer_resolution("vit_tiny_patch16_224", 64, 96, tmp_path, seed=0)
    assert Path(m.checkpoint).suffix == ".safetensors" and (tmp_path / m.checkpoint).is_file()
    assert m.grid_before == (4, 4) and m.grid_after == (6, 6)
    assert set(m.paths) == {"timm-load", "finetune-tier"}
    for r in m.paths.values():
        assert r.pos_embed_rows == 37 and r.forward_patch_tokens == 36 and r.forward_prefix_tokens == 1
        assert r.cls_max_abs_change == 0.0
        assert r.grid.relative_rms_error < 1.0
    assert m.paths["timm-load"].grid.convention == "centres"
    assert m.paths["timm-load"].grid.max_location_offset == pytest.approx(0.0, abs=1e-12)
    assert m.paths["finetune-tier"].grid.max_location_offset == pytest.approx(0.5 / 4 - 0.5 / 6)


def test_a_resampler_that_ignores_location_fails_the_measurement(tmp_path):
    def sequence_order(model, resolution):  # 1-D resampling of the flattened grid, the mistake §3.2 rules out
        old = model.pos_embed.data
        model.patch_embed.set_input_size(img_size=(resolution, resolution))
        rows, cols = model.patch_embed.grid_size
        grid = F.interpolate(old[0, 1:].T[None], size=rows * cols, mode="linear")[0].T
        model.pos_embed = torch.nn.Parameter(torch.cat([old[:, :1], grid[None]], 1))

    m = transfer_resolution("vit_tiny_patch16_224", 224, 384, tmp_path, seed=0, resample=sequence_order)
    assert m.paths["finetune-tier"].grid.relative_rms_error > _tolerance()
    assert m.paths["timm-load"].grid.relative_rms_error < _tolerance()


def test_a_resampler_that_moves_the_class_token_is_seen(tmp_path):
    def blurs_everything(model, resolution):
        resample_position_embeddings(model, resolution)
        with torch.no_grad():
            model.pos_embed[0, 0] = model.pos_embed[0].mean(0)

    m = transfer_resolution("vit_tiny_patch16_224", 64, 96, tmp_path, seed=0, resample=blurs_everything)
    assert m.paths["finetune-tier"].cls_max_abs_change > 0


def test_the_checkpoint_holds_the_field_a_random_class_token_and_zeros_elsewhere(tmp_path):
    from safetensors.torch import load_file

    m = transfer_resolution("vit_tiny_patch16_224", 64, 96, tmp_path, seed=0)
    weights = load_file(str(tmp_path / m.checkpoint))
    assert torch.equal(weights["pos_embed"][0, 1:], LowFrequencyField.random(192, seed=1).at(4))
    assert weights["cls_token"].abs().min() > 0 and weights["pos_embed"][0, 0].abs().min() > 0
    rest = {k: v for k, v in weights.items() if k not in ("pos_embed", "cls_token")}
    assert rest and all(not v.any() for v in rest.values())  # no value of theirs is measured


def test_a_result_survives_its_json_record():
    m = transfer_resolution("vit_tiny_patch16_224", 64, 96, seed=0)  # no workdir: a temporary folder
    assert ResolutionTransfer.from_record(json.loads(json.dumps(asdict(m)))) == m


def test_a_second_study_reads_the_transfer_from_the_cache(tmp_path, monkeypatch):
    first = PosembStudy(tmp_path).transfer("vit_tiny_patch16_224", 64, 96, seed=0)
    assert first == transfer_resolution("vit_tiny_patch16_224", 64, 96, seed=0)

    def no_transfer(*args, **kwargs):
        raise AssertionError("computed again although the result is cached")

    monkeypatch.setattr("measure.studies.posemb.transfer.transfer_resolution", no_transfer)
    assert PosembStudy(tmp_path).transfer("vit_tiny_patch16_224", 64, 96, seed=0) == first
    with pytest.raises(AssertionError, match="computed again"):
        PosembStudy(tmp_path).transfer("vit_tiny_patch16_224", 64, 96, seed=1)  # another seed, another entry


def test_the_cache_key_covers_the_resampler_transfer_resolution_runs():
    default = inspect.signature(transfer_resolution).parameters["resample"].default
    assert default is resample_position_embeddings and default.__module__ in CODE_MODULES
