"""§3.2: fine-tuning at a higher resolution than pre-training by 2D interpolation of the position embeddings.

A ViT-B/16 with fixed-seed random weights and a smooth position-embedding field is "pre-trained" at the
paper's pre-training resolution (Appendix B.1: 224), saved as safetensors, and moved to the paper's
fine-tuning resolution (Appendix B.1.1: 384) by both resamplers the suite uses: timm's load path (eval
tier: bicubic, half-pixel centres) and ``measure.train.finetune.resample_position_embeddings`` (fine-tuning
tier: vit_jax's bilinear with corners aligned). See ``measure/studies/posemb.py`` for what is measured. For each
path:

* ``cls-token-unchanged`` — the class token has no location, so nothing may move it (fails if a load
  path drops, resamples or re-initialises it);
* ``pos-embed-rows`` — rows of ``pos_embed`` in the model's state dict after the resample;
* ``forward-patch-tokens`` — patch tokens the first transformer block receives in a forward pass at
  384 px ("The Vision Transformer can handle arbitrary sequence lengths");
* ``grid-agreement`` — relative RMS error of the resampled grid against the field at the positions the
  method samples ("2D interpolation ... according to their location in the original image"), judged
  against ``posemb``: the RMS error of linear 2D interpolation itself at the field's band limit.

Expectations derived from the paper's text are recorded as derived paper values with their section.
"""

from __future__ import annotations

import pytest

import paper
from measure.studies.posemb import PATHS, ResolutionTransfer, linear_interpolation_rms_error, transfer_resolution
from pytest_claims import Measurement

pytestmark = pytest.mark.claim("posemb-interpolation")

MODEL, TIMM_NAME, PATCH = "ViT-B/16", "vit_base_patch16_224", 16
FIELD_MAX_CYCLES = 1.0   # LowFrequencyField.random's default band limit
TIER = "mechanism (random weights, synthetic smooth position embedding)"
RESOLUTION_NOTE = "Appendix B.1.1 resolution, patch size kept: §3.2"


@pytest.fixture(scope="module")
def moved(tmp_path_factory) -> ResolutionTransfer:
    pre = int(paper.number(table="Appendix B.1", column="pre-training resolution").value)
    fine = int(paper.number(table="Appendix B.1.1", column="fine-tuning resolution").value)
    return transfer_resolution(TIMM_NAME, pre, fine, tmp_path_factory.mktemp("posemb"), seed=0)


def _derived(table: str, column: str, value: float, unit: str, note: str) -> paper.PaperNumber:
    return paper.PaperNumber(table=table, row=f"{MODEL} fine-tuned at higher resolution", column=column,
                             value=value, std=None, unit=unit, model=MODEL, pretraining="", dataset="", metric="",
                             note=f"derived: {note}")


def _case(check: str, m: ResolutionTransfer, path: str) -> tuple[Measurement, paper.PaperNumber, str]:
    r = m.paths[path]
    side = m.finetune_res // PATCH
    how = m.method(path)
    if check == "cls-token-unchanged":
        return (Measurement(r.cls_max_abs_change, method=f"max |after − before| over the class token and its "
                            f"position embedding; {how}"),
                _derived("Section 3.2", "class-token change", 0.0, "",
                         "2D interpolation is by location in the image; the class token has none"), "exact")
    if check == "pos-embed-rows":
        return (Measurement(r.pos_embed_rows, method=f"state_dict()['pos_embed'].shape[1] after the resample; {how}"),
                _derived("Appendix B.1.1", "position embeddings", side * side + r.forward_prefix_tokens, "rows",
                         f"({m.finetune_res}/{PATCH})² patches + {r.forward_prefix_tokens} class token "
                         f"({RESOLUTION_NOTE})"), "exact")
    if check == "forward-patch-tokens":
        return (Measurement(r.forward_patch_tokens,
                            method=f"sequence length entering blocks[0] in a forward pass at {m.finetune_res}px, "
                                   f"minus {r.forward_prefix_tokens} prefix token(s); {how}"),
                _derived("Section 3.2", "patch tokens in the forward pass", side * side, "tokens",
                         f"'we keep the patch size the same, which results in a larger effective sequence length': "
                         f"({m.finetune_res}/{PATCH})² ({RESOLUTION_NOTE})"), "exact")
    if check == "grid-agreement":
        g = r.grid
        return (Measurement(g.relative_rms_error,
                            method=f"RMS over the {side}×{side} grid and all channels of (resampled − field at the "
                                   f"positions the method samples, '{g.convention}' convention) / RMS of the "
                                   f"original {m.grid_before[0]}×{m.grid_before[1]} grid; field: 4 plane waves of "
                                   f"≤ {FIELD_MAX_CYCLES:g} cycle per image side per axis per channel; {how}",
                            extra={"convention": g.convention, "max_location_offset": g.max_location_offset}),
                _derived("Section 3.2", "grid error at corresponding positions", 0.0, "relative RMS",
                         "'2D interpolation of the pre-trained position embeddings, according to their location "
                         "in the original image'"), "posemb")
    raise ValueError(f"unknown check {check!r}")


CHECKS = ("cls-token-unchanged", "forward-patch-tokens", "grid-agreement", "pos-embed-rows")


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("path", sorted(PATHS))
def test_posemb_interpolation(claim_check, moved: ResolutionTransfer, path: str, check: str) -> None:
    measured, expected, tolerance = _case(check, moved, path)
    bound = linear_interpolation_rms_error(moved.grid_before[0], FIELD_MAX_CYCLES)
    claim_check.value(measured=measured, paper=expected, tolerance=tolerance, tier=f"{TIER}; {path}",
                      details={"path": path, "grid_before": list(moved.grid_before),
                               "grid_after": list(moved.grid_after),
                               "linear_interpolation_rms_error_at_band_limit": bound})
