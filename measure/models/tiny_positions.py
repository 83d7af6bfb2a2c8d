"""The position encodings of App. D.4 (Table 8) on timm's ``VisionTransformer``, for the tiny digits ViTs.

Imports torch and timm at the top: only ``measure.models.tiny.build`` imports this module, when a model is built.

* no position embedding — timm's own ``pos_embed="none"``: the patches are a *bag of patches*;
* 1-D (the default of the paper and of timm) — not here: ``TinyViT`` is timm's model unchanged;
* 2-D — ``GridPositionViT``: "two sets of embeddings are learned, each for one of the axes, X-embedding, and
  Y-embedding, each with size D/2 … we concatenate the X and Y embedding to get the final positional embedding for
  that patch". The class token gets none (an embedding added to a learned token is redundant with the token);
* relative — ``RelativePositionViT``: "1-dimensional Relative Attention … for every given pair (one as query, and
  the other as key/value) we have an offset p_q − p_k, where each offset is associated with an embedding. Then, we
  simply run extra attention, where we use the original query … but use relative positional embeddings as keys. We
  then use the logits from the relative attention as a bias term and add it to the logits of the main attention
  … before applying the softmax." Offsets are of raster indices (1-D), one embedding of the attention's width per
  offset and layer, split into heads like the keys it stands in for, scaled like the content logits. The paper
  defines offsets between patches only: every pair with the class token shares one further learned embedding
  (our choice where the paper is silent). No absolute position embedding.

Every new parameter is drawn after timm's own initialisation (truncated normal, std 0.02, as timm draws its
``pos_embed``), so a seeded build is reproducible.
"""

from __future__ import annotations

import torch
from timm.layers import Attention, trunc_normal_
from timm.models.vision_transformer import VisionTransformer
from torch import nn

__all__ = ["GridPositionViT", "RelativePositionAttention", "RelativePositionViT", "relative_offsets"]


class GridPositionViT(VisionTransformer):
    """timm's ViT with App. D.4's 2-D position embedding: [X-embedding(column) ‖ Y-embedding(row)] per patch."""

    def __init__(self, **kwargs) -> None:
        super().__init__(pos_embed="none", **kwargs)
        rows, cols = self.patch_embed.grid_size
        if self.embed_dim % 2:
            raise ValueError(f"the 2-D embedding halves the width: embed_dim {self.embed_dim} is odd")
        self.pos_embed_x = nn.Parameter(torch.empty(cols, self.embed_dim // 2))
        self.pos_embed_y = nn.Parameter(torch.empty(rows, self.embed_dim // 2))
        trunc_normal_(self.pos_embed_x, std=.02)
        trunc_normal_(self.pos_embed_y, std=.02)

    def grid_embedding(self) -> torch.Tensor:
        """(rows·cols, D): the embedding of each patch in raster order."""
        rows, cols = self.pos_embed_y.shape[0], self.pos_embed_x.shape[0]
        x = self.pos_embed_x.unsqueeze(0).expand(rows, cols, -1)
        y = self.pos_embed_y.unsqueeze(1).expand(rows, cols, -1)
        return torch.cat([x, y], dim=-1).reshape(rows * cols, self.embed_dim)

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        # timm's path with pos_embed None prepends the class token and adds nothing: add the grid embedding first.
        return super()._pos_embed(x.reshape(x.shape[0], -1, x.shape[-1]) + self.grid_embedding())


def relative_offsets(num_patches: int, num_prefix_tokens: int) -> torch.Tensor:
    """(T, T) long: the embedding index of each (query, key) pair, T = prefix tokens + patches.

    Patch pair (i, j), raster indices: (i − j) + num_patches − 1, in 0 … 2·num_patches − 2; any pair with a
    prefix (class) token: 2·num_patches − 1.
    """
    tokens = num_prefix_tokens + num_patches
    position = torch.arange(num_patches)
    index = torch.full((tokens, tokens), 2 * num_patches - 1, dtype=torch.long)
    index[num_prefix_tokens:, num_prefix_tokens:] = position[:, None] - position[None, :] + num_patches - 1
    return index


class RelativePositionAttention(nn.Module):
    """timm's ``Attention`` (its own qkv and proj modules, reused) plus App. D.4's relative-position logits."""

    def __init__(self, attention: Attention, num_patches: int, num_prefix_tokens: int) -> None:
        super().__init__()
        if attention.gate is not None:
            raise ValueError("a gated attention is not the paper's: build the ViT without gated attention")
        self.num_heads, self.head_dim, self.attn_dim = attention.num_heads, attention.head_dim, attention.attn_dim
        self.scale = attention.scale
        self.qkv, self.q_norm, self.k_norm = attention.qkv, attention.q_norm, attention.k_norm
        self.attn_drop, self.norm, self.proj, self.proj_drop = (attention.attn_drop, attention.norm, attention.proj,
                                                                attention.proj_drop)
        self.relative = nn.Parameter(torch.empty(2 * num_patches, self.attn_dim))
        trunc_normal_(self.relative, std=.02)
        self.register_buffer("offsets", relative_offsets(num_patches, num_prefix_tokens), persistent=False)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        if attn_mask is not None or is_causal:
            raise NotImplementedError("the tiny ViTs attend over every token: no mask")
        batch, tokens, _ = x.shape
        q, k, v = (self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        q, k = self.q_norm(q) * self.scale, self.k_norm(k)
        # The relative embedding of each pair's offset, in the keys' layout: (T, T, heads, head_dim).
        keys = self.relative[self.offsets].view(tokens, tokens, self.num_heads, self.head_dim)
        logits = q @ k.transpose(-2, -1) + torch.einsum("bhqd,qkhd->bhqk", q, keys)
        attn = self.attn_drop(logits.softmax(dim=-1))
        out = (attn @ v).transpose(1, 2).reshape(batch, tokens, self.attn_dim)
        return self.proj_drop(self.proj(self.norm(out)))


class RelativePositionViT(VisionTransformer):
    """timm's ViT without absolute position embedding, every attention layer with App. D.4's relative logits."""

    def __init__(self, **kwargs) -> None:
        super().__init__(pos_embed="none", **kwargs)
        num_patches = self.patch_embed.num_patches
        for block in self.blocks:
            block.attn = RelativePositionAttention(block.attn, num_patches, self.num_prefix_tokens)
