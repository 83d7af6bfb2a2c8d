"""§3.2: fine-tuning at a higher resolution than pre-training by 2D interpolation of the position embeddings.

A ViT-B/16 checkpoint with a smooth position-embedding field and a fixed-seed random class token is
"pre-trained" at the paper's pre-training resolution (Appendix B.1: 224), saved as safetensors, and moved
to the paper's fine-tuning resolution (Appendix B.1.1: 384) by both resamplers the suite uses: timm's
load path (eval tier: bicubic, half-pixel centres) and ``measure.train.surgery.resample_position_embeddings``
(fine-tuning tier: vit_jax's bilinear with corners aligned). See ``measure/studies/posemb/`` for what is
measured; the result comes from the ``posemb_study`` fixture (computed once, then read from
``--claims-cache``). For each path:

* ``cls-token-unchanged`` — the class token has no location, so nothing may move it (fails if a load
  path drops, resamples or re-initialises it);
* ``pos-embed-rows`` — rows of ``pos_embed`` in the model's state dict after the resample;
* ``forward-patch-tokens`` — patch tokens the first transformer block receives in a forward pass at
  384 px ("The Vision Transformer can handle arbitrary sequence lengths");
* ``grid-agreement`` — relative RMS error of the resampled grid against the field at the positions the
  method samples ("2D interpolation ... according to their location in the original image"), judged
  against ``posemb``: the RMS error of linear 2D interpolation itself at the field's band limit.

The expectations are not printed numbers but follow from the paper's text: each is a row of
``paper/derived.csv`` with the sentences it follows from and, where it is arithmetic, its formula over
the printed numbers it reads.
"""

from __future__ import annotations

import pytest

import paper
from measure.studies.posemb.design import PATHS, ResolutionTransfer, linear_interpolation_rms_error
from measure.studies.posemb.study import PosembStudy
from pytest_claims import Measurement, Plan

pytestmark = pytest.mark.claim("posemb-interpolation")

MODEL, TIMM_NAME, PATCH = "ViT-B/16", "vit_base_patch16_224", 16
FIELD_MAX_CYCLES = 1.0   # LowFrequencyField.random's default band limit
TIER = "mechanism (synthetic checkpoint: smooth position embedding, random class token)"
ROW = f"{MODEL} fine-tuned at higher resolution"   # the derived rows' row in paper/derived.csv
# check -> (table, column) of its expectation in paper/derived.csv
EXPECTED = {
    "cls-token-unchanged": ("Section 3.2", "class-token change"),
    "pos-embed-rows": ("Appendix B.1.1", "position embeddings"),
    "forward-patch-tokens": ("Section 3.2", "patch tokens in the forward pass"),
    "grid-agreement": ("Section 3.2", "grid error at corresponding positions"),
}


@pytest.fixture(scope="module")
def moved(posemb_study: PosembStudy) -> ResolutionTransfer:
    pre = int(paper.number(table="Appendix B.1", column="pre-training resolution").value)
    fine = int(paper.number(table="Appendix B.1.1", column="fine-tuning resolution").value)
    return posemb_study.transfer(TIMM_NAME, pre, fine, seed=0)


def _case(check: str, m: ResolutionTransfer, path: str) -> tuple[Measurement, paper.PaperNumber, str]:
    r = m.paths[path]
    side = m.finetune_res // PATCH
    how = m.method(path)
    table, column = EXPECTED[check]
    expected = paper.derived(table=table, row=ROW, column=column)
    if check == "cls-token-unchanged":
        return (Measurement(r.cls_max_abs_change, method=f"max |after − before| over the class token and its "
                            f"position embedding; {how}"), expected, "exact")
    if check == "pos-embed-rows":
        return (Measurement(r.pos_embed_rows, method=f"state_dict()['pos_embed'].shape[1] after the resample; {how}"),
                expected, "exact")
    if check == "forward-patch-tokens":
        return (Measurement(r.forward_patch_tokens,
                            method=f"sequence length entering blocks[0] in a forward pass at {m.finetune_res}px, "
                                   f"minus {r.forward_prefix_tokens} prefix token(s); {how}"), expected, "exact")
    if check == "grid-agreement":
        g = r.grid
        return (Measurement(g.relative_rms_error,
                            method=f"RMS over the {side}×{side} grid and all channels of (resampled − field at the "
                                   f"positions the method samples, '{g.convention}' convention) / RMS of the "
                                   f"original {m.grid_before[0]}×{m.grid_before[1]} grid; field: 4 plane waves of "
                                   f"≤ {FIELD_MAX_CYCLES:g} cycle per image side per axis per channel; {how}",
                            extra={"convention": g.convention, "max_location_offset": g.max_location_offset}),
                expected, "posemb")
    raise ValueError(f"unknown check {check!r}")


CHECKS = ("cls-token-unchanged", "forward-patch-tokens", "grid-agreement", "pos-embed-rows")


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("path", sorted(PATHS))
def test_posemb_interpolation(claim_check, moved: ResolutionTransfer, path: str, check: str) -> None:
    measured, expected, tolerance = _case(check, moved, path)
    bound = linear_interpolation_rms_error(moved.grid_before[0], FIELD_MAX_CYCLES)
    plan = Plan(kind="value", tier=f"{TIER}; {path}", tolerance=tolerance,
                description=f"{check} of a checkpoint moved from a {moved.grid_before[0]}x{moved.grid_before[1]} to a "
                            f"{moved.grid_after[0]}x{moved.grid_after[1]} patch grid by {path}, against {expected.label}")
    claim_check.value(measured=measured, paper=expected, tolerance=tolerance, tier=f"{TIER}; {path}", plan=plan,
                      details={"path": path, "grid_before": list(moved.grid_before),
                               "grid_after": list(moved.grid_after),
                               "linear_interpolation_rms_error_at_band_limit": bound})
