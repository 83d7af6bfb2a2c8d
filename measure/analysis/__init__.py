"""What the paper says about trained weights (§4.5, Figure 7, App. D.7), measured on the weights themselves.

* `posemb` — the learned position embeddings: cosine similarity between patches, how it falls with grid
  distance, and the row-column structure (Figure 7, center);
* `attention` — mean attention distance per image, layer and head (App. D.7), and the per-image statistics
  the claims read (growth with depth, the most global head of the first layer, early-layer locality).

Plain functions over numpy arrays, plus extractors that read a timm ViT (torch imported inside them). The
evidence tier that runs them on registry checkpoints is `measure/tiers/analysis.py`.
"""
