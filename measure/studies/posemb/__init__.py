"""§3.2: a ViT pre-trained at one resolution, fine-tuned at a higher one — both resamplers the suite uses.

The paper: "When feeding images of higher resolution, we keep the patch size the same, which results
in a larger effective sequence length. [...] We therefore perform 2D interpolation of the
pre-trained position embeddings, according to their location in the original image."

What is measured. A ViT is built at the pre-training resolution and saved as a ``.safetensors`` file
(the format of timm's hub weights). Its position-embedding grid is a smooth, low-frequency field:
learned ViT position embeddings are spatially smooth (Fig. 7, centre: neighbouring patches have similar
embeddings), while i.i.d. random values have no "value at a location" between patches to compare
against. The class token and its position embedding are fixed-seed random values (a resampler that
moved them must show). No other weight takes part in any measured value (the forward pass is read only
for its sequence length), so every other weight is zero: no random initialisation is spent on them.
The checkpoint is then moved to the fine-tuning resolution by the two paths the suite uses:

* ``timm-load`` — ``timm.create_model(..., pretrained=True, pretrained_cfg_overlay={"file": ...},
  img_size=...)``, i.e. ``load_pretrained`` → ``checkpoint_filter_fn`` → ``resample_abs_pos_embed``
  (bicubic, antialias, half-pixel centres), exactly as a hub checkpoint is loaded by the eval tier;
* ``finetune-tier`` — the checkpoint loaded at its own resolution, then
  ``measure.train.surgery.resample_position_embeddings`` (vit_jax's ``scipy.ndimage.zoom(order=1)``:
  bilinear, corner cells aligned), the function the fine-tuning tier runs.

Each path records: the class token and its position embedding before/after (nothing may move them:
they have no location); the rows of ``pos_embed`` in the model's state dict after the resample; the
tokens the first transformer block receives in a forward pass at the new resolution; and the
interpolated grid's error against the field at the locations the method samples.

Correspondence. Patch (i, j) of an n × n grid covers the image square centred at
((i + 0.5) / n, (j + 0.5) / n) (row, column) in image coordinates [0, 1]². Each method places the new
grid on the old one by its own geometric convention, and the reference follows it, so the error is
interpolation error, not a convention mismatch:

* ``centres`` (align_corners=False): new patch k sits at its true image centre (k + 0.5) / new;
* ``corners-aligned`` (align_corners=True, scipy zoom): new patch k sits at old-grid index
  k·(old − 1)/(new − 1), i.e. image position (0.5 + k·(old − 1)/(new − 1)) / old — the outermost new
  patches take the outermost old patches' centres, a displacement of at most 0.5/old − 0.5/new of the
  image side from their true centres (recorded as ``max_location_offset``).

The field is a function of image position, so the reference needs no interpolation of ours; a
transposed, flipped, shifted or 1-D (sequence-order) resampling of the grid lands far from it
(``tests/test_posemb.py``). The tolerance is the RMS error that piecewise-linear 2D interpolation
itself makes on this field at its band limit (``linear_interpolation_rms_error``), not a figure
tuned to either kernel.

Modules, by job (only ``design`` and ``study`` are imported at collection time; neither imports torch):

* ``design``   — the two paths, the tolerance formula and the result records (standard library only);
* ``field``    — the low-frequency field, where each convention samples it, the grid error (torch);
* ``transfer`` — build, save, move and measure (torch, timm, safetensors);
* ``study``    — ``PosembStudy``: results kept in the suite's cache.
"""
