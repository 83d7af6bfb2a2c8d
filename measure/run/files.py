"""Writing results to disk: the library's one atomic writer, and values made safe for JSON records.

Every file is written to a temporary name in its destination folder, flushed to disk and moved into place
with `os.replace`, so a reader — another xdist worker, or the next run after a kill — sees the old file or
the new one, never half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextmanager
def _replacing(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that becomes `path` when the block ends without an exception (and vanishes if not)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` by `data` atomically (see the module docstring); creates missing parent folders."""
    with _replacing(path) as f:
        f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write_bytes` of `text` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """`obj` as JSON (sorted keys, indent 1; what JSON cannot hold written as its `str`), atomically."""
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=str))


def atomic_torch_save(obj: Any, path: Path) -> None:
    """`torch.save(obj)` to `path` atomically: an interrupted save leaves the previous training state intact."""
    import torch

    with _replacing(path) as f:
        torch.save(obj, f)


def plain_data(value: Any) -> Any:
    """`value` as plain data for a result's metadata and cache keys: mappings' keys made strings, tuples made
    lists, numpy scalars made Python numbers and anything else JSON cannot hold *described* by its `str` (a
    path, a dtype, a device). Not the plugin's `pytest_claims.records.json_safe`, which guards what a record
    may hold and refuses an unknown object rather than describe it."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
