"""How a tier result says where its checkpoint came from: the registry row and the resolved revision."""

from __future__ import annotations

import dataclasses
from typing import Any

from measure.run.files import plain_data

__all__ = ["checkpoint_provenance", "plain_data"]


def checkpoint_provenance(loaded: Any) -> dict[str, Any]:
    """The checkpoint's registry row and resolved revision, for the cache key and the record."""
    spec = loaded.spec
    row = dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else dict(vars(spec))
    return {**{k: plain_data(v) for k, v in row.items()}, "revision": str(loaded.revision)}
