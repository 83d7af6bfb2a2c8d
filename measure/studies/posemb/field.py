"""The smooth position-embedding field of the §3.2 study, where each resampler reads it, and the grid error.

See the package docstring for the geometry: patch k of an n-cell axis is centred at (k + 0.5) / n of
the image side; a resampler of the ``centres`` convention reads the old grid at the new cells' true
centres, one of the ``corners-aligned`` convention maps the outermost cells onto each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from measure.studies.posemb.design import CONVENTIONS, GridAgreement

__all__ = ["LowFrequencyField", "grid_agreement", "relative_rms_error", "sample_positions"]


def sample_positions(old: int, new: int, convention: str) -> torch.Tensor:
    """Image coordinates in [0, 1] (along one axis) at which a resampler from ``old`` to ``new`` cells
    reads the old grid for each new cell, under its geometric ``convention``."""
    k = torch.arange(new, dtype=torch.float64)
    if convention == "centres":
        return (k + 0.5) / new
    if convention == "corners-aligned":
        step = (old - 1) / (new - 1) if new > 1 else 0.0
        return (0.5 + k * step) / old
    raise ValueError(f"unknown convention {convention!r}; known: {', '.join(CONVENTIONS)}")


@dataclass(frozen=True)
class LowFrequencyField:
    """``dim`` channels, each a sum of ``components`` plane waves of at most ``max_cycles`` cycles
    per image side along each axis."""

    freqs: torch.Tensor    # (dim, components, 2): cycles per image side along (row, column)
    phases: torch.Tensor   # (dim, components)
    amps: torch.Tensor     # (dim, components)

    @classmethod
    def random(cls, dim: int, seed: int, components: int = 4, max_cycles: float = 1.0) -> LowFrequencyField:
        g = torch.Generator().manual_seed(seed)
        freqs = (torch.rand(dim, components, 2, generator=g) * 2 - 1) * max_cycles
        phases = torch.rand(dim, components, generator=g) * 2 * math.pi
        amps = torch.randn(dim, components, generator=g)
        return cls(freqs, phases, amps)

    def at_positions(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The field on the grid of row positions ``u`` × column positions ``v`` (image coordinates),
        as (len(u)·len(v), dim) in row-major token order (timm's and the paper's flattening)."""
        uu, vv = torch.meshgrid(u.double(), v.double(), indexing="ij")
        f = self.freqs.double()
        arg = 2 * math.pi * (f[..., 0, None, None] * uu + f[..., 1, None, None] * vv)
        values = (self.amps.double()[..., None, None] * torch.cos(arg + self.phases.double()[..., None, None])).sum(1)
        return values.permute(1, 2, 0).reshape(len(u) * len(v), -1).float()

    def at(self, rows: int, cols: int | None = None) -> torch.Tensor:
        """The field at the centres of a rows × cols patch grid."""
        cols = rows if cols is None else cols
        return self.at_positions(sample_positions(rows, rows, "centres"), sample_positions(cols, cols, "centres"))

    def resampled_reference(self, old: tuple[int, int], new: tuple[int, int], convention: str) -> torch.Tensor:
        """The field where a resampler of ``convention`` from grid ``old`` to ``new`` reads it."""
        return self.at_positions(sample_positions(old[0], new[0], convention),
                                 sample_positions(old[1], new[1], convention))


def relative_rms_error(got: torch.Tensor, expected: torch.Tensor, scale: torch.Tensor) -> float:
    """RMS of (got − expected) over all tokens and channels, in units of the RMS of ``scale``."""
    if got.shape != expected.shape:
        raise ValueError(f"shapes differ: {tuple(got.shape)} vs {tuple(expected.shape)}")
    return float((got - expected).pow(2).mean().sqrt() / scale.pow(2).mean().sqrt())


def grid_agreement(interpolated: torch.Tensor, field: LowFrequencyField, old: tuple[int, int],
                   new: tuple[int, int], convention: str) -> GridAgreement:
    expected = field.resampled_reference(old, new, convention)
    error = relative_rms_error(interpolated, expected, scale=field.at(*old))
    offset = max(float((sample_positions(o, n, convention) - sample_positions(n, n, "centres")).abs().max())
                 for o, n in zip(old, new, strict=True))
    return GridAgreement(convention=convention, relative_rms_error=error, max_location_offset=offset)
