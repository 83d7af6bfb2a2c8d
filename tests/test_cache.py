"""The prediction cache: hits recompute nothing, kills resume, corruption is repaired, races compute once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from measure.run.cache import ChunkCache, stable_hash
from measure.run.files import atomic_torch_save, atomic_write_json, plain_data

ROOT = Path(__file__).resolve().parents[1]
KEY = {"checkpoint": {"hub_id": "timm/vit_tiny.test", "revision": "abc123"}, "dataset": "cifar10",
       "split": "test", "preprocessing": {"input_size": [3, 32, 32]}, "recipe": {"tier": "probe"}}
N_CHUNKS = 5


class Counting:
    """compute_chunk that records which chunks it was asked for, optionally failing at one of them."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[int] = []
        self.fail_at = fail_at

    def __call__(self, i: int) -> dict[str, np.ndarray]:
        if i == self.fail_at:
            raise KeyboardInterrupt(f"simulated interruption at chunk {i}")
        self.calls.append(i)
        return {"features": np.full((3, 2), i, dtype=np.float32), "target": np.arange(3) + 3 * i}


def expected_features() -> np.ndarray:
    return np.repeat(np.arange(N_CHUNKS, dtype=np.float32), 3)[:, None].repeat(2, axis=1)


def test_second_call_is_served_from_disk_without_computing(tmp_path):
    first, second = Counting(), Counting()
    a = ChunkCache(tmp_path).get_or_compute(KEY, N_CHUNKS, first, meta=lambda: {"images_per_s": 12.5})
    b = ChunkCache(tmp_path).get_or_compute(KEY, N_CHUNKS, second)
    assert first.calls == [0, 1, 2, 3, 4] and second.calls == []
    assert b.from_cache and not a.from_cache and b.loaded_chunks == (0, 1, 2, 3, 4)
    np.testing.assert_array_equal(b.arrays["features"], expected_features())
    np.testing.assert_array_equal(b.arrays["target"], np.arange(15))
    assert b.meta["images_per_s"] == 12.5  # the computing run's metadata travels with the entry


def test_key_is_content_only_order_and_values(tmp_path):
    cache = ChunkCache(tmp_path)
    reordered = dict(reversed(list(KEY.items())))
    assert cache.entry_dir(reordered) == cache.entry_dir(KEY)
    assert stable_hash(KEY) == stable_hash(json.loads(json.dumps(KEY)))
    other_revision = {**KEY, "checkpoint": {**KEY["checkpoint"], "revision": "def456"}}
    assert cache.entry_dir(other_revision) != cache.entry_dir(KEY)


