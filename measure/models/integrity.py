"""A checkpoint file that is there but cannot be used: found early where that is cheap, and said in one line.

A truncated download, another architecture's weights, or a pickle payload that ``torch.load(weights_only=True)``
refuses would otherwise end every check that uses the checkpoint with a library traceback naming neither the
file nor the registry key. `header_problem` reads a ``.safetensors`` header through safetensors itself (no
tensor is loaded, no torch import) when ``--claims-checkpoint`` is parsed; `unusable` turns a failed load into
a `CheckpointUnusable` (a `Missing`: the check is not run, and says what to provide instead).
"""

from __future__ import annotations

import re
from pathlib import Path

from measure.errors import Missing

CAUSE_CHARS = 200  # enough for the first state-dict mismatch; the full error is chained to the exception

__all__ = ["CheckpointUnusable", "header_problem", "one_line", "unusable"]


class CheckpointUnusable(Missing):
    """The checkpoint file exists but cannot be loaded as the model its registry row names."""


def one_line(error: BaseException) -> str:
    """``Type: message`` on one line, cut to `CAUSE_CHARS`."""
    text = re.sub(r"\s+", " ", str(error)).strip()
    if len(text) > CAUSE_CHARS:
        text = text[:CAUSE_CHARS - 1].rstrip() + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def safetensors_files(path: Path) -> list[Path]:
    """The .safetensors files a --claims-checkpoint path stands for (the file, or those of a folder)."""
    if path.is_dir():
        return sorted(path.glob("*.safetensors"))
    return [path] if path.suffix == ".safetensors" else []


def header_problem(path: Path) -> str | None:
    """What is wrong with the header of the safetensors file(s) at `path` (None: sound, or not safetensors).

    safetensors checks on opening that the header parses and that its tensors cover the file exactly, so a
    truncated or padded file is caught here without reading any tensor data."""
    from safetensors import SafetensorError, safe_open

    for file in safetensors_files(path):
        try:
            with safe_open(str(file), framework="np") as handle:
                handle.keys()
        except (SafetensorError, OSError) as error:
            return f"{file.name} is not a readable safetensors file ({one_line(error)})"
    return None


def unusable(key: str, paper_model: str, path: Path, model: str, error: BaseException, *,
             override: bool) -> CheckpointUnusable:
    """The one-line refusal for `path` (registry row `key`) that failed to load as `model`."""
    if override:
        fix = (f"pass an intact {paper_model} checkpoint as --claims-checkpoint {key}=FILE, "
               f"or drop it to use the hub copy")
        need = (f"checkpoint {key}: --claims-checkpoint {key}=FILE naming an intact {paper_model} checkpoint "
                f"({path} does not load)")
    else:
        fix = f"delete {path} and run once with internet to fetch it again, or pass --claims-checkpoint {key}=FILE"
        need = (f"checkpoint {key}: an intact copy of {path} (delete it, fetch it again), "
                f"or --claims-checkpoint {key}=FILE")
    message = f"checkpoint {key}: {path} could not be loaded as {model} ({paper_model}): {one_line(error)}; {fix}"
    return CheckpointUnusable(message, need=need)
