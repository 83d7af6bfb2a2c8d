"""The CPU studies' cache and start-up cost: records are keyed by code and inputs, survive as JSON, and
neither the claim modules of the studies nor their fixtures import torch, timm or scikit-learn."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from measure.studies.study_cache import RecordCache, library_versions, source_version

ROOT = Path(__file__).resolve().parents[1]
STUDY_CLAIMS = ("test_table1_variants", "test_table6_compute", "test_posemb_interpolation",
                "test_small_data_inductive_bias", "test_table8_posemb_analogue", "test_d3_class_token_vs_gap")
HEAVY = ("torch", "timm", "sklearn", "safetensors", "scipy")


def test_a_record_is_computed_once_then_read(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"value": 0.1 + 0.2, "by_op": {"aten.mm": 12}, "shape": [14, 14]}

    first = RecordCache(tmp_path).get({"study": "t", "n": 1}, compute)
    again = RecordCache(tmp_path).get({"study": "t", "n": 1}, compute)
    assert (first.from_cache, again.from_cache, len(calls)) == (False, True, 1)
    assert again.record == first.record and again.record["value"] == 0.1 + 0.2  # floats round-trip exactly
    assert RecordCache(tmp_path).get({"study": "t", "n": 2}, compute).from_cache is False  # other key, other entry


def test_a_corrupt_record_is_recomputed(tmp_path):
    cache = RecordCache(tmp_path)
    cache.get({"study": "t"}, lambda: {"value": 1})
    chunk = next(cache.cache.entry_dir({"study": "t"}).glob("chunk-*.npz"))
    chunk.write_bytes(b"not what the manifest says")
    again = RecordCache(tmp_path).get({"study": "t"}, lambda: {"value": 2})
    assert (again.from_cache, again.record) == (False, {"value": 2})


def test_source_version_follows_the_source_without_importing_it(tmp_path, monkeypatch):
    module = tmp_path / "probe_module_for_source_version.py"
    module.write_text("raise RuntimeError('executed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = source_version("probe_module_for_source_version")  # would raise if it were imported
    module.write_text("raise RuntimeError('executed, edited')\n")
    assert source_version("probe_module_for_source_version") != before
    with pytest.raises(ModuleNotFoundError, match="no source file"):
        source_version("no_such_module_anywhere")


def test_library_versions_are_the_installed_ones():
    import numpy

    assert library_versions("numpy") == {"numpy": numpy.__version__}


def test_the_study_claim_modules_and_fixtures_import_no_heavy_library():
    # What collecting the claim modules of the CPU studies costs beyond pytest: their imports, the
    # studies' fixtures plugin, and the light modules they read parameters from.
    code = textwrap.dedent(f"""
        import importlib, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "claims")!r}]
        for name in {STUDY_CLAIMS!r} + ("fixtures.studies",):
            importlib.import_module(name)
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_one_source_hash_for_a_module_and_its_name():
    """The library's one source hash (measure.run.cache.source_version): a module given as itself or by name is
    keyed the same, so the studies' records and the inference caches agree on what "the code changed" means."""
    from measure import readout
    from measure.run import cache

    assert source_version is cache.source_version
    assert cache.source_version(readout) == cache.source_version("measure.readout")
    assert cache.source_version("measure.readout") != cache.source_version("measure.readout", "measure.errors")
    assert not hasattr(cache, "code_version")
