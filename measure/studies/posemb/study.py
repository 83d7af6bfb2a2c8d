"""§3.2 results kept in the suite's cache: one record per (model, resolutions, seed), computed once.

Importing this module costs no torch: the key is built from names, versions and source files, and the
transfer (torch, timm, safetensors) is imported only when a result must be computed.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from measure.studies.posemb.design import CODE_MODULES, ResolutionTransfer
from measure.studies.study_cache import RecordCache, library_versions, source_version

__all__ = ["CACHE_FOLDER", "PosembStudy"]

CACHE_FOLDER = "posemb"  # under the suite's --claims-cache


class PosembStudy:
    """``transfer_resolution`` with the default resamplers, each result computed once and cached."""

    def __init__(self, cache_root: Path | str) -> None:
        self.records = RecordCache(cache_root)

    def key(self, timm_name: str, pretrain_res: int, finetune_res: int, seed: int) -> dict:
        return {"study": CACHE_FOLDER, "timm_name": timm_name, "pretrain_res": pretrain_res,
                "finetune_res": finetune_res, "seed": seed, "code": source_version(*CODE_MODULES),
                "libraries": library_versions("torch", "timm", "safetensors")}

    def transfer(self, timm_name: str, pretrain_res: int, finetune_res: int, seed: int = 0) -> ResolutionTransfer:
        def compute() -> dict:
            from measure.studies.posemb.transfer import transfer_resolution

            return asdict(transfer_resolution(timm_name, pretrain_res, finetune_res, seed=seed))

        key = self.key(timm_name, pretrain_res, finetune_res, seed)
        return ResolutionTransfer.from_record(self.records.get(key, compute).record)