def test_interrupted_run_resumes_without_recomputing_finished_chunks(tmp_path):
    cache = ChunkCache(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute(KEY, N_CHUNKS, Counting(fail_at=3))
    resumed = Counting()
    result = cache.get_or_compute(KEY, N_CHUNKS, resumed)
    assert resumed.calls == [3, 4]                      # chunks 0-2 survived the interruption
    assert result.loaded_chunks == (0, 1, 2) and result.computed_chunks == (3, 4)
    np.testing.assert_array_equal(result.arrays["features"], expected_features())


@pytest.mark.parametrize("with_meta", [False, True], ids=["no-meta", "meta"])
def test_a_run_killed_before_its_closing_manifest_is_completed_by_the_next(tmp_path, with_meta):
    # Before: with every chunk on disk nothing was computed, so "complete" was never written and the entry stayed
    # incomplete for good (is_complete False: refused or retrained by every later run).
    cache = ChunkCache(tmp_path)
    meta = (lambda: {"images_per_s": 12.5}) if with_meta else None
    cache.get_or_compute(KEY, N_CHUNKS, Counting(), meta=meta)
    path = cache.entry_dir(KEY) / "manifest.json"
    manifest = json.loads(path.read_text())
    atomic_write_json(path, {**manifest, "complete": False, "meta": {}})  # as the last chunk's own manifest write
    again = Counting()
    result = cache.get_or_compute(KEY, N_CHUNKS, again, meta=meta)
    assert cache.is_complete(KEY)
    np.testing.assert_array_equal(result.arrays["features"], expected_features())
    if with_meta:  # the lost metadata comes from a real computation, of the last chunk only
        assert again.calls == [N_CHUNKS - 1] and result.meta["images_per_s"] == 12.5
    else:
        assert again.calls == [] and result.loaded_chunks == tuple(range(N_CHUNKS))


def test_sigkilled_process_resumes_where_it_stopped(tmp_path):
    # A real kill: the child process SIGKILLs itself in the middle of chunk 2 (after 0 and 1 are stored).
    script = textwrap.dedent(f"""
        import os, signal, sys, numpy as np
        sys.path.insert(0, {str(ROOT)!r})
        from measure.run.cache import ChunkCache
        def chunk(i):
            if i == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return {{"features": np.full((3, 2), i, dtype=np.float32), "target": np.arange(3) + 3 * i}}
        ChunkCache({str(tmp_path)!r}).get_or_compute({KEY!r}, {N_CHUNKS}, chunk)
    """)
    child = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert child.returncode == -9, child.stderr
    resumed = Counting()
    result = ChunkCache(tmp_path).get_or_compute(KEY, N_CHUNKS, resumed)
    assert resumed.calls == [2, 3, 4]
    np.testing.assert_array_equal(result.arrays["target"], np.arange(15))
    assert not list(Path(result_dir(tmp_path)).glob(".*.tmp"))  # atomic writes leave no debris


def result_dir(root: Path) -> Path:
    return ChunkCache(root).entry_dir(KEY)


def test_corrupt_chunk_is_detected_deleted_and_recomputed(tmp_path, caplog):
    cache = ChunkCache(tmp_path)
    cache.get_or_compute(KEY, N_CHUNKS, Counting())
    chunk = result_dir(tmp_path) / "chunk-00001.npz"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle of the array data
    chunk.write_bytes(bytes(data))
    again = Counting()
    with caplog.at_level(logging.WARNING, logger="measure.run.cache"):
        result = cache.get_or_compute(KEY, N_CHUNKS, again)
    assert again.calls == [1] and result.recovered_chunks == (1,)
    assert "corrupt" in caplog.text and "chunk-00001.npz" in caplog.text
    np.testing.assert_array_equal(result.arrays["features"], expected_features())
    assert cache.get_or_compute(KEY, N_CHUNKS, Counting()).from_cache  # repaired on disk


def test_unreadable_manifest_recomputes_the_whole_entry(tmp_path, caplog):
    cache = ChunkCache(tmp_path)
    cache.get_or_compute(KEY, N_CHUNKS, Counting())
    (result_dir(tmp_path) / "manifest.json").write_text("{ truncated")
    again = Counting()
    with caplog.at_level(logging.WARNING, logger="measure.run.cache"):
        cache.get_or_compute(KEY, N_CHUNKS, again)
    assert again.calls == [0, 1, 2, 3, 4] and "unreadable manifest" in caplog.text


def test_manifest_of_another_chunk_count_is_not_trusted(tmp_path, caplog):
    # Same key, a different chunking (e.g. another batch size): chunk i no longer holds the same examples.
    cache = ChunkCache(tmp_path)
    cache.get_or_compute(KEY, N_CHUNKS, Counting())
    again = Counting()
    with caplog.at_level(logging.WARNING, logger="measure.run.cache"):
        result = cache.get_or_compute(KEY, 2, again)
    assert again.calls == [0, 1] and result.computed_chunks == (0, 1) and "5 chunks, expected 2" in caplog.text
    assert sorted(p.name for p in result_dir(tmp_path).glob("chunk-*")) == ["chunk-00000.npz", "chunk-00001.npz"]
    assert json.loads((result_dir(tmp_path) / "manifest.json").read_text())["n_chunks"] == 2


def test_entry_folder_of_another_key_is_not_served(tmp_path, caplog):
    # A folder copied or moved under another entry's name is whole and self-consistent (every chunk
    # matches its manifest), yet holds another key's results: the manifest's own key must name the entry.
    cache = ChunkCache(tmp_path)
    other = {**KEY, "split": "train"}
    cache.get_or_compute(other, N_CHUNKS, lambda i: {"features": np.full((3, 2), -1.0, dtype=np.float32),
                                                     "target": np.zeros(3, dtype=int)})
    cache.entry_dir(other).rename(cache.entry_dir(KEY))
    again = Counting()
    with caplog.at_level(logging.WARNING, logger="measure.run.cache"):
        result = cache.get_or_compute(KEY, N_CHUNKS, again)
    assert again.calls == [0, 1, 2, 3, 4] and "belongs to another entry" in caplog.text
    np.testing.assert_array_equal(result.arrays["features"], expected_features())


def test_chunk_written_without_manifest_entry_is_not_trusted(tmp_path):
    # A kill between writing a chunk and recording its checksum leaves an unverifiable chunk.
    cache = ChunkCache(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute(KEY, N_CHUNKS, Counting(fail_at=2))
    manifest_path = result_dir(tmp_path) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["chunks"]["1"]
    manifest_path.write_text(json.dumps(manifest))
    again = Counting()
    cache.get_or_compute(KEY, N_CHUNKS, again)
    assert again.calls == [1, 2, 3, 4]


def test_two_processes_racing_on_one_key_compute_each_chunk_once(tmp_path):
    log_file = tmp_path / "computed.log"
    script = textwrap.dedent(f"""
        import os, sys, time, numpy as np
        sys.path.insert(0, {str(ROOT)!r})
        from measure.run.cache import ChunkCache
        def chunk(i):
            with open({str(log_file)!r}, "a") as f:
                f.write(f"{{os.getpid()}} {{i}}\\n")
            time.sleep(0.2)
            return {{"target": np.arange(3) + 3 * i}}
        r = ChunkCache({str(tmp_path / 'cache')!r}).get_or_compute({KEY!r}, {N_CHUNKS}, chunk)
        assert (r.arrays["target"] == np.arange(15)).all()
        print(len(r.computed_chunks))
    """)
    children = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=60) for child in children]
    assert all(child.returncode == 0 for child in children), [err for _, err in outputs]
    computed = log_file.read_text().split("\n")[:-1]
    assert sorted(int(line.split()[1]) for line in computed) == [0, 1, 2, 3, 4]  # each chunk once
    assert sorted(int(out) for out, _ in outputs) == [0, N_CHUNKS]  # one computed, the other waited and read


