"""The report's pages (issue 18: index.html ≤ 300 KB and read in a minute): the checks set aside (untestable, not
run) are listed on set-aside.html, each claim's section links to its part, and every check's row — its anchor, where
links land — is on exactly one of the two pages."""

from __future__ import annotations

import json
import re

from pytest_claims.assemble import build_document
from pytest_claims.records import CheckRecord, Measurement
from pytest_claims.report.html import ASIDE_FILE, anchor, render

NEEDS = "ImageNet: pass --claims-imagenet DIR"


def _records() -> list[CheckRecord]:
    # c1: one measured check and two waiting on a need (no paper table: before, such checks had no row anywhere);
    # c2: untestable only; c3: measured only
    return [CheckRecord("c1", "measured", "t.py::measured", "value", "verified", "within tolerance",
                        measured=Measurement(value=1.0)),
            CheckRecord("c1", "waits1", "t.py::waits1", "not_run", "not_run", NEEDS, needs=(NEEDS,)),
            CheckRecord("c1", "waits2", "t.py::waits2", "not_run", "not_run", NEEDS, needs=(NEEDS,)),
            CheckRecord("c2", "private", "t.py::private", "untestable", "untestable", "JFT-300M is private"),
            CheckRecord("c3", "alone", "t.py::alone", "value", "verified", "within tolerance",
                        measured=Measurement(value=2.0))]


def _render(tmp_path, records, sections=()) -> tuple[str, str | None]:
    document = json.loads(json.dumps(build_document(None, records, {"timestamp": "2026-01-01T00:00:00+00:00"})))
    document["sections"] = list(sections)
    (tmp_path / "claims.json").write_text(json.dumps(document), encoding="utf-8")
    index = render(tmp_path / "claims.json").read_text(encoding="utf-8")
    aside = tmp_path / ASIDE_FILE
    return index, aside.read_text(encoding="utf-8") if aside.exists() else None


def _anchors(html: str) -> set[str]:
    found = re.findall(r'id="(k[0-9a-f]{10})"', html)
    assert len(found) == len(set(found)), "a check's row twice on one page (ids must be unique)"
    return set(found)


def test_every_check_has_its_row_on_exactly_one_page_and_the_set_aside_ones_are_on_their_own(tmp_path):
    records = _records()
    index, aside = _render(tmp_path, records)
    decided = {anchor(r.nodeid) for r in records if r.verdict == "verified"}
    set_aside = {anchor(r.nodeid) for r in records if r.verdict not in ("verified",)}
    assert _anchors(index) == decided and _anchors(aside) == set_aside  # each once, none lost
    assert "JFT-300M is private" in aside and "JFT-300M is private" not in index
    # each claim with checks set aside links to its part of the page, and that part back to the claim
    for claim in ("c1", "c2"):
        assert f'href="{ASIDE_FILE}#claim-{claim}"' in index and f'id="claim-{claim}"' in aside
        assert f'href="index.html#claim-{claim}"' in aside
    assert f"{ASIDE_FILE}#claim-c3" not in index and 'id="claim-c3"' not in aside
    assert re.search(r"Set aside:</b> 2 not run —", index) and re.search(r"Set aside:</b> 1 untestable —", index)


def test_a_link_to_a_check_lands_on_the_page_its_row_is_on(tmp_path):
    links = [{"check": "t.py::waits1", "text": "the waiting one"}, {"check": "t.py::measured", "text": "measured"}]
    section = {"id": "q", "title": "Questions", "intro": "", "items": [
        {"question": "Which?", "answer": "these", "verdict": None, "links": links}]}
    index, _ = _render(tmp_path, _records(), [section])
    assert f'<a href="{ASIDE_FILE}#{anchor("t.py::waits1")}">the waiting one</a>' in index
    assert f'<a href="#{anchor("t.py::measured")}">measured</a>' in index


def test_a_report_with_nothing_set_aside_has_no_such_page_and_removes_an_earlier_one(tmp_path):
    (tmp_path / ASIDE_FILE).write_text("an earlier run's page", encoding="utf-8")
    index, aside = _render(tmp_path, [r for r in _records() if r.verdict == "verified"])
    assert aside is None and ASIDE_FILE not in index


def test_what_to_provide_comes_right_after_the_verdicts_before_the_projects_sections(tmp_path):
    section = {"id": "q", "title": "Questions", "intro": "", "items": [
        {"question": "Which?", "answer": "these", "verdict": None, "links": []}]}
    index, _ = _render(tmp_path, _records(), [section])
    assert index.index('<section id="summary">') < index.index('<section id="missing">') < index.index(
        'id="section-q"') < index.index('class="claim"')
    header = index[:index.index("</header>")]
    assert header.index('href="#missing"') < header.index('href="#section-q"')
