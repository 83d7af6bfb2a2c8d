"""The fetch command (`bin/claims-fetch`, measure.models.fetch) against a fake hub on localhost.

Real registry rows are fetched from `FakeHub`, which serves a Hugging Face repo (the ViT-B/16 pre-logits twin,
a tiny transformers ViT in its real files), a timm repo and an official npz file (the npz rows' URLs are
pointed at the loopback server; their path, which decides where the file lands, is kept). Proved: the
files land where the suite's own loader reads them offline; an interrupted download resumes; a file that
differs from its published checksum is refused; the closing table says what was got and why not.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch

from measure.errors import Missing
from measure.models import fetch as fetch_mod
from measure.models import loaders
from measure.models import registry as registry_mod
from measure.models.hub import HubAccess
from measure.models.loaders import load_model, source_files
from measure.models.registry import by_key, registry
from measure.tiers.scopes import TIER_NAMES
from tests.fake_checkpoints import FakeHub, folder_files

HF_KEY, TIMM_KEY, NPZ_KEY = "vit_b16-i21k-hf", "vit_b16-i21k", "bit_s_r50x1-i1k"
GCS = "https://storage.googleapis.com"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What the fake hub serves: {repo: files} and {path: bytes}, and each registry key's paths on it."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("hf_twin")
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)
    ViTModel(config, add_pooling_layer=True).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    (timm_source,) = source_files(by_key(TIMM_KEY))
    rng = np.random.default_rng(0)
    buffer = tmp_path_factory.mktemp("npz") / "bit.npz"
    np.savez(buffer, kernel=rng.standard_normal(60_000).astype(np.float32))
    npz_path = by_key(NPZ_KEY).hub_id.removeprefix(GCS)
    return {
        "repos": {by_key(HF_KEY).hub_id: folder_files(folder),
                  timm_source.repo_id: {timm_source.names[0]: rng.bytes(300_000)}},
        "static": {npz_path: buffer.read_bytes()},
        "timm": (timm_source.repo_id, timm_source.names[0]),
        "npz": npz_path,
    }


@pytest.fixture
def hub(served, tmp_path, monkeypatch):
    """A running FakeHub, the registry's npz URLs pointed at it, and the folders a fetch fills."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    repos = {repo: ("0123456789abcdef0123456789abcdef0123456" + str(i), files)
             for i, (repo, files) in enumerate(served["repos"].items())}
    with FakeHub(repos, static=served["static"]) as server:
        rows = {key: dataclasses.replace(spec, hub_id=spec.hub_id.replace(GCS, server.url))
                for key, spec in registry().items()}
        monkeypatch.setattr(registry_mod, "_registry", lambda: rows)
        server.folders = {"cache": tmp_path / "hf", "files": tmp_path / "files"}
        yield server


def run(server, capsys, *args: str) -> tuple[int, str, dict]:
    report = server.folders["cache"].parent / "fetch.json"
    report.unlink(missing_ok=True)
    code = fetch_mod.main([*args, "--endpoint", server.url, "--cache-dir", str(server.folders["cache"]),
                           "--files-dir", str(server.folders["files"]), "--json", str(report)])
    out = capsys.readouterr().out
    return code, out, json.loads(report.read_text()) if report.exists() else {}


def results(document: dict) -> dict[str, tuple[str, str]]:
    return {row["file"].rsplit("/", 1)[-1]: (row["status"], row["checked"]) for row in document["files"]}


def offline_hub(server) -> HubAccess:
    return HubAccess(offline=True, cache_dir=server.folders["cache"], files_dir=server.folders["files"])


def test_fetch_fills_both_caches_where_the_suite_loads_them_offline(hub, served, capsys):
    code, out, document = run(hub, capsys, HF_KEY, TIMM_KEY, NPZ_KEY)
    assert code == 0, out
    sizes = sum(len(data) for files in served["repos"].values() for data in files.values())
    sizes += len(served["static"][served["npz"]])
    assert f"to download: 5 files, {fetch_mod._human(sizes)};" in out  # the estimate, before anything moved
    checked = {row["file"]: (row["status"], row["checked"]) for row in document["files"]}
    hf, (timm_repo, timm_name) = by_key(HF_KEY).hub_id, served["timm"]
    assert checked == {f"{hf}/config.json": ("fetched", "git-sha1"), f"{hf}/model.safetensors": ("fetched", "sha256"),
                       f"{hf}/preprocessor_config.json": ("fetched", "git-sha1"),
                       f"{timm_repo}/{timm_name}": ("fetched", "sha256"),
                       by_key(NPZ_KEY).hub_id: ("fetched", "size")}  # no MD5 published here: size only
    assert "got 5 of 5 files (5 fetched now)" in out
    # The suite reads them offline through its own loader: the HF twin loads whole, the others resolve.
    offline = offline_hub(hub)
    loaded = load_model(by_key(HF_KEY), offline)
    assert loaded.model(torch.zeros(1, 3, 32, 32)).shape == (1, 32)
    assert offline.hf_file(*served["timm"][:1], [served["timm"][1]]).read_bytes() == \
        served["repos"][served["timm"][0]][served["timm"][1]]
    dest, path = offline.url_file(by_key(NPZ_KEY).hub_id)
    assert path == dest == hub.folders["files"] / served["npz"].lstrip("/")
    assert path.read_bytes() == served["static"][served["npz"]]

    gets = sum(method == "GET" for method, _ in hub.requests)
    again, out, document = run(hub, capsys, HF_KEY, TIMM_KEY, NPZ_KEY)
    assert again == 0 and {status for status, _ in results(document).values()} == {"cached"}
    assert sum(method == "GET" for method, _ in hub.requests) == gets  # metadata only the second time
    assert "to download: 0 files, 0 B; already here:" in out


