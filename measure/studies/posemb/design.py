"""The §3.2 study's fixed parts: the two resampling paths, the tolerance formula, the result records.

Standard library only: the claim tests read ``PATHS`` at collection time, and a cached result is
rebuilt from its JSON record without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CODE_MODULES",
    "CONVENTIONS",
    "PATHS",
    "GridAgreement",
    "PathResult",
    "ResolutionTransfer",
    "linear_interpolation_rms_error",
]

CONVENTIONS = ("centres", "corners-aligned")
# path -> (how it resamples, the geometric convention it samples the old grid with)
PATHS = {
    "timm-load": (("timm load_pretrained → checkpoint_filter_fn → resample_abs_pos_embed (bicubic, antialias, "
                   "align_corners=False)"), "centres"),
    "finetune-tier": (("measure.train.surgery.resample_position_embeddings (bilinear, align_corners=True = vit_jax "
                       "scipy.ndimage.zoom order=1)"), "corners-aligned"),
}
# The modules whose source decides a transfer's result: part of its cache key (the fine-tuning tier's
# resampler included; tests/test_posemb.py checks that it is the one transfer_resolution runs).
CODE_MODULES = ("measure.studies.posemb.design", "measure.studies.posemb.field", "measure.studies.posemb.transfer",
                "measure.train.surgery")


def linear_interpolation_rms_error(grid: int, cycles: float) -> float:
    """RMS error, relative to the field's RMS, of piecewise-linear 2D interpolation of a plane wave with
    ``cycles`` cycles per image side along each axis, sampled on a ``grid`` × ``grid`` patch grid.

    Inside a cell of side h = 1/grid, linear interpolation misses f by ≈ (h²/2)·[t(1−t)·f_uu + s(1−s)·f_vv]
    (t, s: position within the cell). For a plane wave f_uu = f_vv = −(2π·cycles)²·f, and with t, s
    uniform, E[(t(1−t) + s(1−s))²] = 2/30 + 2/36 = 1/15 + 1/18, so the relative RMS error is
    (2π·cycles/grid)²/2 · √(1/15 + 1/18). It is the error any 2D interpolation of at least linear order
    is allowed by sampling alone; ``tests/test_posemb.py`` checks it against a direct measurement.
    """
    return (2 * math.pi * cycles / grid) ** 2 / 2 * math.sqrt(1 / 15 + 1 / 18)


@dataclass(frozen=True)
class GridAgreement:
    """An interpolated grid against the field at the positions its method samples."""

    convention: str
    relative_rms_error: float
    max_location_offset: float   # max |sampled position − true patch centre|, fraction of the image side


@dataclass(frozen=True)
class PathResult:
    """What one resampling path did to the checkpoint."""

    path: str                       # a key of PATHS
    resampler: str
    pos_embed_rows: int             # rows of pos_embed in the model's state dict after the resample
    forward_patch_tokens: int       # tokens entering the first block at the new resolution, prefix excluded
    forward_prefix_tokens: int
    cls_max_abs_change: float       # class token and its position embedding, max |after − before|
    grid: GridAgreement


@dataclass(frozen=True)
class ResolutionTransfer:
    timm_name: str
    pretrain_res: int
    finetune_res: int
    grid_before: tuple[int, int]
    grid_after: tuple[int, int]
    checkpoint: str                 # file name of the safetensors checkpoint both paths loaded
    paths: dict[str, PathResult]

    def method(self, path: str) -> str:
        return (f"timm {self.timm_name} saved at {self.pretrain_res}px as safetensors with a low-frequency "
                f"position-embedding grid and a fixed-seed random class token (every other weight zero: no "
                f"measured value depends on it); moved to {self.finetune_res}px by {self.paths[path].resampler}")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ResolutionTransfer:
        """The inverse of ``dataclasses.asdict`` (a cached result is stored as that JSON record)."""
        paths = {name: PathResult(**{**r, "grid": GridAgreement(**r["grid"])}) for name, r in record["paths"].items()}
        return cls(**{**record, "grid_before": tuple(record["grid_before"]), "grid_after": tuple(record["grid_after"]),
                      "paths": paths})
