"""Figure 7 (left), §4.5: the principal components of the patch-embedding filters, and how smooth they are.

§4.5: "Figure 7 (left) shows the top principal components of the the learned embedding filters. The components
resemble plausible basis functions for a low-dimensional representation of the fine structure within each patch."
The figure shows 28 components of ViT-L/32's filters ("Filters of the initial linear embedding of RGB values").

* `principal_components` — the filters (D, C, P, P) as D vectors of C·P·P values, centred on the mean filter, their
  top `COMPONENTS` right singular vectors, each back as (C, P, P) (unit norm; the sign of a component is arbitrary
  and nothing below depends on it).
* `low_frequency_share` — per component, the share of its energy (squared orthonormal 2-D DCT-II coefficients,
  summed over the colour channels) at spatial frequencies up to `CUTOFF` cycles per pixel (half the Nyquist
  frequency: periods of 4 px or more; DCT index k of an N-pixel side is k / 2N cycles per pixel). The DCT, as JPEG
  uses for image blocks, and not the DFT: a patch is no period of anything, and the DFT would read the jump between
  its opposite edges as high-frequency energy. A basis for "the fine structure within each patch" that a
  low-dimensional code keeps is smooth at the pixel level: most of its energy at low frequencies. A constant filter
  reads 1, a DCT basis function 1 or 0 by its index, a pixel checkerboard ≈ 0.001; white noise reads the share of
  the index grid within the cutoff (`white_noise_share`: 216/1024 ≈ 0.21 on a 32 x 32 patch).
* The control: the same statistic on the same architecture's randomly initialised filters (timm's initialisation,
  as training starts): "learned" basis functions must be smoother than the ones training started from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

COMPONENTS = 28  # Figure 7 (left) shows 28
CUTOFF = 0.25    # cycles per pixel: half the Nyquist frequency (0.5)


def principal_components(filters: np.ndarray, count: int = COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """((count, C, P, P) components, (count,) share of the filters' variance each explains) of filters
    (D, C, P, P), centred on the mean filter; the largest first."""
    filters = np.asarray(filters, dtype=np.float64)
    flat = filters.reshape(len(filters), -1)
    centred = flat - flat.mean(axis=0, keepdims=True)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    count = min(count, len(singular))
    variance = singular ** 2
    return vt[:count].reshape(count, *filters.shape[1:]), variance[:count] / variance.sum()


def _low_frequency_mask(height: int, width: int, cutoff: float) -> np.ndarray:
    fy, fx = np.meshgrid(np.arange(height) / (2 * height), np.arange(width) / (2 * width), indexing="ij")
    return np.hypot(fy, fx) <= cutoff + 1e-12


def low_frequency_share(components: np.ndarray, cutoff: float = CUTOFF) -> np.ndarray:
    """(n,) share of each (C, H, W) component's energy at spatial frequencies ≤ `cutoff` cycles per pixel."""
    from scipy.fft import dctn

    components = np.asarray(components, dtype=np.float64)
    power = (dctn(components, type=2, norm="ortho", axes=(-2, -1)) ** 2).sum(axis=-3)  # summed over the channels
    mask = _low_frequency_mask(*components.shape[-2:], cutoff)
    return power[:, mask].sum(-1) / power.reshape(len(power), -1).sum(-1)


def white_noise_share(height: int, width: int, cutoff: float = CUTOFF) -> float:
    """The expected share of white noise (its orthonormal DCT is white too): the fraction of the index grid within
    the cutoff."""
    return float(_low_frequency_mask(height, width, cutoff).mean())


def patch_filters(model: Any) -> np.ndarray:
    """(D, C, P, P) RGB patch-embedding filters of a timm ViT (a hybrid's projection reads ResNet features, not
    RGB values: ValueError)."""
    if getattr(model.patch_embed, "backbone", None) is not None:
        raise ValueError("a hybrid's patch embedding projects ResNet features, not RGB values: no RGB filters")
    return model.patch_embed.proj.weight.detach().cpu().double().numpy()


def random_init_filters(model: Any, seed: int = 0) -> np.ndarray:
    """The filters of the same timm architecture freshly initialised (timm's own init, seeded)."""
    import timm
    import torch

    name = (getattr(model, "pretrained_cfg", None) or {}).get("architecture")
    if not name:
        raise ValueError("the model does not say which timm architecture it is (pretrained_cfg['architecture'])")
    torch.manual_seed(seed)
    fresh = timm.create_model(name, pretrained=False, num_classes=0,
                              img_size=tuple(int(v) for v in model.patch_embed.img_size))
    return patch_filters(fresh)


def components_figure(components: np.ndarray, title: str, size: int = 16) -> dict[str, Any]:
    """Figure 7 (left) as the report draws it: each component's channel mean, scaled to its largest |value| and
    averaged down to at most `size` x `size`, as `heatmaps` on one −1..1 scale."""
    maps = []
    for i, component in enumerate(components):
        grey = component.mean(axis=0)
        factor = max(1, grey.shape[0] // size)
        grey = grey[: grey.shape[0] // factor * factor, : grey.shape[1] // factor * factor]
        grey = grey.reshape(grey.shape[0] // factor, factor, grey.shape[1] // factor, factor).mean(axis=(1, 3))
        peak = float(np.abs(grey).max()) or 1.0
        maps.append({"label": f"PC {i + 1}", "z": np.round(grey / peak, 2).tolist()})
    cols = 7
    return {"kind": "heatmaps", "title": title, "maps": maps, "rows": -(-len(maps) // cols), "cols": cols,
            "vmin": -1.0, "vmax": 1.0, "colorbar": "component (mean over RGB) / its largest value"}