def test_an_interrupted_official_download_resumes_where_it_stopped(hub, served, capsys):
    path = served["npz"]
    hub.cut[path] = 100_000
    code, _, document = run(hub, capsys, NPZ_KEY)
    assert code == 1
    (row,) = document["files"]
    assert row["status"] == "failed" and "100000 of" in row["why"] and "run again to resume" in row["why"]
    dest = hub.folders["files"] / path.lstrip("/")
    assert not dest.exists() and dest.with_name(dest.name + ".part").stat().st_size == 100_000
    assert "100.0 kB kept" in run(hub, capsys, NPZ_KEY, "--list")[1]

    code, _, document = run(hub, capsys, NPZ_KEY)  # with progress bars, as a user runs it
    assert code == 0 and document["files"][0]["why"] == "resumed from byte 100000"
    assert hub.ranges[path] == [None, "bytes=100000-"]
    assert dest.read_bytes() == served["static"][path] and not dest.with_name(dest.name + ".part").exists()


def test_a_dropped_hub_connection_is_resumed_within_the_run(hub, served, capsys, monkeypatch):
    # huggingface_hub retries with a Range from the last chunk it wrote (10 MiB chunks; 16 KiB here).
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)
    repo, name = served["timm"]
    hub.cut[f"/{repo}/resolve/main/{name}"] = 120_000
    code, _, document = run(hub, capsys, TIMM_KEY, "--no-progress")
    assert code == 0 and results(document)[name] == ("fetched", "sha256")
    first, retry = hub.ranges[f"/{repo}/resolve/main/{name}"]
    assert first is None and 0 < int(re.fullmatch(r"bytes=(\d+)-", retry)[1]) <= 120_000
    assert offline_hub(hub).hf_file(repo, [name]).read_bytes() == served["repos"][repo][name]


def test_files_that_differ_from_their_published_checksum_are_refused(hub, served, capsys):
    repo, name = served["timm"]
    hub.headers[f"/{repo}/resolve/main/{name}"] = {"ETag": f'"{hashlib.sha256(b"other").hexdigest()}"'}
    md5_of_other = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    hub.headers[served["npz"]] = {"x-goog-hash": f"crc32c=AAAAAA==,md5={md5_of_other}"}
    code, out, document = run(hub, capsys, TIMM_KEY, NPZ_KEY, "--no-progress")
    assert code == 1
    rows = {row["file"].rsplit("/", 1)[-1]: row for row in document["files"]}
    assert rows[name]["status"] == "failed" and rows[name]["checked"] == "sha256"
    assert "the hub's ETag says" in rows[name]["why"] and "not kept" in rows[name]["why"]
    npz = rows[served["npz"].rsplit("/", 1)[-1]]
    assert npz["status"] == "failed" and re.search(r"MD5 \w+ differs from the published", npz["why"])
    # Nothing the suite could load: no blob, no snapshot link, no npz and no .part.
    offline = offline_hub(hub)
    assert offline.hf_file(repo, [name]) is None
    assert not list((hub.folders["cache"]).rglob("blobs/*"))
    assert [p.name for p in hub.folders["files"].rglob("*.npz*")] == ["BiT-S-R50x1.npz.lock"]
    assert "could not get 2 (of 2 checkpoints)" in out


def test_a_cached_file_is_checked_and_reported_never_deleted(hub, served, capsys):
    assert run(hub, capsys, TIMM_KEY, "--no-progress")[0] == 0
    blob = next(hub.folders["cache"].rglob("blobs/*"))
    blob.write_bytes(b"bit rot")
    code, _, document = run(hub, capsys, TIMM_KEY, "--offline")
    assert code == 1 and f"delete {blob}" in document["files"][0]["why"]
    assert blob.read_bytes() == b"bit rot"


