"""The small-data study: a CNN and a ViT trained from scratch on nested subsets of scikit-learn's digits.

A tiny, honest analogue of §4.3 / Figures 3–4 (there: pre-training on ImageNet → JFT-300M subsets;
here: 50 … 1297 training images of 8×8 digits). It measures, never judges: for every (model, training
size, seed) it returns the predictions on one fixed test split, plus how far training got.

* Data — ``sklearn.datasets.load_digits`` (1797 images shipped inside scikit-learn, no download).
  A stratified test split of 500 images is fixed once (``split_seed``); the other 1297 form the pool.
* Subsets — per seed, one class-balanced ordering of the pool; the subset of size n is its first n
  images, so subsets are nested (50 ⊂ 100 ⊂ … ⊂ pool) and have n/10 images per class (±1).
  The CNN and the ViT of a seed see the same images in the same order (a paired design).
* Training — the same recipe for both (``Recipe``): AdamW, linear warm-up then cosine decay (timm's
  scheduler), no augmentation. Steps grow as √n. Every run records its full-training-set loss and
  accuracy at ½, ¾ and all of its steps; ``SmallDataStudy.underfitted`` lists the runs that end below a
  training-accuracy floor (the claim tests judge nothing built on them). ``python -m measure.studies.small_data
  --step-scale 2`` trains the study at twice the steps, to see whether a longer budget changes anything.
* Determinism — one torch thread per training run, ``torch.use_deterministic_algorithms``, seeded
  init and batch order: a run is bit-for-bit the same whether it trains in the test process, in a
  worker of the process pool, or under ``pytest -n 4``.
* Cost — runs go through ``measure.run.cache.ChunkCache`` (content-keyed, locked, atomic), so a re-run
  trains nothing; missing runs are spread over a process pool of one worker per free core. A cache key
  is built without importing torch, timm or scikit-learn, so a fully cached study imports none of them.

Modules, by job (``design`` and ``study`` are what the claim tests and fixtures import; neither imports
torch or scikit-learn):

* ``design``   — ``StudyDesign``, ``Recipe``, ``RunSpec``, ``SmallDataRun``, the study's ``STUDY`` (numpy only);
* ``data``     — the digits split and the nested class-balanced subsets (scikit-learn inside its functions);
* ``training`` — ``train_run``: one model trained and tested (torch, timm);
* ``pool``     — cache keys, ``load_or_train`` and ``ensure_trained`` over a process pool;
* ``study``    — ``SmallDataStudy``: per-example correctness by (model, size, seed), and the models' facts;
* ``__main__`` — the command line (the convergence check).
"""