def test_threads_racing_on_one_key_compute_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    counters = [Counting() for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda c: ChunkCache(tmp_path).get_or_compute(KEY, N_CHUNKS, c), counters))
    assert sum(len(c.calls) for c in counters) == N_CHUNKS
    for result in results:
        np.testing.assert_array_equal(result.arrays["features"], expected_features())


def test_lock_file_lives_beside_the_entry_not_inside(tmp_path):
    ChunkCache(tmp_path).get_or_compute(KEY, 1, Counting())
    entry = result_dir(tmp_path)
    assert Path(str(entry) + ".lock").exists()
    assert sorted(p.name for p in entry.iterdir()) == ["chunk-00000.npz", "manifest.json"]


def test_scoped_view_adds_its_fields_to_every_key(tmp_path):
    """Code that builds its own keys (fine-tuning runs) gets the caller's fields (dataset fingerprints)
    added through a scoped view: another scope is another entry, the same scope the same one."""
    cache = ChunkCache(tmp_path)
    first, again, other = Counting(), Counting(), Counting()
    a = cache.scoped({"examples": {"test": "fp-1"}}).get_or_compute(KEY, 1, first)
    b = cache.scoped({"examples": {"test": "fp-1"}}).get_or_compute(KEY, 1, again)
    c = cache.scoped({"examples": {"test": "fp-2"}}).get_or_compute(KEY, 1, other)
    plain = cache.get_or_compute(KEY, 1, Counting())
    assert first.calls == [0] and again.calls == [] and other.calls == [0]
    assert a.digest == b.digest != c.digest and plain.digest not in (a.digest, c.digest)
    assert a.key["examples"] == {"test": "fp-1"} and a.key["dataset"] == KEY["dataset"]
    manifest = json.loads((tmp_path / a.digest / "manifest.json").read_text())
    assert manifest["key"]["examples"] == {"test": "fp-1"}  # the entry says what it was keyed by


def test_entry_names_are_pinned_so_users_caches_stay_valid(tmp_path):
    # A changed name would silently orphan every entry users have computed: change it only on purpose
    # (with FORMAT_VERSION), never as a side effect of a refactoring.
    assert stable_hash(KEY) == "f581f21431173c14368352a839179ad5"
    assert ChunkCache(tmp_path).entry_dir(KEY).name == "1ac15f482620dd15778c4d65807a8eae"


class Unsaveable:
    def __reduce__(self):
        raise ValueError("refuses to be pickled")


def test_failed_atomic_write_keeps_the_previous_file_and_leaves_no_debris(tmp_path):
    import torch

    path = tmp_path / "state.pt"
    atomic_torch_save({"step": 1}, path)
    with pytest.raises(ValueError, match="refuses to be pickled"):  # torch.save fails into the temp file
        atomic_torch_save({"step": 2, "hook": Unsaveable()}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]
    atomic_write_json(tmp_path / "deeper" / "m.json", {"b": (1, 2), "a": Path("x")})  # creates the folder
    assert json.loads((tmp_path / "deeper" / "m.json").read_text()) == {"a": "x", "b": [1, 2]}


def test_plain_data_makes_keys_strings_and_numpy_scalars_numbers():
    value = plain_data({1: np.float32(0.5), "t": (np.int64(3), None), "p": Path("a/b")})
    assert value == {"1": 0.5, "t": [3, None], "p": "a/b"}
    assert type(value["t"][0]) is int and json.loads(json.dumps(value)) == value


def test_run_and_train_settings_modules_import_without_torch():
    # Fixtures and claim modules import these at collection time: pytest must start without torch.
    modules = ("measure.run.cache", "measure.run.device", "measure.run.files", "measure.run.inference",
               "measure.readout", "measure.train.settings", "measure.train.surgery", "measure.train.stream",
               "measure.train.loop")
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import {', '.join(modules)}; "
              "print(sorted(m for m in ('torch', 'torchvision', 'timm', 'sklearn') if m in sys.modules))")
    child = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]"
