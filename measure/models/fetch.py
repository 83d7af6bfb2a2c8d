"""Pre-filling the checkpoint caches: ``bin/claims-fetch [KEYS...]`` (``python -m measure.models.fetch``).

Fetches what the suite will load, through the suite's own file resolution: `measure.models.loaders.source_files`
names the files `load_model` reads for each registry row, Hugging Face files come through the very
`HubAccess.hf_file` call the loader makes (so they land in the same cache, under the same ``refs/main``), and
the official ``.npz`` files go to `HubAccess.file_path`, where the loader looks. It then

* estimates the download before it starts (hub metadata / HEAD; sizes unknown while offline);
* downloads with progress bars; an official file resumes from its kept ``.part`` (HTTP Range,
  `measure.models.download`); a Hugging Face file resumes a dropped connection within the run
  (huggingface_hub's own retry with a Range request) but starts again after the process was killed
  (huggingface_hub 2.x downloads each file to a temporary file of its own process);
* checks every file against what its source publishes: Hugging Face files against the ETag the hub
  reported, which names the cached blob (the SHA-256 of an LFS / Xet file, the git blob SHA-1 of a small
  one); official files against their size and the MD5 Google Cloud Storage publishes (``x-goog-hash``);
  a file downloaded now that fails is deleted, one that was already there is reported, never deleted;
* ends with a table of what it got and what it could not get, and why; the exit status is 1 when
  anything requested could not be fetched, 2 for an unknown key (the message lists close matches).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import urllib.error
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from measure.errors import Missing, Unreleased
from measure.models.download import ChecksumMismatch, RemoteFile, download, file_md5, part_path, remote_file
from measure.models.hub import HubAccess, _httpx_error
from measure.models.loaders import SourceFile, source_files
from measure.models.registry import CheckpointSpec, by_key, registry
from measure.tiers.scopes import TIER_NAMES as TIERS

OK = ("fetched", "cached", "absent (optional)")

__all__ = ["Outcome", "Planned", "fetch", "hf_blob_checksum", "main", "plan", "select", "tier_rows"]


@dataclass(frozen=True)
class Planned:
    """One file to fetch for one registry row, as known before downloading."""

    key: str
    file: str                      # "repo/name" on the hub, or the official URL
    size: int | None               # bytes; None: unknown (offline, or the source does not say)
    on_disk: int = 0               # bytes already here: the whole file, or a kept .part
    cached: bool = False
    source: SourceFile | None = None
    remote: RemoteFile | None = None  # official files: what HEAD said
    problem: str = ""              # why it cannot be fetched at all (unreleased row, no such repo, ...)
    recorded: bool = False         # size read from SIZES_CSV (offline), not from the source now


@dataclass(frozen=True)
class Outcome:
    """What became of a `Planned` file: a row of the closing table."""

    key: str
    file: str
    size: int | None
    status: str        # fetched | cached | absent (optional) | failed
    checked: str = ""  # sha256 | git-sha1 | md5 | size | "" (nothing published to check against)
    why: str = ""

    @property
    def ok(self) -> bool:
        return self.status in OK


# -- what to fetch ---------------------------------------------------------------------------------

def tier_rows(tier: str) -> list[CheckpointSpec]:
    """The released rows a tier reads, as the tier object lists them (`measure.tiers.protocol.Tier.needs`: eval the
    ImageNet fine-tunes; finetune the pre-trained rows; probe, per pre-trained model, the twin that keeps the
    paper's pre-logits layer where one is public; analysis the pre-trained ImageNet-21k ViTs and hybrids). Twins
    (``twin_of``) come only through the tier's choice."""
    from measure.tiers.protocol import tier as tier_named

    primary = [spec for spec in registry().values() if spec.released and not spec.twin_of]
    return tier_named(tier).needs(primary)


def select(keys: Sequence[str] = (), tiers: Sequence[str] = ()) -> list[CheckpointSpec]:
    """The rows named by `keys` and `tiers` (default: every released row), in registry order; LookupError
    naming the close matches of every unknown key."""
    problems = []
    wanted: dict[str, CheckpointSpec] = {}
    for key in keys:
        try:
            wanted[key] = by_key(key)
        except LookupError as error:
            problems.append(str(error))
    if problems:
        raise LookupError("\n".join(problems))
    for tier in tiers:
        wanted.update((spec.key, spec) for spec in tier_rows(tier))
    if not keys and not tiers:
        wanted = {spec.key: spec for spec in registry().values() if spec.released}
    order = list(registry())
    return sorted(wanted.values(), key=lambda spec: order.index(spec.key))


SIZES_CSV = Path(__file__).with_name("file_sizes.csv")
SIZE_COLUMNS = ("key", "file", "bytes", "recorded")


def _size_key(item: Planned) -> tuple[str, str]:
    return item.key, item.file.rsplit("/", 1)[-1]  # the file's name: the same whatever host serves it


def recorded_sizes(path: Path | None = None) -> dict[tuple[str, str], tuple[int, str]]:
    """Sizes the source announced when ``bin/claims-fetch --record-sizes`` last reached it: {(key, file): (bytes,
    date)}; what lets an offline ``--list`` say how big a download is."""
    import csv

    path = path or SIZES_CSV
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {(row["key"], row["file"]): (int(row["bytes"]), row["recorded"]) for row in csv.DictReader(fh)}


def record_sizes(planned: list[Planned], path: Path | None = None) -> int:
    """Write the sizes the source announced now (not those read back from ``path``) into ``path``; returns how
    many rows it holds for these files."""
    import csv
    import datetime
    import io

    from measure.run.files import atomic_write_text

    path = path or SIZES_CSV
    today = datetime.date.today().isoformat()
    rows = {k: v for k, v in recorded_sizes(path).items()}
    for item in planned:
        if item.size is not None and not item.recorded and not item.problem:
            rows[_size_key(item)] = (item.size, today)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(SIZE_COLUMNS)
    writer.writerows((key, file, size, date) for (key, file), (size, date) in sorted(rows.items()))
    atomic_write_text(path, text.getvalue())
    return sum(_size_key(item) in rows for item in planned)


def plan(hub: HubAccess, specs: Iterable[CheckpointSpec], sizes: Path | None = None) -> list[Planned]:
    """Every file of `specs`, with its size and what is already on disk (metadata only: nothing downloaded); a
    size the source cannot say now (offline) is the one recorded in `sizes`, marked ``recorded``."""
    known = recorded_sizes(sizes)
    return [replace(p, size=known[_size_key(p)][0], recorded=True)
            if p.size is None and not p.problem and _size_key(p) in known else p for p in _plan(hub, specs)]


def _plan(hub: HubAccess, specs: Iterable[CheckpointSpec]) -> list[Planned]:
    planned = []
    for spec in specs:
        try:
            sources = source_files(spec)
        except (Unreleased, Missing) as error:
            planned.append(Planned(spec.key, spec.hub_id or "-", None, problem=str(error)))
            continue
        for source in sources:
            planned.append(_plan_url(hub, spec.key, source) if source.url else _plan_hf(hub, spec.key, source))
    return planned


def _plan_hf(hub: HubAccess, key: str, source: SourceFile) -> Planned:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    def planned(name: str, size: int | None, problem: str = "") -> Planned:
        cached = _hf_cached(hub, source.repo_id, name)
        here = cached.stat().st_size if cached else 0
        return Planned(key, f"{source.repo_id}/{name}", size if size is not None else (here or None), here,
                       cached is not None, source, problem=problem)

    if hub.reachable:  # the loader takes the first name the hub has: so does the estimate
        for name in source.names:
            try:
                meta = get_hf_file_metadata(hf_hub_url(source.repo_id, name, endpoint=hub.endpoint), timeout=10)
            except RemoteEntryNotFoundError:
                continue
            except (RepositoryNotFoundError, RevisionNotFoundError) as error:
                return planned(source.names[0], None, f"the hub at {hub.endpoint} has no repo {source.repo_id} "
                                                      f"({type(error).__name__})")
            except (HfHubHTTPError, OSError, _httpx_error()) as error:
                hub.mark_unreachable(f"{hub.endpoint}: {type(error).__name__}: {error}")
                break
            return planned(name, meta.size)
        else:
            return planned(source.names[0], None, f"{source.repo_id} on {hub.endpoint} has none of "
                                                  f"{', '.join(source.names)}"
                                                  + ("" if source.required else " (optional: used when present)"))
    # Offline or unreachable: the loader falls back to the first cached name, in the same order.
    name = next((name for name in source.names if _hf_cached(hub, source.repo_id, name)), source.names[0])
    return planned(name, None)


def _hf_cached(hub: HubAccess, repo_id: str, name: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, name, cache_dir=hub.cache_dir)
    return Path(found) if isinstance(found, str) else None


def _plan_url(hub: HubAccess, key: str, source: SourceFile) -> Planned:
    dest = hub.file_path(source.url)
    part = part_path(dest)
    here = dest.stat().st_size if dest.is_file() else (part.stat().st_size if part.is_file() else 0)
    remote = None
    if hub.reachable:
        try:
            remote = remote_file(source.url)
        except urllib.error.HTTPError as error:
            return Planned(key, source.url, None, here, dest.is_file(), source,
                           problem=f"{source.url} answered HTTP {error.code}")
        except OSError as error:
            hub.mark_unreachable(f"{source.url}: {error}")
    size = remote.size if remote else (here if dest.is_file() else None)
    return Planned(key, source.url, size, here, dest.is_file(), source, remote)


# -- fetching ----------------------------------------------------------------------------------------

def fetch(hub: HubAccess, item: Planned, *, progress: bool = True) -> Outcome:
    """Download `item` unless it is here, check it, and say what became of it."""
    def outcome(status: str, checked: str = "", why: str = "") -> Outcome:
        return Outcome(item.key, item.file, item.size, status, checked, why)

    if item.problem:
        return outcome("failed" if _required(item) else "absent (optional)", why=item.problem)
    source = item.source
    assert source is not None
    if source.url:
        return _fetch_url(hub, item, outcome, progress)
    try:
        path = hub.hf_file(source.repo_id, source.names)  # the loader's own call: same cache, same refs/main
    except Missing as error:
        return outcome("failed", why=str(error))
    if path is None:
        if not source.required and hub.unreachable_reason is None:
            return outcome("absent (optional)")
        return outcome("failed", why=f"not in the cache ({hub.cache_dir}) and {hub.why_not()}")
    checked, expected, got = hf_blob_checksum(path)
    if got != expected:
        blob = path.resolve()
        if item.cached:
            return outcome("failed", checked, f"the cached {path.name} has {checked} {got}, the hub's ETag says "
                                              f"{expected}: delete {blob} and {path}, then run again")
        blob.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        return outcome("failed", checked, f"downloaded {path.name} has {checked} {got}, the hub's ETag says "
                                          f"{expected}: not kept (run again)")
    return outcome("cached" if item.cached else "fetched", checked)


def _fetch_url(hub: HubAccess, item: Planned, outcome, progress: bool) -> Outcome:
    dest = hub.file_path(item.file)
    if dest.is_file():
        remote = item.remote
        if remote and remote.size is not None and dest.stat().st_size != remote.size:
            return outcome("failed", "size", f"{dest} has {dest.stat().st_size} bytes, the server announces "
                                             f"{remote.size}: delete it and run again")
        if remote and remote.md5:
            digest = file_md5(dest)
            return (outcome("cached", "md5") if digest == remote.md5 else outcome(
                "failed", "md5", f"{dest} has MD5 {digest}, the server publishes {remote.md5}: delete it and run again"))
        return outcome("cached", "size" if remote and remote.size is not None else "")
    if not hub.reachable:
        return outcome("failed", why=f"not at {dest} and {hub.why_not()}")
    try:
        done = download(item.file, dest, expected=item.remote, progress=progress)
    except urllib.error.HTTPError as error:
        return outcome("failed", why=f"{item.file} answered HTTP {error.code}")
    except ChecksumMismatch as error:
        return outcome("failed", why=str(error))
    except OSError as error:
        return outcome("failed", why=f"{error} (run again to resume)")
    return outcome("fetched", done.verified, f"resumed from byte {done.resumed_from}" if done.resumed_from else "")


def hf_blob_checksum(path: Path) -> tuple[str, str, str]:
    """(kind, expected, actual) for a file of the Hugging Face cache. huggingface_hub names each blob by the
    ETag the hub reported: the SHA-256 of an LFS / Xet file, the git blob SHA-1 (of ``blob <size>\\0`` +
    content) of a small one. ("", "", "") when the blob name is neither (a cache without symlinks)."""
    blob = Path(path).resolve()
    expected = blob.name.lower()
    if len(expected) == 64:
        digest = hashlib.sha256()
        kind = "sha256"
    elif len(expected) == 40:
        digest = hashlib.sha1(b"blob %d\0" % blob.stat().st_size)
        kind = "git-sha1"
    else:
        return "", "", ""
    with blob.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return kind, expected, digest.hexdigest()


# -- what the user sees ------------------------------------------------------------------------------

def _human(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _required(item: Planned) -> bool:
    return item.source is None or item.source.required


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in (header, tuple("-" * w for w in widths), *rows)]
    return "\n".join(lines)


def _free(path: Path) -> int | None:
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def format_plan(hub: HubAccess, planned: list[Planned]) -> str:
    rows = [(p.key, p.file, _human(p.size), "complete" if p.cached else (f"{_human(p.on_disk)} kept" if p.on_disk
                                                                         else "-"))
            for p in planned if not p.problem]
    todo = [p for p in planned if not p.problem and not p.cached]
    known = sum(p.size - p.on_disk for p in todo if p.size is not None)
    unknown = sum(p.size is None for p in todo)
    lines = [_table(rows, ("key", "file", "size", "on disk")) if rows else "(no fetchable files)", ""]
    lines += [f"cannot fetch {p.key}: {p.problem}" for p in planned if p.problem and _required(p)]
    recorded = sum(p.recorded for p in todo)
    lines.append(f"to download: {_count(len(todo), 'file')}, {_human(known)}"
                 + (f" ({recorded} of the sizes as recorded in {SIZES_CSV.name}, the source not asked now)"
                    if recorded else "")
                 + (f" + {unknown} of unknown size ({hub.unreachable_reason or 'the source does not say'})"
                    if unknown else "")
                 + f"; already here: {_human(sum(p.size or 0 for p in planned if p.cached))} "
                 f"in {_count(sum(p.cached for p in planned), 'file')}")
    lines.append(f"Hugging Face cache: {hub.cache_dir} ({_human(_free(hub.cache_dir))} free); official files: "
                 f"{hub.files_dir} ({_human(_free(hub.files_dir))} free)")
    return "\n".join(lines)


def format_outcomes(outcomes: list[Outcome]) -> str:
    rows = [(o.key, o.file, _human(o.size), o.status, o.checked or "-", o.why) for o in outcomes]
    failed = [o for o in outcomes if not o.ok]
    summary = (f"got {sum(o.status in ('fetched', 'cached') for o in outcomes)} of {_count(len(outcomes), 'file')} "
               f"({sum(o.status == 'fetched' for o in outcomes)} fetched now)"
               + (f"; could not get {len(failed)} (of {_count(len({o.key for o in failed}), 'checkpoint')})"
                  if failed else ""))
    return _table(rows, ("key", "file", "size", "result", "checked", "why")) + "\n\n" + summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="claims-fetch", description=__doc__.split("\n\n")[0],
        epilog="Where files go: HF_HOME or HF_HUB_CACHE (Hugging Face cache), CLAIMS_CHECKPOINTS (official files, "
               "default ~/.cache/vit-claims/checkpoints); HF_ENDPOINT names the hub, HF_HUB_OFFLINE=1 checks the "
               "caches without the network. Exit status: 0 all here, 1 something could not be fetched, 2 unknown key.")
    parser.add_argument("keys", nargs="*", metavar="KEY", help="registry keys (measure/models/checkpoints.csv); "
                        "default: every released row")
    parser.add_argument("--tier", action="append", choices=TIERS, default=[],
                        help="add the rows this evidence tier reads (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the plan and the download size, fetch nothing")
    parser.add_argument("--json", type=Path, help="also write the closing table to this JSON file")
    parser.add_argument("--offline", action="store_true", help="use no network (as HF_HUB_OFFLINE=1)")
    parser.add_argument("--endpoint", help="Hugging Face endpoint (default: HF_ENDPOINT or huggingface.co)")
    parser.add_argument("--cache-dir", type=Path, help="Hugging Face cache (default: HF_HUB_CACHE / HF_HOME/hub)")
    parser.add_argument("--files-dir", type=Path, help="official files (default: CLAIMS_CHECKPOINTS)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--record-sizes", action="store_true",
                        help=f"write the sizes the source announces into {SIZES_CSV.name} (for offline --list)")
    args = parser.parse_args(argv)
    try:
        specs = select(args.keys, args.tier)
    except LookupError as error:
        print(f"claims-fetch: {error}", file=sys.stderr)
        return 2
    hub = HubAccess(offline=True if args.offline else None, endpoint=args.endpoint, cache_dir=args.cache_dir,
                    files_dir=args.files_dir)
    print(f"planning {len(specs)} checkpoints ...", flush=True)
    planned = plan(hub, specs)
    print(format_plan(hub, planned) + "\n", flush=True)
    if args.record_sizes:
        print(f"{record_sizes(planned)} sizes recorded in {SIZES_CSV}", flush=True)
    if args.list:
        return 0
    if args.no_progress:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    outcomes = [fetch(hub, item, progress=not args.no_progress) for item in planned]
    print(format_outcomes(outcomes))
    if args.json:
        from measure.run.files import atomic_write_json

        atomic_write_json(args.json, {"hub": {"endpoint": hub.endpoint, "cache_dir": str(hub.cache_dir),
                                              "files_dir": str(hub.files_dir), "unreachable": hub.unreachable_reason},
                                      "files": [asdict(o) | {"ok": o.ok} for o in outcomes]})
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
