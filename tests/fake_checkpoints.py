"""Checkpoints built by the tests in the exact on-disk formats of the real ones, and loopback hubs.

* a Hugging Face hub cache entry (``models--org--name/{blobs,refs/main,snapshots/<rev>/...}``);
* the official BiT ``.npz`` layout — the exact inverse of timm's ``resnetv2._load_weights``;
* the official vit_jax ``.npz`` layout — the exact inverse of timm's ``vision_transformer._load_weights``;
* `FakeHub`: a loopback HTTP server answering like the hub's ``/resolve/`` endpoint;
* `ConnectionCounter`: a loopback port that accepts and drops every connection, counting them.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Self

import numpy as np
import torch

# Files the hub stores through git-lfs are named by sha256 in the cache, the others by git blob sha1.
_LFS_SUFFIXES = (".safetensors", ".bin", ".pth", ".npz", ".h5")


def hf_blob_name(filename: str, data: bytes) -> str:
    if filename.endswith(_LFS_SUFFIXES):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_hf_cache_repo(cache_dir: Path, repo_id: str, files: Mapping[str, bytes], *,
                        commit: str | None = None) -> str:
    """A cached hub snapshot as huggingface_hub writes it (blobs + relative symlinks + refs/main)."""
    content = b"".join(name.encode() + hashlib.sha256(data).digest() for name, data in sorted(files.items()))
    commit = commit or hashlib.sha1(repo_id.encode() + content).hexdigest()
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)  # no trailing newline, like the hub client
    snapshot = repo / "snapshots" / commit
    for name, data in files.items():
        blob = repo / "blobs" / hf_blob_name(name, data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():  # written again (a module fixture set up twice in one session): replace, as the hub does
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    return commit


def timm_hub_files(model: torch.nn.Module, folder: Path) -> dict[str, bytes]:
    """model.safetensors + config.json exactly as timm pushes a model to the hub."""
    from timm.models import save_for_hf

    save_for_hf(model, str(folder), safe_serialization=True)
    return {name: (folder / name).read_bytes() for name in ("model.safetensors", "config.json")}


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- official npz layouts -----------------------------------------------------------------------

def _hwio(weight: torch.Tensor) -> np.ndarray:
    """OIHW -> HWIO: the inverse of timm's `t2p` / `_n2p` transpose([3, 2, 0, 1])."""
    return weight.detach().permute(2, 3, 1, 0).contiguous().numpy()


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().contiguous().numpy()


def bit_npz_arrays(state_dict: Mapping[str, torch.Tensor], prefix: str = "resnet/") -> dict[str, np.ndarray]:
    """A timm ResNetV2 (BiT) state_dict under the official BiT npz names (BiT-S-R50x1.npz layout)."""
    arrays: dict[str, np.ndarray] = {}
    unit = "abc"
    for name, tensor in state_dict.items():
        if name == "stem.conv.weight":
            arrays[f"{prefix}root_block/standardized_conv2d/kernel"] = _hwio(tensor)
        elif name in ("norm.weight", "norm.bias"):
            arrays[f"{prefix}group_norm/{'gamma' if name.endswith('weight') else 'beta'}"] = _np(tensor)
        elif name == "head.fc.weight":
            arrays[f"{prefix}head/conv2d/kernel"] = _hwio(tensor)
        elif name == "head.fc.bias":
            arrays[f"{prefix}head/conv2d/bias"] = _np(tensor)
        elif m := re.fullmatch(r"stages\.(\d+)\.blocks\.(\d+)\.(.+)", name):
            block = f"{prefix}block{int(m[1]) + 1}/unit{int(m[2]) + 1:02d}/"
            rest = m[3]
            if c := re.fullmatch(r"conv(\d)\.weight", rest):
                arrays[f"{block}{unit[int(c[1]) - 1]}/standardized_conv2d/kernel"] = _hwio(tensor)
            elif c := re.fullmatch(r"norm(\d)\.(weight|bias)", rest):
                param = "gamma" if c[2] == "weight" else "beta"
                arrays[f"{block}{unit[int(c[1]) - 1]}/group_norm/{param}"] = _np(tensor)
            elif rest == "downsample.conv.weight":
                arrays[f"{block}a/proj/standardized_conv2d/kernel"] = _hwio(tensor)
            else:
                raise KeyError(f"no official BiT name for {name}")
        else:
            raise KeyError(f"no official BiT name for {name}")
    return arrays


