"""The report leads with what to do (issue 18, item 4): "what to provide" opens with the one command that provides
every checkpoint, keeps apart what no user can provide, lists a speed-up last; a claim decided by consistency checks
of the paper's own numbers alone says so at a glance; a run's problems, a stale report and a merge are said on top."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from pytest_claims.assemble import build_document
from pytest_claims.config import ClaimsConfigError, load_config
from pytest_claims.records import CheckRecord, Measurement
from pytest_claims.report.html import build_context, render_html

PROVIDE = {"fold": [{"prefix": "checkpoint ", "command": "bin/fetch", "says": "fetches every checkpoint"}],
           "beyond": ["which this suite does not implement"], "advice": ["ideally a GPU"]}
CKPT_A, CKPT_B = "checkpoint a: pass --ckpt a=FILE", "checkpoint b: pass --ckpt b=FILE"
DATA, VTAB, GPU = "CIFAR-10: pass --data DIR", "VTAB-1k, which this suite does not implement", "ideally a GPU"


def _not_run(claim: str, name: str, needs: list[str]) -> CheckRecord:
    return CheckRecord(claim, name, f"t.py::{name}", "not_run", "not_run", "missing", needs=tuple(needs))


def _document(settings: dict | None = None, records=None, families=()) -> dict:
    records = records or [_not_run("c1", "t1", [CKPT_A, DATA]), _not_run("c1", "t2", [CKPT_A, CKPT_B, GPU]),
                          _not_run("c2", "t3", [CKPT_B]), _not_run("c2", "t4", [VTAB])]
    env = {"timestamp": "2026-01-01T00:00:00+00:00", "git": {"commit": "abc", "dirty": False},
           "claims_settings": settings or {}}
    return json.loads(json.dumps(build_document(None, records, env, families=families)))


def _rows(html: str) -> list[str]:
    section = re.search(r'<section id="missing">(.*?)</section>', html, flags=re.DOTALL)[1]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(row))).strip()
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, flags=re.DOTALL)[1:]]


def test_what_to_provide_leads_with_the_one_command_for_every_checkpoint_and_sets_apart_what_none_can_provide():
    html = render_html(_document({"provide": PROVIDE}))
    rows = _rows(html)
    assert rows[0].startswith("bin/fetch — fetches every checkpoint the 2 things it provides")
    assert rows[0].endswith("3 c1 (2), c2 (1)")  # t1, t2, t3 once each, though t2 waits on both checkpoints
    assert rows[1].startswith(DATA) and rows[2] == "Would help (speed only)" and rows[3].startswith(GPU)
    assert rows[4].startswith(VTAB)  # in its own table, after what a user can provide
    beyond = html.index("Not implemented in this suite")
    assert html.index(DATA) < beyond < html.index(VTAB)
    context = build_context(_document({"provide": PROVIDE}))["provide"]
    assert [r["need"] for r in context["folds"][0]["rows"]] == [CKPT_A, CKPT_B]


def test_without_provide_settings_every_need_is_one_row_as_before():
    rows = _rows(render_html(_document()))
    assert [r.split(":")[0] for r in rows] == ["checkpoint a", "checkpoint b", "CIFAR-10", "ideally a GPU 1 c1 (1)",
                                              "VTAB-1k, which this suite does not implement 1 c2 (1)"]


@pytest.mark.parametrize("provide", [{"fold": [{"prefix": "x"}]}, {"beyond": "text"}, {"other": []}])
def test_malformed_provide_settings_are_refused(tmp_path, provide):
    lines = ["[tool.claims.provide]"] + [f"{k} = {json.dumps(v)}" for k, v in provide.items()]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines).replace('{"prefix": "x"}', '{prefix = "x"}') + "\n")
    with pytest.raises(ClaimsConfigError, match=r"\[tool.claims.provide\]"):
        load_config(tmp_path)


def _decided(claim: str, name: str, tier: str, verdict: str = "verified") -> CheckRecord:
    return CheckRecord(claim, name, f"t.py::{name}", "value", verdict, "", tier=tier, measured=Measurement(1.0))


FAMILIES = (("consistency", ("consistency*",)), ("eval", ("eval*",)))


def test_a_claim_decided_by_consistency_checks_alone_says_so_at_a_glance():
    records = [_decided("own", "a", "consistency (printed)"),
               CheckRecord("own", "u", "t.py::u", "untestable", "untestable", "JFT"),
               _decided("measured", "b", "consistency (printed)"), _decided("measured", "c", "eval")]
    document = _document({"consistency_families": ["consistency"]}, records, FAMILIES)
    by_id = {e["claim"]["id"]: e for e in build_context(document)["claims"]}
    assert by_id["own"]["consistency_only"] is True and by_id["measured"]["consistency_only"] is False
    html = render_html(document)
    assert "1 of the 2 verified on consistency checks of the paper's own numbers only" in html
    assert html.count(">consistency checks only</span>") == 1
    assert "consistency checks only" not in render_html(_document({}, records, FAMILIES))  # not declared: not said


def test_consistency_families_must_name_families(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.claims]\nconsistency_families = ["printed"]\n'
                                             '[tool.claims.families]\nconsistency = ["consistency*"]\n')
    with pytest.raises(ClaimsConfigError, match="consistency_families"):
        load_config(tmp_path)


def test_problems_stale_and_merge_are_said_on_top():
    document = _document()
    document["run"]["problems"] = ["report sections left out: the project's pytest_claims_sections raised KeyError"]
    document["run"]["merged"] = {"shards": ["a", "b", "c"], "conflicts": [], "duplicates": []}
    document["stale"] = {"timestamp": "2026-01-02T00:00:00+00:00", "reason": "no claim check was executed: x",
                         "problems": []}
    html = render_html(document)
    top = html[: html.index('id="summary"')]
    assert "Problems of this run" in top and "pytest_claims_sections raised KeyError" in top
    assert "Stale: this report is of an earlier run (2026-01-01T00:00:00+00:00)" in top
    assert "no claim check was executed: x" in top and "merged from 3 shard reports" in top


def test_the_appendix_tables_are_a_page_of_their_own_linked_from_the_report(tmp_path):
    from pytest_claims.report.html import render

    document = _document()
    document["appendix"] = [{"title": "Seed discrepancies", "file": "x.csv", "columns": ["a", "b"],
                             "rows": [["1", "<i>x</i>"]]}]
    (tmp_path / "claims.json").write_text(json.dumps(document), encoding="utf-8")
    index = render(tmp_path / "claims.json").read_text(encoding="utf-8")
    appendix = (tmp_path / "appendix.html").read_text(encoding="utf-8")
    assert '<a href="appendix.html">appendix</a>' in index and 'id="appendix"' not in index
    assert '<section id="appendix">' in appendix and "&lt;i&gt;x&lt;/i&gt;" in appendix and "<i>x</i>" not in appendix
    assert '<a href="index.html">the claims report</a>' in appendix
    (tmp_path / "appendix.html").unlink()
    document["appendix"] = []
    (tmp_path / "claims.json").write_text(json.dumps(document), encoding="utf-8")
    assert "appendix" not in render(tmp_path / "claims.json").read_text(encoding="utf-8")
    assert not (tmp_path / "appendix.html").exists()
