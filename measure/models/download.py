"""Resumable, verified downloads of the authors' official checkpoint files by URL (the ``.npz`` rows).

A download streams into ``<dest>.part`` beside its destination, under the file lock every loader of the
suite takes for that file (``<dest>.lock``: a second process waits instead of downloading twice). An
interrupted download — a dropped connection, Ctrl-C, a killed job — keeps its ``.part``, and the next
attempt asks the server only for the rest (an HTTP Range request); a server that ignores the Range sends
the whole file again, which then starts over. The finished file is checked against the size and, where
the server publishes one, the MD5 (Google Cloud Storage, where the official files live, sends it as
``x-goog-hash: md5=<base64>``), flushed to disk and renamed into place: a reader sees no file or the whole
verified one. A mismatch deletes the ``.part`` and raises `ChecksumMismatch`.

Standard library plus filelock and (for the progress bar) tqdm, both imported where used.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from measure.errors import MeasureError

log = logging.getLogger(__name__)

CHUNK = 1 << 20

__all__ = ["ChecksumMismatch", "Downloaded", "IncompleteDownload", "RemoteFile", "download", "file_md5",
           "part_path", "remote_file"]


class ChecksumMismatch(MeasureError, ValueError):
    """A downloaded file differs from what its source publishes (size or MD5); it was not kept."""


class IncompleteDownload(MeasureError, OSError):
    """The connection ended before the whole file arrived; the ``.part`` is kept for the next attempt."""


@dataclass(frozen=True)
class RemoteFile:
    """What the server says about a file before it is downloaded (a HEAD request)."""

    url: str
    size: int | None    # bytes (Content-Length), None if the server does not say
    md5: str | None     # hex MD5 the server publishes (x-goog-hash), None if it publishes none


@dataclass(frozen=True)
class Downloaded:
    """One `download` call: where the file is, how much this call transferred and what was checked."""

    path: Path
    fetched_bytes: int   # transferred by this call (0 when the file was already there)
    resumed_from: int    # bytes of a kept .part this call continued from
    verified: str        # "md5" (and size), "size", or "" (the server published neither)


def part_path(dest: Path) -> Path:
    """Where an unfinished download of `dest` is kept between attempts."""
    return dest.with_name(dest.name + ".part")


def published_md5(headers: object) -> str | None:
    """The hex MD5 in Google Cloud Storage's ``x-goog-hash: crc32c=...,md5=<base64>`` headers, if any."""
    values = headers.get_all("x-goog-hash") if hasattr(headers, "get_all") else [headers.get("x-goog-hash")]
    for value in values or ():
        for part in (value or "").split(","):
            name, _, encoded = part.strip().partition("=")
            if name.lower() == "md5" and encoded:
                return base64.b64decode(encoded).hex()
    return None


def remote_file(url: str, timeout: float = 30.0) -> RemoteFile:
    """HEAD `url`: its size and published MD5. Raises urllib's HTTPError / URLError (an OSError)."""
    request = urllib.request.Request(url, method="HEAD", headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        return RemoteFile(url, int(length) if length and length.isdigit() else None, published_md5(response.headers))


def file_md5(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def download(url: str, dest: Path, *, expected: RemoteFile | None = None, timeout: float = 30.0,
             progress: bool = False) -> Downloaded:
    """`url` to `dest`, resuming a kept ``.part`` and verifying size and published MD5 (module docstring).

    `expected` is what a HEAD said (`remote_file`); without it one HEAD is sent first. Raises urllib's
    HTTPError for an HTTP error, `IncompleteDownload` (or another OSError) when the transfer broke off —
    the ``.part`` is kept — and `ChecksumMismatch` when the file is not what the server publishes.
    """
    from filelock import FileLock

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock"):
        if dest.is_file():
            return Downloaded(dest, 0, 0, "")
        expected = expected or remote_file(url, timeout)
        part = part_path(dest)
        offset = part.stat().st_size if part.is_file() else 0
        if expected.size is not None and offset > expected.size:
            part.unlink()  # longer than the file: not a prefix of it
            offset = 0
        fetched = 0
        if expected.size is None or offset < expected.size:
            offset, fetched = _transfer(url, part, offset, expected.size, timeout, progress)
        verified = _verify(part, expected)
        with part.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(part, dest)
        log.info("downloaded %s -> %s (%d bytes%s)", url, dest, fetched + offset,
                    f", resumed from {offset}" if offset else "")
        return Downloaded(dest, fetched, offset, verified)


def _transfer(url: str, part: Path, offset: int, size: int | None, timeout: float,
              progress: bool) -> tuple[int, int]:
    """Append the bytes after `offset` to `part`: (where this transfer started, bytes written). A server that
    ignores the Range answers 200 with the whole file, which then replaces the kept part (start 0)."""
    from tqdm import tqdm

    headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={offset}-"} if offset else {})
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        start = offset if response.status == 206 else 0
        if start and (m := re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))) and int(m[1]) != start:
            raise IncompleteDownload(f"{url}: asked for the bytes from {start}, the server sent them from {m[1]}")
        written = 0
        with part.open("ab" if start else "wb") as out, tqdm(
                total=size, initial=start, unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                desc=part.name.removesuffix(".part"), disable=not progress) as bar:
            # An early end of the body is not an error to urllib's read(n): it returns b"" (checked below).
            while chunk := response.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
    if size is not None and start + written < size:
        raise IncompleteDownload(f"{url}: the connection ended after {start + written} of {size} bytes; "
                                 f"{part} is kept and the next attempt resumes from there")
    return start, written


def _verify(part: Path, expected: RemoteFile) -> str:
    got = part.stat().st_size
    if expected.size is not None and got != expected.size:
        part.unlink()
        raise ChecksumMismatch(f"{expected.url}: {got} bytes received, the server announced {expected.size}; "
                               f"the partial file was removed")
    if expected.md5 is None:
        return "size" if expected.size is not None else ""
    digest = file_md5(part)
    if digest != expected.md5:
        part.unlink()
        raise ChecksumMismatch(f"{expected.url}: MD5 {digest} differs from the published {expected.md5}; "
                               f"the file was not kept")
    return "md5"