def vit_npz_arrays(state_dict: Mapping[str, torch.Tensor], num_heads: int,
                   pre_logits_dim: int | None = None) -> dict[str, np.ndarray]:
    """A timm ViT state_dict under the official vit_jax npz names (gs://vit_models/... layout).

    `pre_logits_dim` adds the ``pre_logits`` dense layer the ImageNet-21k files carry (timm skips it).
    """
    arrays: dict[str, np.ndarray] = {}
    width = state_dict["cls_token"].shape[-1]
    head_dim = width // num_heads
    for name, tensor in state_dict.items():
        if name == "patch_embed.proj.weight":
            arrays["embedding/kernel"] = _hwio(tensor)
        elif name == "patch_embed.proj.bias":
            arrays["embedding/bias"] = _np(tensor)
        elif name == "cls_token":
            arrays["cls"] = _np(tensor)
        elif name == "pos_embed":
            arrays["Transformer/posembed_input/pos_embedding"] = _np(tensor)
        elif name in ("norm.weight", "norm.bias"):
            arrays[f"Transformer/encoder_norm/{'scale' if name.endswith('weight') else 'bias'}"] = _np(tensor)
        elif name == "head.weight":
            arrays["head/kernel"] = _np(tensor.T)
        elif name == "head.bias":
            arrays["head/bias"] = _np(tensor)
        elif m := re.fullmatch(r"blocks\.(\d+)\.(.+)", name):
            block, rest = f"Transformer/encoderblock_{m[1]}/", m[2]
            attention = block + "MultiHeadDotProductAttention_1/"
            if n := re.fullmatch(r"norm([12])\.(weight|bias)", rest):
                layer = {"1": "LayerNorm_0", "2": "LayerNorm_2"}[n[1]]
                arrays[f"{block}{layer}/{'scale' if n[2] == 'weight' else 'bias'}"] = _np(tensor)
            elif rest == "attn.qkv.weight":
                for part, w in zip(("query", "key", "value"), tensor.chunk(3, dim=0)):
                    arrays[f"{attention}{part}/kernel"] = _np(w.T.reshape(width, num_heads, head_dim))
            elif rest == "attn.qkv.bias":
                for part, b in zip(("query", "key", "value"), tensor.chunk(3, dim=0)):
                    arrays[f"{attention}{part}/bias"] = _np(b.reshape(num_heads, head_dim))
            elif rest == "attn.proj.weight":
                arrays[f"{attention}out/kernel"] = _np(tensor.reshape(width, num_heads, head_dim).permute(1, 2, 0))
            elif rest == "attn.proj.bias":
                arrays[f"{attention}out/bias"] = _np(tensor)
            elif n := re.fullmatch(r"mlp\.fc([12])\.(weight|bias)", rest):
                dense = f"{block}MlpBlock_3/Dense_{int(n[1]) - 1}/"
                arrays[dense + ("kernel" if n[2] == "weight" else "bias")] = _np(tensor.T if n[2] == "weight"
                                                                                 else tensor)
            else:
                raise KeyError(f"no official vit_jax name for {name}")
        else:
            raise KeyError(f"no official vit_jax name for {name}")
    if pre_logits_dim:
        rng = np.random.default_rng(0)
        arrays["pre_logits/kernel"] = rng.standard_normal((width, pre_logits_dim), dtype=np.float32)
        arrays["pre_logits/bias"] = np.zeros(pre_logits_dim, np.float32)
    return arrays


# -- loopback servers ---------------------------------------------------------------------------

class FakeHub:
    """A loopback server answering HEAD/GET ``/{repo}/resolve/{revision}/{file}`` like huggingface.co:
    X-Repo-Commit, ETag and Content-Length on the metadata call, the bytes on GET, and the hub's
    ``X-Error-Code`` 404s for unknown files and repos; `static` paths are served as plain files (the
    official npz buckets). Both honour ``Range: bytes=N-`` (206 + Content-Range), as the hub and Cloud
    Storage do. `headers` adds or overrides response headers per path (a published checksum, a wrong
    ETag); `cut` ends the next GET of a path after that many bytes (a dropped connection). `requests`
    logs (method, path) and `ranges` the Range header of each GET, by path."""

    def __init__(self, repos: Mapping[str, tuple[str, Mapping[str, bytes]]],
                 static: Mapping[str, bytes] | None = None,
                 headers: Mapping[str, Mapping[str, str]] | None = None,
                 cut: dict[str, int] | None = None) -> None:
        self.repos = repos
        self.static = static or {}
        self.headers = headers or {}
        self.cut = cut if cut is not None else {}
        self.requests: list[tuple[str, str]] = []
        self.ranges: dict[str, list[str | None]] = {}
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append((self.command, self.path))
                if self.path == "/":
                    return self._send(200, {}, b"hub" if body else None, length=3)
                if self.path in hub.static:
                    return self._send_file({}, hub.static[self.path], body)
                m = re.fullmatch(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self.path)
                if not m or m["repo"] not in hub.repos:
                    return self._send(404, {"X-Error-Code": "RepoNotFound"}, None)
                commit, files = hub.repos[m["repo"]]
                if m["rev"] not in ("main", commit):
                    return self._send(404, {"X-Error-Code": "RevisionNotFound"}, None)
                if m["file"] not in files:
                    return self._send(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}, None)
                data = files[m["file"]]
                self._send_file({"X-Repo-Commit": commit, "ETag": f'"{hf_blob_name(m["file"], data)}"'}, data, body)

            def _send_file(self, headers: Mapping[str, str], data: bytes, body: bool) -> None:
                headers = {"Accept-Ranges": "bytes", **headers, **hub.headers.get(self.path, {})}
                wanted = self.headers.get("Range")
                if body:
                    hub.ranges.setdefault(self.path, []).append(wanted)
                start = int(m[1]) if (m := re.fullmatch(r"bytes=(\d+)-", wanted or "")) else 0
                if start >= len(data) > 0:
                    return self._send(416, {"Content-Range": f"bytes */{len(data)}"}, None)
                if start:
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                end = start + hub.cut.pop(self.path) if body and self.path in hub.cut else len(data)
                self._send(206 if start else 200, headers, data[start:end] if body else None, length=len(data) - start)

            def _send(self, status: int, headers: Mapping[str, str], data: bytes | None, length: int = 0) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if data is not None:
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class ConnectionCounter:
    """A loopback port that accepts each TCP connection and closes it at once: an unusable hub whose
    connection attempts can be counted (a closed port, like 127.0.0.1:9, leaves no trace)."""

    def __init__(self) -> None:
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()


class SilentPort:
    """A loopback port that completes the TCP handshake (kernel backlog) but never answers: a hub
    behind a black-holing network, where only timeouts end the wait."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
