"""Cache and parallel execution of the small-data runs: each trained once, by one process, then read.

A run's cache key is built from names, versions and file hashes only (no torch, timm or scikit-learn
import), so a study whose runs are all cached costs their file reads and nothing else.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from measure.models import tiny as tiny_models
from measure.run.cache import CacheResult, ChunkCache
from measure.run.device import xdist_worker_count
from measure.studies.small_data.data import digits_fingerprint
from measure.studies.small_data.design import CACHE_FOLDER, RunSpec, SmallDataRun
from measure.studies.study_cache import library_versions, source_version

__all__ = ["CODE_MODULES", "cache_key", "ensure_trained", "free_cores", "load_or_train"]

log = logging.getLogger(__name__)

# The modules whose source decides a run's result (not this one: caching and scheduling change no result).
CODE_MODULES = ("measure.studies.small_data.design", "measure.studies.small_data.data",
                "measure.studies.small_data.training", "measure.models.tiny")


def cache_key(spec: RunSpec) -> dict:
    """What a run's result depends on: data, split, subset, architecture, recipe, code and library versions."""
    return {"study": CACHE_FOLDER, "model": spec.model, "architecture": tiny_models.architecture(spec.model),
            "size": spec.size, "seed": spec.seed, "recipe": asdict(spec.recipe), "test_size": spec.test_size,
            "split_seed": spec.split_seed, "data": digits_fingerprint(), "code": source_version(*CODE_MODULES),
            "libraries": library_versions("torch", "timm", "scikit-learn", "numpy")}


def load_or_train(cache_root: Path, spec: RunSpec, *, wait: bool = True) -> CacheResult | None:
    """The run's cache entry, training it first if missing.

    A separate "claim" lock marks who trains a run; with ``wait=False`` a run another process has
    claimed is skipped (None), so parallel processes split the work instead of queueing on it.
    """
    cache = ChunkCache(cache_root)
    key = cache_key(spec)
    claim = FileLock(str(cache.entry_dir(key)) + ".claim", timeout=-1 if wait else 0)
    cache.root.mkdir(parents=True, exist_ok=True)
    try:
        claim.acquire()
    except Timeout:
        return None
    try:
        trained: list[SmallDataRun] = []

        def compute(_chunk: int) -> dict[str, np.ndarray]:
            from measure.studies.small_data import training  # torch and timm: only when a run is trained

            trained.append(training.train_run(spec))
            return {"correct": trained[0].correct}

        return cache.get_or_compute(key, 1, compute, meta=lambda: trained[0].stats)
    finally:
        claim.release()


def _train_in_worker(cache_root: str, spec: RunSpec) -> None:
    load_or_train(Path(cache_root), spec, wait=False)


def free_cores() -> int:
    """Cores this process may use: its CPU affinity, shared among pytest-xdist workers if any."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // xdist_worker_count())


def ensure_trained(cache_root: Path, specs: Sequence[RunSpec], workers: int | None = None) -> list[SmallDataRun]:
    """Results of ``specs`` (same order), training the missing ones on ``workers`` processes first."""
    cache = ChunkCache(cache_root)
    missing = sorted((s for s in specs if not cache.is_complete(cache_key(s))),
                     key=lambda s: (-s.recipe.steps(s.size), s.model != "vit"))  # longest first
    workers = min(free_cores() if workers is None else workers, len(missing))
    if workers > 1:
        log.info("small-data study: training %d runs on %d processes", len(missing), workers)
        context = multiprocessing.get_context("spawn")  # never fork a process that holds torch's thread pools
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            for future in [pool.submit(_train_in_worker, str(cache_root), s) for s in missing]:
                future.result()
    else:
        for spec in missing:  # claim what nobody else is training, then wait for the rest below
            load_or_train(cache_root, spec, wait=False)
    results = []
    for spec in specs:
        entry = load_or_train(cache_root, spec, wait=True)
        results.append(SmallDataRun(spec=spec, correct=entry.arrays["correct"].astype(bool), stats=dict(entry.meta)))
    return results
