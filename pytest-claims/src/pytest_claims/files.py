"""The plugin's one way of writing a file: atomically, so a reader never sees half a report."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(document: Mapping[str, Any], path: Path) -> None:
    """``document`` as indented JSON; NaN/inf are refused (records hold None instead, see records.json_safe)."""
    write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def unwritable(folder: Path) -> str | None:
    """Why the report files could not be written into ``folder`` (None: they can), found without
    creating anything: a run that will fail to leave its report should stop before its tests run."""
    for name in ("claims.json", "index.html"):
        if (folder / name).is_dir():
            return f"{folder / name} is a folder"
    existing = folder
    while not existing.exists() and not existing.is_symlink() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is {'a dangling link' if existing.is_symlink() else 'a file'}, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user"
    return None
