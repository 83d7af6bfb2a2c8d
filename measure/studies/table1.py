"""Table 1's columns (layers, hidden size D, MLP size, heads, parameters) counted from a built ViT.

The model is built by ``measure.models.architectures.build`` on the meta device: shapes without
storage or initialisation, which is all that counting needs. ``Table1Counts`` keeps each count in the
suite's cache (``measure.studies.study_cache``), keyed by the architecture, the resolution, the source of
this module and of the architecture table, and the torch and timm versions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from measure.models.architectures import build, count_params, spec
from measure.studies.study_cache import ArchitectureRecords

__all__ = ["CACHE_FOLDER", "Table1Counts", "Table1Facts", "table1_facts"]

CACHE_FOLDER = "table1"  # under the suite's --claims-cache


@dataclass(frozen=True)
class Table1Facts:
    """Table 1's columns counted from a built ViT, and what exactly was counted."""

    layers: int
    hidden_size: int
    mlp_size: int
    heads: int
    params_no_head: int     # patch embedding + class token + position embeddings + blocks + final norm
    params_head_1k: int     # the same plus a 1000-class linear head (ImageNet fine-tuning)
    tokens: int             # position embeddings counted (1 class token + grid), at the build resolution
    counted: str


def _uniform(values: list[int], what: str) -> int:
    if len(set(values)) != 1:
        raise ValueError(f"blocks disagree on {what}: {sorted(set(values))}; Table 1 describes uniform stacks")
    return values[0]


def table1_facts(name: str, img_size: int = 224) -> Table1Facts:
    """Count Table 1's facts from the module itself (not from timm's config arguments); computed, not cached."""
    if spec(name).family != "vit":
        raise ValueError(f"{name} is not a plain ViT; Table 1 describes ViT-Base/Large/Huge")
    model = build(name, num_classes=1000, img_size=img_size)
    blocks = list(model.blocks)
    hidden = _uniform([b.attn.qkv.in_features for b in blocks] + [b.norm1.normalized_shape[0] for b in blocks],
                      "hidden size")
    mlp = _uniform([b.mlp.fc1.out_features for b in blocks], "MLP size")
    heads = _uniform([b.attn.num_heads for b in blocks], "heads")
    total = count_params(model)
    head = count_params(model.get_classifier())
    tokens = model.pos_embed.shape[1]
    counted = (f"{name} built by timm on the meta device at {img_size}px: parameters of patch embedding, class "
               f"token, {tokens} position embeddings, {len(blocks)} blocks and final LayerNorm "
               f"({total - head:,}); with a 1000-class head {total:,}. No pre-logits layer.")
    return Table1Facts(layers=len(blocks), hidden_size=hidden, mlp_size=mlp, heads=heads,
                       params_no_head=total - head, params_head_1k=total, tokens=tokens, counted=counted)


class Table1Counts:
    """``table1_facts`` of the paper's ViTs, each counted once and kept in the suite's cache."""

    def __init__(self, cache_root: Path | str) -> None:
        self.records = ArchitectureRecords(cache_root, CACHE_FOLDER, __name__)

    def facts(self, name: str, img_size: int = 224) -> Table1Facts:
        return Table1Facts(**self.records.get(name, img_size, lambda: asdict(table1_facts(name, img_size))))
