"""The run history: each run appended to SQLite, compared with the last comparable complete run.

A small synthetic suite reads its measurements from ``measured.json``; a test changes that file
between runs and reads what a user would read: the report's first section, pytest's terminal
summary, ``history.sqlite`` and the exit status.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy  # noqa: F401 - loaded once here: numpy refuses a second import after a pytester run drops it
import pytest
from test_plugin import PYPROJECT  # the synthetic suite's settings: tolerances exact and accuracy

pytest_plugins = ["pytester"]

CATALOG = """
[[claims]]
id = "width"
title = "The width is 768"
statement = "The model is 768 wide."
source = "Table 1"

[[claims]]
id = "accuracy"
title = "The accuracy is 80 %"
statement = "It reaches 80 %."
source = "Table 2"
"""

# The project says what makes runs comparable; here a file stands for its options.
CONFTEST = """
import json
from pathlib import Path


def pytest_claims_configuration(config):
    return json.loads((Path(str(config.rootpath)) / "configuration.json").read_text())
"""

SUITE = '''
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_claims import Measurement

MEASURED = json.loads((Path(__file__).parent.parent / "measured.json").read_text())
WIDTH = SimpleNamespace(table="Table 1", row="Base", column="Width", value=768, std=None, unit="")
ACC = SimpleNamespace(table="Table 2", row="Base", column="Top-1", value=80.0, std=0.5, unit="%")


@pytest.mark.claim("width")
def test_width(claim_check):
    claim_check.value(Measurement(MEASURED["width"], method="counted"), WIDTH, "exact", "architecture")


@pytest.mark.claim("width")
def test_depth(claim_check):
    if MEASURED.get("depth") is None:
        claim_check.not_run("the depth file is missing", needs=["the depth file"])
    claim_check.value(Measurement(MEASURED["depth"]), WIDTH, "exact", "architecture")


@pytest.mark.claim("accuracy")
def test_top1(claim_check):
    acc = MEASURED["acc"]
    claim_check.value(Measurement(acc, low=acc - 0.4, high=acc + 0.4, n=10000), ACC, "accuracy", "eval")
'''

STEADY = {"width": 768, "depth": 768, "acc": 80.0}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.mkdir("paper")
    pytester.path.joinpath("paper", "claims.toml").write_text(CATALOG, encoding="utf-8")
    pytester.makeconftest(CONFTEST)
    pytester.mkdir("claims")  # not a package: the project's own `claims` package may be imported already
    pytester.path.joinpath("claims", "test_suite.py").write_text(SUITE, encoding="utf-8")
    configure(pytester, {"tiers": ["eval"], "data": {"entries": {"val": "1000 entries"}}})
    return pytester


def configure(pytester: pytest.Pytester, configuration: dict) -> None:
    pytester.path.joinpath("configuration.json").write_text(json.dumps(configuration), encoding="utf-8")


def run(pytester: pytest.Pytester, measured: dict, *args: str) -> pytest.RunResult:
    pytester.path.joinpath("measured.json").write_text(json.dumps(measured), encoding="utf-8")
    return pytester.runpytest("-p", "no:unraisableexception", "-p", "no:cacheprovider", *args)


def document(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "claims.json").read_text(encoding="utf-8"))


def first_section(pytester: pytest.Pytester) -> tuple[str, str]:
    """The id and text of the first section of ``index.html``."""
    html = (pytester.path / "reports" / "index.html").read_text(encoding="utf-8")
    first = re.search(r'<section id="([^"]+)"[^>]*>(.*?)</section>', html, flags=re.DOTALL)
    return first[1], re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", first[2]))


def history_verdicts(path: Path, check: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [v for (v,) in conn.execute(
            'SELECT verdict FROM checks WHERE "check" = ? ORDER BY run_id', (check,))]


def test_flip_is_in_the_first_section_the_terminal_and_the_history(project):
    first = run(project, STEADY)
    assert first.ret == pytest.ExitCode.OK
    first.stdout.fnmatch_lines(["*history: run #1 in *history.sqlite is the first complete run*"])
    assert document(project)["history"]["changes"] is None

    second = run(project, {**STEADY, "width": 769})
    assert second.ret == pytest.ExitCode.TESTS_FAILED  # the refuted check fails, as always
    second.stdout.fnmatch_lines([
        "*= claims =*",
        "changed since run #1 (*): 1 verdict flip, 0 checks new, 0 gone, 0 values moved*",
        "  flip   width / test_width: verified → refuted",
    ])
    section, text = first_section(project)
    assert section == "changes"
    assert "Since run #1" in text and ("verdict flip (regression) width test_width verified 768 vs paper 768 refuted 769 vs paper 768"
                                     in text)  # measured against paper on both sides
    changes = document(project)["history"]["changes"]
    assert [{k: v for k, v in f.items() if k != "measured"} for f in changes["flips"]] == [
        {"nodeid": "claims/test_suite.py::test_width", "claim": "width", "id": "test_width",
         "before": "verified", "after": "refuted", "regression": True}]
    assert changes["flips"][0]["measured"]["before"]["paper"] == 768  # measured against paper, both runs
    history = project.path / "reports" / "history.sqlite"
    assert history_verdicts(history, "test_width") == ["verified", "refuted"]
    assert history_verdicts(history, "test_depth") == ["verified", "verified"]
    with sqlite3.connect(history) as conn:
        assert conn.execute("SELECT COUNT(*), SUM(partial) FROM runs").fetchone() == (2, 0)
        claims = conn.execute("SELECT verdict FROM claims WHERE claim = 'width' ORDER BY run_id").fetchall()
    assert claims == [("verified",), ("refuted",)]


def test_fail_on_turns_a_flip_into_a_non_zero_exit_status(project):
    """verified → not run is a skip, so pytest alone would exit 0; --claims-fail-on makes it fail."""
    assert run(project, STEADY).ret == pytest.ExitCode.OK
    history = project.path / "reports" / "history.sqlite"
    shutil.copy(history, project.path / "copy.sqlite")
    missing = {"width": 768, "acc": 80.0}  # the depth file went missing: not run

    quiet = run(project, missing)
    assert quiet.ret == pytest.ExitCode.OK
    quiet.stdout.fnmatch_lines(["  flip   width / test_depth: verified → not run"])

    strict = run(project, missing, "--claims-history", "copy.sqlite", "--claims-fail-on", "flip")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(["  flip   width / test_depth: verified → not run",
                                 "--claims-fail-on flip: 1 change fails this run"])
    regression = run(project, missing, "--claims-history", "copy.sqlite", "--claims-fail-on", "regression")
    assert regression.ret == pytest.ExitCode.OK  # compared with the run just before: not run both times
    regression.stdout.fnmatch_lines(["no change since run #2 (*)"])


def test_only_complete_runs_of_the_same_configuration_are_compared(project):
    assert run(project, STEADY).ret == pytest.ExitCode.OK
    # a partial run (-k) is recorded but never the base of a comparison
    run(project, {**STEADY, "width": 769}, "-k", "width")
    other = {"tiers": ["eval", "finetune"], "data": {"entries": {"val": "1000 entries"}}}
    configure(project, other)
    unlike = run(project, {**STEADY, "width": 769})
    unlike.stdout.fnmatch_lines(["*history: run #3 in * is the first complete run of its configuration there*"])
    configure(project, {"data": {"entries": {"val": "1000 entries"}}, "tiers": ["eval"]})  # same, other key order
    back = run(project, {**STEADY, "width": 769})
    back.stdout.fnmatch_lines(["changed since run #1 (*): 1 verdict flip*"])
    with sqlite3.connect(project.path / "reports" / "history.sqlite") as conn:
        rows = conn.execute("SELECT id, partial, configuration_key FROM runs ORDER BY id").fetchall()
    assert [partial for _, partial, _ in rows] == [0, 1, 0, 0]
    assert rows[0][2] == rows[1][2] == rows[3][2] != rows[2][2]


def test_a_run_of_some_files_reports_no_other_check_as_gone(project):
    # Before: a run given one file never collected the other file's checks; each verified one was listed "gone" as a
    # regression, and --claims-fail-on regression failed the run.
    project.path.joinpath("claims", "test_other.py").write_text(
        "import pytest\n\n\n@pytest.mark.claim('accuracy')\ndef test_other(claim_check):\n"
        "    claim_check.untestable('needs a private dataset')\n\n\n"
        "@pytest.mark.claim('width')\ndef test_same(claim_check):\n    test_width = 768\n"
        "    from pytest_claims import Measurement\n    from types import SimpleNamespace\n"
        "    claim_check.value(Measurement(test_width, method='counted'), SimpleNamespace(table='Table 1', row='Base', "
        "column='Width', value=768, std=None, unit=''), 'exact', 'architecture')\n", encoding="utf-8")
    assert run(project, STEADY).ret == pytest.ExitCode.OK
    some = run(project, STEADY, "claims/test_suite.py", "--claims-fail-on", "regression")
    assert some.ret == pytest.ExitCode.OK, some.stdout.str()
    assert document(project)["run"]["partial"] and document(project)["history"]["changes"]["gone"] == []


def test_a_checks_duration_counts_its_fixture_setup(project):
    # Before: only the phases carrying the record (call, teardown) were added, so a check whose fixture does the
    # work looked cheap to pytest-split's balancing.
    project.path.joinpath("claims", "test_slow.py").write_text(
        "import time\n\nimport pytest\n\n\n@pytest.fixture\ndef slow():\n    time.sleep(0.6)\n\n\n"
        "@pytest.mark.claim('accuracy')\ndef test_slow(claim_check, slow):\n"
        "    claim_check.untestable('needs a private dataset')\n", encoding="utf-8")
    run(project, STEADY)
    assert document(project)["run"]["durations"]["claims/test_slow.py::test_slow"] >= 0.6


def test_a_partial_first_run_is_not_called_complete(project):
    """A run stopped early (here -k) with no complete run before it says it is partial, not "the first complete run"."""
    partial = run(project, STEADY, "-k", "width")
    partial.stdout.fnmatch_lines(["*history: run #1 in * is a partial run, and no earlier complete run*"])
    assert "first complete run" not in partial.stdout.str()
    section, text = first_section(project)
    assert section == "changes" and "is a partial run" in text and "first complete run" not in text


def test_a_value_that_moved_beyond_its_interval_is_a_change_and_draws_a_trend(project):
    run(project, STEADY)
    run(project, {**STEADY, "acc": 80.2})  # inside the earlier interval [79.6, 80.4]: no change
    doc = document(project)
    assert doc["history"]["changes"] == {"flips": [], "new": [], "gone": [], "moved": []}
    result = run(project, {**STEADY, "acc": 81.5})  # still verified (80 ± 2), but it moved
    result.stdout.fnmatch_lines(["  moved  accuracy / test_top1: 80.2 [79.8, 80.6] → 81.5 [81.1, 81.9]"])
    doc = document(project)
    [moved] = doc["history"]["changes"]["moved"]
    assert (moved["id"], moved["verdict"], moved["before"]["value"], moved["after"]["value"]) == (
        "test_top1", "verified", 80.2, 81.5)
    points = doc["history"]["trends"]["claims/test_suite.py::test_top1"]
    assert [p["value"] for p in points] == [80.0, 80.2, 81.5] and points[-1]["run"] == 3
    assert "claims/test_suite.py::test_width" not in doc["history"]["trends"]  # steady: nothing to draw
    assert doc["history"]["timeline"]["claims"]["accuracy"] == ["verified"] * 3
    html = (project.path / "reports" / "index.html").read_text(encoding="utf-8")
    section = re.search(r'<section class="claim" id="claim-accuracy">(.*?)</section>', html, flags=re.DOTALL)[1]
    assert "Trend of 1 check" in section and "<svg" in section
    assert html.count('class="tl v-verified"') >= 6  # two claims, three runs each, in the summary


def test_history_none_and_no_report_write_no_database(project):
    run(project, STEADY, "--claims-history", "none")
    assert not (project.path / "reports" / "history.sqlite").exists()
    assert "history" not in document(project)
    run(project, STEADY, "--claims-no-report")
    assert not (project.path / "reports" / "history.sqlite").exists()


def test_a_file_that_is_no_database_is_named_and_the_report_still_written(project):
    (project.path / "notes.txt").write_text("not a database\n")
    result = run(project, STEADY, "--claims-history", "notes.txt")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*history not written to *notes.txt: *notes.txt is not an SQLite database*"])
    assert (project.path / "reports" / "claims.json").exists()


WRITER = """
import sys
from pathlib import Path
from pytest_claims.history import record_run

