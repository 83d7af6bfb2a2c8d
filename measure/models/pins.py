"""What requirements.lock pins: the registry's timm tags exist only in the timm it was written for."""

from __future__ import annotations

import re
from pathlib import Path

REQUIREMENTS_LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"
_COMMENT = re.compile(r"(^|\s)#.*")  # pip's rule: '#' at the start or after whitespace begins a comment


def pinned_version(package: str, lock: Path = REQUIREMENTS_LOCK) -> str | None:
    """The version `lock` pins for `package` (a ``name==version`` line, markers allowed), None if it pins none.

    Lines are read as PEP 508 requirements and names compared in PEP 503 normal form, by `packaging`
    (what pip itself uses), so ``nvidia_cudnn_cu12==1.2.3 ; platform_system == 'Linux'`` pins
    ``nvidia-cudnn-cu12``."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    wanted = canonicalize_name(package)
    for line in lines:
        try:
            requirement = Requirement(_COMMENT.sub("", line).strip())
        except InvalidRequirement:  # blank lines, pip options
            continue
        if canonicalize_name(requirement.name) != wanted:
            continue
        pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if pins:
            return pins[0]
    return None
