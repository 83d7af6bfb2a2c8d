"""The fault matrix, continued: what a nightly meets beyond kills and crashes — a CI runner's SIGTERM, a project
hook that raises, a history that cannot be read while ``--claims-fail-on`` gates the run, a run that executes no
claim check, a paper data file with a bad byte, a read-only cache. Each ends in a report (or a usage error before
any test runs) that names the problem, and nothing that finished is lost.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests import fault_project as fp
from tests.test_faults import XDIST, assert_not_executed, executed

pytest_plugins = ["pytester"]

RAISING_SECTIONS = '''
def pytest_claims_sections(config, document):
    b"\\xff".decode("utf-8")  # what one non-UTF-8 byte in a data file the sections read does
'''
RAISING_CONFIGURATION = '''
def pytest_claims_configuration(config):
    raise OSError("the data folder went away")
'''
SECTIONS = '''
def pytest_claims_sections(config, document):
    n = document["summary"]["n_checks"]
    return [{"id": "repro", "title": "Reproducibility", "items": [{"question": "How many checks?", "answer": f"{n}"}]}]
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return fp.write_project(tmp_path / "project")


def history_runs(project: Path) -> list[dict]:
    with sqlite3.connect(project / "reports" / "history.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, not yet reaped by its reparented parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# -- SIGTERM ---------------------------------------------------------------------------------------------------

def test_sigterm_of_a_parallel_run_is_a_partial_run_with_its_report_and_history_row(project):
    run = fp.Run(project, *XDIST, FAULT_BLOCK="listing,facts")
    run.wait_for_waiting("listing", "facts", reported=len(fp.QUICK["listing"]) + len(fp.QUICK["facts"]))
    workers = [run.pid_of("listing"), run.pid_of("facts")]
    run.signal(signal.SIGTERM)  # the controller only, as a CI runner's timeout does
    code = run.process.wait(timeout=fp.WAIT_S)
    deadline = time.monotonic() + 3
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    still = [p for p in workers if alive(p)]
    run.finish()
    assert code == pytest.ExitCode.INTERRUPTED
    assert not still, "xdist workers ran on after the controller's SIGTERM"
    document = fp.report(project)
    assert executed(document) == {**dict.fromkeys(fp.QUICK["listing"], "untestable"),
                                  **dict.fromkeys(fp.QUICK["facts"], "verified")}
    assert_not_executed(document, {"test_listing_waits", "test_listing_measured[listing-a-12]",
                                   "test_listing_measured[listing-b-24]", "test_fact_waits", "test_fact_later"})
    assert any("SIGTERM" in p for p in document["run"]["problems"])
    assert "SIGTERM" in (project / "reports" / "index.html").read_text(encoding="utf-8")
    [row] = history_runs(project)
    assert row["partial"] == 1 and row["not_executed"] == 5


# -- project hooks -----------------------------------------------------------------------------------------------

def test_a_sections_hook_that_raises_is_a_named_problem_and_the_run_is_reported_and_recorded(project):
    (project / "conftest.py").write_text(RAISING_SECTIONS, encoding="utf-8")
    code, output = fp.run(project, *XDIST)
    assert code == pytest.ExitCode.OK, output[-3000:]
    document = fp.report(project)
    assert len(executed(document)) == 14 and document["run"]["partial"] is False
    [problem] = document["run"]["problems"]
    assert "pytest_claims_sections raised UnicodeDecodeError" in problem and problem in output
    assert "Problems of this run" in (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert len(history_runs(project)) == 1


def test_a_configuration_hook_that_raises_is_compared_with_no_run_and_fails_the_gate(project):
    code, _ = fp.run(project, "--claims-fail-on", "flip")  # a first run, with a configuration
    assert code == pytest.ExitCode.OK
    (project / "conftest.py").write_text(RAISING_CONFIGURATION, encoding="utf-8")
    code, output = fp.run(project, "--claims-fail-on", "flip")
    assert code == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    assert "--claims-fail-on flip: cannot compare this run with its history, so it fails" in output
    document = fp.report(project)
    assert len(executed(document)) == 14 and document["history"]["compared_with"] is None
    assert any("OSError: the data folder went away" in p for p in document["run"]["problems"])
    assert len(history_runs(project)) == 2


# -- --claims-fail-on, a gate that cannot compare fails ---------------------------------------------------------

@pytest.mark.parametrize("content", [b"not a database at all", b"SQLite format 3\x00" + b"\x00" * 200],
                         ids=["not-sqlite", "corrupt-sqlite"])
def test_fail_on_with_an_unreadable_history_fails_and_still_writes_the_report(project, content):
    (project / "reports").mkdir()
    (project / "reports" / "history.sqlite").write_bytes(content)
    code, output = fp.run(project, "--claims-fail-on", "regression")
    assert code == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    assert "--claims-fail-on regression: cannot compare this run with its history, so it fails" in output
    assert len(executed(fp.report(project))) == 14
    code, output = fp.run(project)  # without the gate the same history is a problem said, not a failure
    assert code == pytest.ExitCode.OK and "history not written" in output


def test_fail_on_with_history_none_is_a_usage_error(project):
    code, output = fp.run(project, "--claims-fail-on", "flip", "--claims-history", "none")
    assert code == pytest.ExitCode.USAGE_ERROR
    assert "--claims-fail-on flip compares this run with the run history, which --claims-history none turns off" in output


# -- a run with no claim check ----------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["deselected", "catalog-error"])
def test_a_run_with_no_claim_check_marks_the_earlier_report_stale(project, how):
    code, _ = fp.run(project)
    assert code == pytest.ExitCode.OK
    before = fp.report(project)
    if how == "deselected":
        code, output = fp.run(project, "-k", "nothing_matches_this")
    else:
        (project / "claims.toml").write_text("[[claims]]\nid = 'listing'\n", encoding="utf-8")  # no title: invalid
        code, output = fp.run(project, *XDIST)
    assert code != pytest.ExitCode.OK
    after = fp.report(project)
    assert after["stale"]["reason"].startswith("no claim check was executed")
    assert {k: v for k, v in after.items() if k != "stale"} == before  # the verdicts kept, never presented as current
    html = (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Stale: this report is of an earlier run" in html
    assert "now marked stale" in output
    assert len(history_runs(project)) == 1


def test_a_run_of_no_claim_test_at_all_leaves_the_report_alone(project):
    code, _ = fp.run(project)
    assert code == pytest.ExitCode.OK
    before = (project / "reports" / "claims.json").read_bytes()
    (project / "test_unit.py").write_text("def test_unit():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    code, _ = fp.run(project, "test_unit.py")
    assert code == pytest.ExitCode.OK
    assert (project / "reports" / "claims.json").read_bytes() == before


# -- inputs ------------------------------------------------------------------------------------------------------

def test_a_paper_data_file_with_a_bad_byte_names_its_file_and_line(tmp_path):
    import paper

    path = tmp_path / "numbers.csv"
    path.write_bytes(b"a,b\n1,2\n3,\xff\n")
    with pytest.raises(paper.PaperDataError, match=rf"^{path}:3: byte 0xff is not UTF-8"):
        paper.printed._read_csv(path)
    path.write_bytes("a,b\n1,é\n".encode())
    assert paper.printed._read_csv(path) == [{"a": "1", "b": "é"}]


def test_a_read_only_cache_is_refused_before_any_test_runs_with_the_fix(tmp_path, monkeypatch):
    from fixtures.options import cache_problem

    cache = tmp_path / "cache"
    cache.mkdir()
    assert cache_problem(cache) is None
    assert cache_problem(cache / "not" / "yet") is None  # made on first use, below a folder this user can write
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == cache else real(p, mode))
    assert "is not writable by this user" in cache_problem(cache)
    assert "is not writable by this user" in cache_problem(cache / "new")


def test_a_read_only_cache_is_a_usage_error_before_any_test_runs(pytester, monkeypatch):
    cache = pytester.path / "ro-cache"
    cache.mkdir()
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == cache else real(p, mode))
    result = pytester.runpytest_inprocess("-p", "fixtures.options", "--claims-cache", str(cache), "-p", "no:claims")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--claims-cache {cache}: {cache} is not writable by this user*pass --claims-cache DIR*"])
    assert "test_one" not in result.stdout.str()
