"""The claim map of every collected check, handed from an xdist worker to the controller at once.

xdist sends a worker's ``workeroutput`` only when the worker shuts down cleanly; an interrupted or
crashed run never delivers it, and the controller would not know which checks it never ran. So each
worker also writes the map to a file in a folder the controller names (``workerinput``) as soon as
its collection finishes — before xdist tells the controller that collection is done — and the
controller reads it whenever it needs it, whatever happened to the worker since.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .files import write_atomic

WORKERINPUT_KEY = "claims_collected_dir"  # the folder, passed by the controller to every worker
PREFIX = "pytest-claims-collected-"


def make_folder() -> Path:
    """A fresh private folder for this session's worker files (removed by `remove_folder`), named after the
    controller's pid; folders left by controllers that no longer run (``kill -9``) are removed first."""
    remove_stale_folders()
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))


def remove_stale_folders(root: Path | None = None) -> None:
    """Remove the folders of controllers that died without cleaning up (their pid runs no process)."""
    for folder in Path(root or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def remove_folder(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def write_entries(folder: str | Path, worker: str, entries: list[dict[str, Any]]) -> None:
    """Worker side: this worker's collected claim map, written atomically (a reader never sees half)."""
    write_atomic(Path(folder) / f"{worker}.json", json.dumps(entries, ensure_ascii=False))


def read_entries(folder: Path | None, worker: str | None = None) -> list[dict[str, Any]] | None:
    """Controller side: the claim map of `worker`, or of any worker that wrote one (every worker collects
    the same items in the same order); None if none has written yet."""
    if folder is None:
        return None
    paths = [folder / f"{worker}.json"] if worker else sorted(folder.glob("*.json"))
    for path in paths:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # not written (yet): try the next worker's
            continue
    return None
