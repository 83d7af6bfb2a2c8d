"""Small results of the CPU studies (FLOP counts, Table 1 facts, §3.2 transfers) kept in the suite's cache.

A study's result is a JSON-safe record, stored as the one chunk of a ``measure.run.cache.ChunkCache``
entry (so it is content-keyed, checksummed, locked across xdist workers and written atomically like every
other measurement) and keyed by

* the study's inputs (model, resolution, seed, ...);
* ``source_version`` (`measure.run.cache`, the library's one source hash) of the modules that compute it: editing
  how a number is computed invalidates it;
* ``library_versions`` of the libraries that compute it (torch's FLOP counter, timm's models).

Both are read without importing anything: a module's source is found by its import name and read as
a file, a library's version comes from its installed metadata. A fully cached run therefore decides
its checks without importing torch or timm, which is most of what computing them would cost.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from measure.run.cache import ChunkCache, source_version

__all__ = ["CachedRecord", "RecordCache", "library_versions", "source_version"]


@functools.cache
def _installed_version(distribution: str) -> str:
    return importlib.metadata.version(distribution)  # a scan of site-packages: once per process is enough


def library_versions(*distributions: str) -> dict[str, str]:
    """Installed version of each distribution (from its metadata; nothing is imported)."""
    return {name: _installed_version(name) for name in distributions}


@dataclass(frozen=True)
class CachedRecord:
    record: Mapping[str, Any]
    from_cache: bool        # read from disk (or from this process's memory), not computed by this call
    meta: Mapping[str, Any]  # what the computing run recorded: seconds, when


class RecordCache:
    """JSON records of one study in ``root`` (a folder of the suite's ``--claims-cache``)."""

    def __init__(self, root: Path | str) -> None:
        self.cache = ChunkCache(root)
        self._memory: dict[str, CachedRecord] = {}

    @property
    def root(self) -> Path:
        return self.cache.root

    def get(self, key: Mapping[str, Any], compute: Callable[[], Mapping[str, Any]]) -> CachedRecord:
        """The record for ``key``: from this process's memory, else from disk, else ``compute()`` and stored."""
        name = self.cache.entry_dir(key).name
        if name in self._memory:
            hit = self._memory[name]
            return CachedRecord(hit.record, from_cache=True, meta=hit.meta)
        seconds: list[float] = []

        def compute_chunk(_chunk: int) -> dict[str, np.ndarray]:
            started = time.perf_counter()
            text = json.dumps(compute(), sort_keys=True, allow_nan=False)
            seconds.append(round(time.perf_counter() - started, 3))
            return {"record": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}

        entry = self.cache.get_or_compute(key, 1, compute_chunk, meta=lambda: {"seconds": seconds[0]})
        record = json.loads(entry.arrays["record"].tobytes().decode("utf-8"))
        result = CachedRecord(record, from_cache=entry.from_cache, meta=dict(entry.meta))
        self._memory[name] = result
        return result


class ArchitectureRecords:
    """Records of one study computed per (paper architecture, image size): the key every such study shares
    (the architecture's spec, the size, the code of `module` and of the builders, torch and timm versions)."""

    def __init__(self, cache_root: Path | str, study: str, module: str) -> None:
        self.records = RecordCache(cache_root)
        self.study, self.module = study, module

    def key(self, name: str, img_size: int) -> dict:
        from measure.models.architectures import spec

        return {"study": self.study, "architecture": asdict(spec(name)), "img_size": img_size,
                "code": source_version(self.module, "measure.models.architectures"),
                "libraries": library_versions("torch", "timm")}

    def get(self, name: str, img_size: int, compute: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
        return self.records.get(self.key(name, img_size), compute).record

    def is_complete(self, name: str, img_size: int) -> bool:
        """Whether the record of (name, img_size) is on disk already."""
        return self.records.cache.is_complete(self.key(name, img_size))