def document(n, tag):
    checks = [{"claim": "c", "id": f"t{i}", "nodeid": f"m.py::t{i}", "kind": "value", "verdict": "verified",
               "reason": tag * 40, "measured": {"value": float(i), "low": None, "high": None, "n": None}}
              for i in range(n)]
    return {"run": {"partial": False, "configuration": {"tiers": ["x"]}},
            "environment": {"timestamp": tag, "git": {"commit": "abc", "dirty": False}},
            "summary": {}, "claims": [{"id": "c", "verdict": "verified", "reason": "", "checks": checks}]}

path = Path(sys.argv[1])
for k in range(3):
    record_run(path, document(50, f"run{k}"))
print("ready", flush=True)
while True:  # large runs, one after another, until killed
    record_run(path, document(200_000, "big"))
    print("committed", flush=True)
"""


def test_kill_9_during_the_history_write_keeps_every_earlier_run(tmp_path):
    path = tmp_path / "history.sqlite"
    journal = tmp_path / "history.sqlite-journal"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        while not journal.exists():  # the big run's transaction has begun writing pages
            assert time.monotonic() < deadline, "the writer never started its transaction"
            time.sleep(0.002)
        time.sleep(0.05)
    finally:
        writer.kill()  # SIGKILL
        writer.wait()
    rest = writer.stdout.read()
    assert journal.exists(), "killed after the transaction ended: nothing was interrupted"
    committed = rest.count("committed")
    with sqlite3.connect(path) as conn:  # opening rolls the interrupted transaction back
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        runs = conn.execute("SELECT id, timestamp FROM runs ORDER BY id").fetchall()
        counts = dict(conn.execute("SELECT run_id, COUNT(*) FROM checks GROUP BY run_id").fetchall())
    assert [ts for _, ts in runs] == ["run0", "run1", "run2"] + ["big"] * committed
    assert [counts[i] for i, _ in runs] == [50, 50, 50] + [200_000] * committed
    from pytest_claims.history import record_run  # and the database takes the next run

    doc = {"run": {"partial": False}, "environment": {"timestamp": "after"}, "summary": {}, "claims": []}
    assert record_run(path, doc) == runs[-1][0] + 1  # the rolled-back run left no id behind
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT timestamp FROM runs ORDER BY id DESC LIMIT 1").fetchone() == ("after",)


def test_schema_is_documented(tmp_path):
    """Every table and column of the history is named in docs/PLUGIN.md's History section."""
    from pytest_claims.history import connect

    docs = (Path(__file__).resolve().parents[1] / "docs" / "PLUGIN.md").read_text(encoding="utf-8")
    section = docs[docs.index("## History"):]
    with connect(tmp_path / "h.sqlite") as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if not t.startswith("sqlite_")]
        for table in tables:
            assert f"`{table}`" in section, table
            for column in conn.execute(f"PRAGMA table_info({table})").fetchall():
                assert f"`{column[1]}`" in section, (table, column[1])
    conn.close()


def test_an_unusable_history_path_is_a_history_error_for_every_caller(tmp_path):
    # Before: only a file that was no database became a HistoryError; a path under a file (or a locked database)
    # raised OSError / sqlite3.Error, which `python -m pytest_claims merge` did not catch: no merged report at all.
    from pytest_claims.history import HistoryError
    from pytest_claims.nightly import record_and_compare

    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(HistoryError, match="a-file"):
        record_and_compare({"run": {}, "claims": []}, blocker / "history.sqlite")
