"""The environment block of the report: what ran, where, with which versions and settings."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .config import ClaimsConfig
from .records import json_safe

# The plugin's own stack; the project's dependencies and [tool.claims] packages are added to it.
BASE_PACKAGES = ("pytest", "pytest-xdist", "numpy", "scipy", "jinja2", "matplotlib")


def package_versions(names: Iterable[str]) -> dict[str, str]:
    versions = {}
    for name in dict.fromkeys(names):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return dict(sorted(versions.items(), key=lambda kv: kv[0].lower()))


def git_state(cwd: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _options(config: pytest.Config) -> dict[str, Any]:
    """The parsed command-line options that are plain data (paths as strings)."""
    out = {}
    for key, value in sorted(vars(config.option).items()):
        try:
            out[key] = json_safe(value)
        except TypeError:
            continue
    return out


def collect_environment(config: pytest.Config, claims_config: ClaimsConfig, workers: int,
                        extra: Iterable[dict]) -> dict[str, Any]:
    names = [*BASE_PACKAGES, *claims_config.project_dependencies, *claims_config.packages]
    env: dict[str, Any] = {
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "packages": package_versions(names),
        "git": git_state(config.rootpath),
        "command_line": list(sys.argv),
        "invocation_dir": str(config.invocation_params.dir),
        "rootdir": str(config.rootpath),
        "xdist_workers": workers,
        "seeds": {"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED")},
        "claims_settings": json_safe(dict(claims_config.settings)),
        "options": _options(config),
    }
    # Projects add their own (device, seeds, data paths) through pytest_claims_environment.
    for added in extra:
        for key, value in (added or {}).items():
            value = json_safe(value, f"pytest_claims_environment()[{key!r}]")
            if isinstance(value, dict) and isinstance(env.get(key), dict):
                env[key] = {**env[key], **value}
            else:
                env[key] = value
    return env


def collect_configuration(extra: Iterable[dict]) -> dict[str, Any]:
    """The run's configuration (``run.configuration``): the project's ``pytest_claims_configuration``
    results merged, JSON-safe. Runs compare in the history only when these are equal."""
    configuration: dict[str, Any] = {}
    for added in extra:
        for key, value in (added or {}).items():
            configuration[str(key)] = json_safe(value, f"pytest_claims_configuration()[{key!r}]")
    return configuration
