"""The merge's own rules (``python -m pytest_claims merge``), on shard reports built in memory.

The merge of a real suite's shards into the verdicts of its unsharded run is tested by the project that uses
the plugin (vit-claims: tests/test_plugin_merge.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_claims.assemble import build_document
from pytest_claims.merge import MergeError, Shard, merge_documents
from pytest_claims.records import CheckRecord, Measurement


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_claims", *map(str, args)], capture_output=True,
                          text=True, timeout=120, check=False)


# -- the merge's own rules, on reports built in memory ---------------------------------------------

def _shard(name: str, verdicts: dict[str, str | None], configuration: dict | None = None) -> Shard:
    """A shard's report: each check verified/refuted with a value, or None: collected, not executed."""
    records = []
    for check, verdict in verdicts.items():
        common = {"claim": "c", "id": check, "nodeid": f"t.py::{check}"}
        if verdict is None:
            records.append(CheckRecord(kind="not_run", verdict="not_run", reason="deselected", executed=False,
                                       outcome="deselected", **common))
        else:
            records.append(CheckRecord(kind="value", verdict=verdict, reason="", tier="x",
                                       measured=Measurement(1.0 if verdict == "verified" else 2.0), **common))
    doc = build_document(None, records, {"timestamp": name, "git": {"commit": "abc"}}, configuration=configuration)
    return Shard(name, json.loads(json.dumps(doc)))


def test_a_check_two_shards_disagree_on_is_a_conflict():
    merged = merge_documents([_shard("a", {"t1": "verified", "t2": None}),
                              _shard("b", {"t1": "refuted", "t2": "verified"})])
    checks = {c["id"]: c for claim in merged["claims"] for c in claim["checks"]}
    assert checks["t1"]["verdict"] == "error"
    assert checks["t1"]["reason"] == "the shards disagree: a: verified (measured 1); b: refuted (measured 2)"
    assert merged["run"]["merged"]["conflicts"] == [
        {"nodeid": "t.py::t1", "shards": ["a", "b"], "results": "a: verified (measured 1); b: refuted (measured 2)"}]
    assert merged["run"]["partial"] and "different results" in merged["run"]["caveat"]
    assert checks["t2"]["verdict"] == "verified"


def test_the_same_result_twice_is_kept_once_and_a_check_run_nowhere_stays_missing():
    merged = merge_documents([_shard("a", {"t1": "verified", "t2": None}),
                              _shard("b", {"t1": "verified", "t2": None})])
    assert merged["run"]["merged"]["duplicates"] == [{"nodeid": "t.py::t1", "shards": ["a", "b"]}]
    assert merged["run"]["not_executed_checks"] == ["t.py::t2"] and merged["run"]["partial"]


def test_shards_of_different_configurations_are_refused():
    with pytest.raises(MergeError, match="different configurations"):
        merge_documents([_shard("a", {"t1": "verified"}, {"tiers": ["eval"]}),
                         _shard("b", {"t2": "verified"}, {"tiers": ["probe"]})])


def test_shards_of_different_commits_are_not_one_complete_run():
    a, b = _shard("a", {"t1": "verified", "t2": None}), _shard("b", {"t1": None, "t2": "verified"})
    b.document["environment"]["git"]["commit"] = "def"
    merged = merge_documents([a, b])
    assert merged["run"]["partial"] and "different git commits (abc, def)" in merged["run"]["caveat"]
    assert merged["summary"]["claims"]["verified"] == 0


# -- refusals and caveats (issue 18) --------------------------------------------------------------------------

def _write(folder: Path, shard: Shard) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "claims.json").write_text(json.dumps(shard.document), encoding="utf-8")
    return folder