def test_offline_without_caches_says_sizes_are_unknown_and_what_is_missing(hub, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "SIZES_CSV", tmp_path / "none-recorded.csv")
    code, out, document = run(hub, capsys, TIMM_KEY, NPZ_KEY, "--offline")
    assert code == 1
    assert "to download: 2 files, 0 B + 2 of unknown size (offline mode is set" in out
    assert all(row["status"] == "failed" and "offline mode is set" in row["why"] for row in document["files"])
    assert hub.requests == []  # not a single connection


def test_unknown_keys_and_unreleased_rows_say_why(hub, capsys):
    assert fetch_mod.main(["vit_l16-i21", "vit_b16-i21k-hf", "bit_m_r152x4"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint 'vit_l16-i21'" in err and "vit_l16-i21k" in err and "bit_m_r152x4-i21k" in err
    code, out, document = run(hub, capsys, "vit_l16-jft", "--no-progress")
    assert code == 1 and "JFT-300M is private" in document["files"][0]["why"]
    assert "cannot fetch vit_l16-jft: vit_l16-jft: JFT-300M is private" in out  # said before fetching starts


def test_tiers_select_the_rows_they_read():
    eval_rows, probe_rows, finetune_rows = (fetch_mod.tier_rows(tier) for tier in ("eval", "probe", "finetune"))
    assert eval_rows and all(spec.finetuned_on == "imagenet" and spec.released for spec in eval_rows)
    probe_keys, finetune_keys = {s.key for s in probe_rows}, {s.key for s in finetune_rows}
    assert {"vit_l16-i21k-hf", "bit_m_r152x4-i21k"} <= probe_keys  # the paper's pre-logits where public
    assert "vit_l16-i21k" not in probe_keys and "vit_l16-i21k" in finetune_keys
    assert not any(spec.finetuned_on for spec in probe_rows + finetune_rows)
    assert not any(spec.twin_of for spec in eval_rows + finetune_rows)  # twins only as the probe's pre-logits
    assert all(spec.pre_logits for spec in probe_rows if spec.twin_of)
    assert {s.key for s in fetch_mod.select()} == {k for k, s in registry().items() if s.released}
    assert {s.key for s in fetch_mod.select(tiers=["eval"])} == {s.key for s in eval_rows}


def test_every_tier_of_the_suite_is_a_fetch_tier(hub, capsys):
    # Before: the command's choices were a hand-copied ("eval", "probe", "finetune"), refusing the default tier
    # analysis (argparse: exit 2, "invalid choice") that tier_rows already knew.
    assert all(fetch_mod.tier_rows(tier) for tier in TIER_NAMES)
    code, out, _ = run(hub, capsys, "--tier", "analysis", "--list", "--offline")
    assert code == 0 and f"planning {len(fetch_mod.tier_rows('analysis'))} checkpoints" in out
    assert hub.requests == []


def test_fetch_asks_for_exactly_the_files_load_model_reads(monkeypatch):
    """For every released row, the files `source_files` names are the `HubAccess` calls `load_model` makes."""
    class Built(Exception):
        pass

    def build(*args, **kwargs):
        raise Built

    monkeypatch.setattr(loaders, "_timm_model", build)
    monkeypatch.setattr(loaders, "_transformers_model", build)

    class Recorder:
        cache_dir = files_dir = Path("/nonexistent")

        def why_not(self) -> str:
            return "recording"

        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def hf_file(self, repo_id, filenames, revision=None):
            self.calls.append((repo_id, tuple(filenames)))
            return Path("/nonexistent/snapshots/rev") / filenames[0]

        def url_file(self, url):
            self.calls.append((url,))
            return self.files_dir / "file", None  # not there: load_model says what to provide

    for spec in registry().values():
        if not spec.released:
            continue
        recorder = Recorder()
        with pytest.raises((Built, Missing)):
            load_model(spec, recorder)
        expected = [(source.url,) if source.url else (source.repo_id, source.names) for source in source_files(spec)]
        assert recorder.calls == expected, spec.key


def test_sizes_recorded_online_are_known_offline(hub, served, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "SIZES_CSV", tmp_path / "file_sizes.csv")
    code, out, _ = run(hub, capsys, TIMM_KEY, NPZ_KEY, "--list", "--record-sizes")
    assert code == 0 and "2 sizes recorded in" in out
    recorded = fetch_mod.recorded_sizes()
    timm_file, npz = served["timm"][1], served["npz"].rsplit("/", 1)[-1]
    assert {k: size for k, (size, _) in recorded.items()} == {
        (TIMM_KEY, timm_file): len(served["repos"][served["timm"][0]][timm_file]),
        (NPZ_KEY, npz): len(served["static"][served["npz"]])}
    code, out, _ = run(hub, capsys, TIMM_KEY, NPZ_KEY, "--list", "--offline")
    total = fetch_mod._human(sum(size for size, _ in recorded.values()))
    assert f"to download: 2 files, {total} (2 of the sizes as recorded in file_sizes.csv" in out
    assert "unknown size" not in out
