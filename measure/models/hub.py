"""Where checkpoints come from: the Hugging Face hub and its cache, and the authors' official files by URL.

`HubAccess` (one per pytest session) decides once whether the network may be used: ``HF_HUB_OFFLINE``
/ ``TRANSFORMERS_OFFLINE`` mean never; otherwise one bounded probe, and after any failure every load goes
straight to the local cache for the rest of the run. Official ``.npz`` files (not on the hub) are
downloaded atomically under a file lock into ``files_dir``, laid out by their URL path.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure.errors import Missing

log = logging.getLogger(__name__)

DEFAULT_FILES_DIR = "~/.cache/vit-claims/checkpoints"
OFFLINE_REASON = "offline mode is set (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)"

__all__ = ["DEFAULT_FILES_DIR", "OFFLINE_REASON", "HubAccess"]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hf_cache_from_env() -> str | None:
    env = os.environ
    if env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE"):
        return env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    return str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else None


class HubAccess:
    """Where checkpoints come from, and whether the network may be used: one per pytest session.

    Reads ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``, ``HF_ENDPOINT``, ``HF_HUB_CACHE`` / ``HF_HOME``
    when created (huggingface_hub reads them once at import, so a session fixture sees what the user
    set). Before the first download it sends one HEAD to the endpoint, bounded by `probe_timeout`
    (DNS included); if that or any later connection fails, the hub is unreachable for the rest of the
    run and every load goes straight to the local cache — one short wait per run instead of
    huggingface_hub's 10 s metadata timeout plus retries per model. `attempts` counts network probes.
    Official ``.npz`` files (not on the hub) live under `files_dir` by their URL path.
    """

    def __init__(self, *, offline: bool | None = None, endpoint: str | None = None,
                 cache_dir: str | Path | None = None, files_dir: str | Path | None = None,
                 probe_timeout: float = 3.0) -> None:
        from huggingface_hub import constants

        env = os.environ
        if offline is None:
            offline = (_truthy(env.get("HF_HUB_OFFLINE")) or _truthy(env.get("TRANSFORMERS_OFFLINE"))
                       or constants.HF_HUB_OFFLINE)
        self.offline = bool(offline)
        self.endpoint = (endpoint or env.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
        self.cache_dir = Path(cache_dir or _hf_cache_from_env() or constants.HF_HUB_CACHE).expanduser()
        self.files_dir = Path(files_dir or env.get("CLAIMS_CHECKPOINTS") or DEFAULT_FILES_DIR).expanduser()
        self.probe_timeout = probe_timeout
        self.attempts = 0
        self._lock = threading.Lock()
        self._probed = self.offline
        self.unreachable_reason: str | None = None if not self.offline else OFFLINE_REASON

    @property
    def reachable(self) -> bool:
        with self._lock:
            if not self._probed:
                self._probed = True
                self._probe()
            return self.unreachable_reason is None

    def mark_unreachable(self, reason: str) -> None:
        if self.unreachable_reason is None:
            log.warning("checkpoint hub unreachable for the rest of this run: %s", reason)
            self.unreachable_reason = reason

    def _probe(self) -> None:
        self.attempts += 1
        outcome: dict[str, Any] = {}

        def head() -> None:
            request = urllib.request.Request(self.endpoint + "/", method="HEAD")
            try:
                with urllib.request.urlopen(request, timeout=self.probe_timeout) as response:
                    outcome["status"] = response.status
            except urllib.error.HTTPError as error:
                outcome["status"] = error.code
            except (OSError, ValueError) as error:  # URLError, refused, reset, DNS, bad endpoint
                outcome["error"] = error

        # A thread bounds the whole probe: urlopen's timeout does not cover name resolution.
        thread = threading.Thread(target=head, name="hub-probe", daemon=True)
        thread.start()
        thread.join(self.probe_timeout)
        if thread.is_alive():
            self.mark_unreachable(f"no answer from {self.endpoint} within {self.probe_timeout:g} s")
        elif "error" in outcome:
            self.mark_unreachable(f"{self.endpoint}: {outcome['error']}")
        elif outcome["status"] >= 500:
            self.mark_unreachable(f"{self.endpoint} answered HTTP {outcome['status']}")

    def hf_file(self, repo_id: str, filenames: Sequence[str], *, revision: str | None = None) -> Path | None:
        """The first of `filenames` in the repo, downloaded into the cache if the hub is reachable,
        else from the cache alone; None when neither has it."""
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        if self.reachable:
            for name in filenames:
                try:
                    return Path(hf_hub_download(repo_id, name, revision=revision, cache_dir=self.cache_dir,
                                                endpoint=self.endpoint))
                except RemoteEntryNotFoundError:
                    continue
                except (RepositoryNotFoundError, RevisionNotFoundError) as error:
                    at = f"{repo_id}{'@' + revision if revision else ''}"
                    raise Missing(f"the hub at {self.endpoint} has no {at} ({error})",
                                  need=f"Hugging Face repo {at}: a hub (HF_ENDPOINT) or cache (HF_HOME) that has it, "
                                       f"or pass --claims-checkpoint KEY=FILE") from error
                except (LocalEntryNotFoundError, HfHubHTTPError, OSError, _httpx_error()) as error:
                    self.mark_unreachable(f"{self.endpoint}: {type(error).__name__}: {error}")
                    break
        for name in filenames:
            try:
                return Path(hf_hub_download(repo_id, name, revision=revision, cache_dir=self.cache_dir,
                                            local_files_only=True))
            except LocalEntryNotFoundError:
                continue
        return None

    def file_path(self, url: str) -> Path:
        """Where the official file at `url` belongs: under `files_dir`, laid out by its URL path."""
        return self.files_dir / urllib.parse.unquote(urllib.parse.urlparse(url).path).lstrip("/")

    def url_file(self, url: str) -> tuple[Path, Path | None]:
        """(where an official file belongs under `files_dir`, that path if present or downloaded)."""
        dest = self.file_path(url)
        if dest.is_file():
            return dest, dest
        if not self.reachable:
            return dest, None
        try:
            _download(url, dest)
        except urllib.error.HTTPError as error:
            raise Missing(f"{url} answered HTTP {error.code}; place the file at {dest}",
                          need=f"official file {url}: place it at {dest} (or set CLAIMS_CHECKPOINTS to a folder "
                               f"that has {dest.relative_to(self.files_dir)})") from error
        except OSError as error:
            self.mark_unreachable(f"{url}: {error}")
            return dest, None
        return dest, dest

    def why_not(self) -> str:
        """Why a file that is not on disk was not fetched, for Missing messages."""
        if self.unreachable_reason is None:
            return f"the hub at {self.endpoint} does not have it"
        if self.unreachable_reason == OFFLINE_REASON:
            return OFFLINE_REASON
        return f"the hub is unreachable ({self.unreachable_reason})"


def _httpx_error() -> type[Exception]:
    """Transport errors of huggingface_hub's HTTP client (httpx2 in this pin), for connection failures."""
    try:
        import httpx2
    except ImportError:
        return OSError
    return httpx2.TransportError


def _download(url: str, dest: Path, timeout: float = 30.0) -> None:
    """Atomic, resumable, size- and MD5-checked download under a file lock, safe under pytest -n 4
    (measure.models.download, which the fetch command uses too)."""
    from measure.models.download import download

    log.warning("downloading %s -> %s", url, dest)
    download(url, dest, timeout=timeout)