@pytest.mark.parametrize("damage", ["truncated", "not-utf8", "a-list", "no-claim-fields"])
def test_an_unreadable_shard_is_refused_by_name_without_a_traceback(tmp_path, damage):
    good = _write(tmp_path / "good", _shard("good", {"t1": "verified"}))
    bad = tmp_path / "bad"
    bad.mkdir()
    text = (good / "claims.json").read_bytes()
    (bad / "claims.json").write_bytes({"truncated": text[: len(text) // 2], "not-utf8": text.replace(b'"t1"', b'"t\xff"'),
                                       "a-list": b"[1, 2]",
                                       "no-claim-fields": text.replace(b'"nodeid"', b'"nodeidx"')}[damage])
    done = _cli("merge", good, bad, "--out", tmp_path / "out", "--history", "none")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("merge refused: ") and "Traceback" not in done.stderr
    if damage != "no-claim-fields":
        assert str(bad / "claims.json") in done.stderr


def test_shards_that_collected_different_checks_say_so():
    merged = merge_documents([_shard("a", {"t1": "verified", "t2": None}), _shard("b", {"t1": None})])
    assert "the shards collected different checks (b lacks 1)" in merged["run"]["caveat"]
    assert merged["run"]["partial"] and merged["summary"]["claims"]["verified"] == 0


def test_the_same_verdict_with_different_values_is_a_conflict():
    a, b = _shard("a", {"t1": "verified"}), _shard("b", {"t1": "verified"})
    b.document["claims"][0]["checks"][0]["measured"]["value"] = 1.5
    merged = merge_documents([a, b])
    [check] = merged["claims"][0]["checks"]
    assert check["verdict"] == "error"
    assert check["reason"] == "the shards disagree: a: verified (measured 1); b: verified (measured 1.5)"


@pytest.mark.parametrize("difference, said", [
    ("dirty", "shard b ran with uncommitted changes"),
    ("settings", "the shards judged with different [tool.claims] settings"),
    ("catalog", "the shards read different claim catalogs"),
])
def test_shards_that_may_not_be_one_run_make_a_partial_merge_with_a_caveat(difference, said):
    a, b = _shard("a", {"t1": "verified", "t2": None}), _shard("b", {"t1": None, "t2": "verified"})
    for shard in (a, b):
        shard.document["environment"]["claims_settings"] = {"tolerances": {"exact": {"abs": 0}}}
    if difference == "dirty":
        b.document["environment"]["git"]["dirty"] = True
    elif difference == "settings":
        b.document["environment"]["claims_settings"] = {"tolerances": {"exact": {"abs": 1}}}
    else:
        b.document["claims"][0]["statement"] = "another statement"
    merged = merge_documents([a, b])
    assert said in merged["run"]["caveat"]
    assert merged["run"]["partial"] and merged["summary"]["claims"]["verified"] == 0
    clean = merge_documents([_shard("a", {"t1": "verified", "t2": None}), _shard("b", {"t1": None, "t2": "verified"})])
    assert not clean["run"]["partial"] and clean["summary"]["claims"]["verified"] == 1


SECTION = {"id": "repro", "title": "Reproducibility", "intro": None,
           "items": [{"question": "Q?", "answer": "A.", "verdict": None, "links": []}]}


def test_a_merge_keeps_the_shards_sections_where_they_agree_and_answers_them_from_a_module(tmp_path, monkeypatch):
    from pytest_claims.__main__ import _answer_sections

    a, b = _shard("a", {"t1": "verified", "t2": None}), _shard("b", {"t1": None, "t2": "verified"})
    a.document["sections"] = b.document["sections"] = [SECTION]
    assert merge_documents([a, b])["sections"] == [SECTION]
    b.document["sections"] = [{**SECTION, "items": [{**SECTION["items"][0], "answer": "B."}]}]
    merged = merge_documents([a, b])
    assert merged["sections"] == [] and "report sections left out" in merged["run"]["problems"][0]
    (tmp_path / "answers.py").write_text(
        "def pytest_claims_sections(config, document):\n"
        "    n = document['summary']['n_checks']\n"
        "    return [{'id': 'repro', 'title': 'Reproducibility', 'items': [{'question': 'Checks?', 'answer': str(n)}]}]\n",
        encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    _answer_sections(merged, ["answers"])
    assert merged["sections"][0]["items"][0]["answer"] == "2" and "problems" not in merged["run"]


def test_a_merge_prints_its_verdicts_lists_20_missing_checks_and_counts_the_rest(tmp_path):
    checks = [f"t{i:02d}" for i in range(25)]
    a = _write(tmp_path / "a", _shard("a", {c: ("verified" if i < 2 else None) for i, c in enumerate(checks)}))
    b = _write(tmp_path / "b", _shard("b", dict.fromkeys(checks)))
    done = _cli("merge", a, b, "--out", tmp_path / "out", "--history", "none")
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "not run      c  2 verified, 23 not run" in lines or any(
        line.split()[:1] and line.rstrip().endswith("2 verified, 23 not run") for line in lines)
    assert sum(line.startswith("  missing: ") for line in lines) == 20
    assert "  ... and 3 more (all listed in the report)" in lines
    assert "merged from 2 shard reports" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_merge_fail_on_fails_when_the_history_cannot_be_used(tmp_path):
    a = _write(tmp_path / "a", _shard("a", {"t1": "verified", "t2": None}))
    b = _write(tmp_path / "b", _shard("b", {"t1": None, "t2": "verified"}))
    (tmp_path / "history.sqlite").write_bytes(b"not a database")
    done = _cli("merge", a, b, "--out", tmp_path / "out", "--history", tmp_path / "history.sqlite", "--fail-on", "flip")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "--fail-on flip: cannot compare the merged run with its history, so it fails" in done.stdout
    assert (tmp_path / "out" / "claims.json").is_file()
    done = _cli("merge", a, b, "--out", tmp_path / "out2", "--history", tmp_path / "history.sqlite")
    assert done.returncode == 0, done.stdout + done.stderr
