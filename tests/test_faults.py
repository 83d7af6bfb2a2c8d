"""The fault matrix: what a user's nightly meets, each case asserting what the user then sees.

Runs the small suite of tests/fault_project.py as a user would (a `pytest` subprocess, serial or `-n 2`) and
breaks it: Ctrl-C, `kill -9` of the controller or of a worker, a crashing worker, a broken cache, an
unwritable report folder, bad options and settings, hostile text, non-ASCII paths. Each case checks the exit
status, the one line that says what went wrong, the verdicts in claims.json, and that nothing that had
finished is lost. Faults of measurement inputs (checkpoints, downloads, incomplete splits): test_faults_inputs.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy  # loaded before any in-process pytester run, which would drop it: numpy refuses a second import
import pytest

from tests import fault_project as fp

pytest_plugins = ["pytester"]
XDIST = ("-n", "2", "--dist", "loadfile")
NOT_EXECUTED = "not executed in this run (deselected with -k/-m or the run stopped early)"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return fp.write_project(tmp_path / "project")


def executed(document: dict) -> dict[str, str]:
    return {cid: c["verdict"] for cid, c in fp.checks(document).items() if c["executed"]}


def assert_not_executed(document: dict, names: set[str]) -> None:
    by_id = fp.checks(document)
    assert {cid for cid, c in by_id.items() if not c["executed"]} == names
    assert all(by_id[n]["verdict"] == "not_run" and by_id[n]["reason"] == NOT_EXECUTED for n in names)
    assert document["run"]["partial"] is True and document["run"]["not_executed"] == len(names)


def one_line(output: str, needle: str) -> str:
    # pytest's short summary repeats a collection error's message, cut to the terminal width (uncut where
    # the terminal is wide, as on CI): the count is over the run's own output, before that summary.
    body = output.split(" short test summary info ")[0]
    lines = [line for line in body.splitlines() if needle in line]
    assert len(lines) == 1, f"{needle!r} on {len(lines)} lines:\n{output[-3000:]}"
    return lines[0]


# -- interrupts --------------------------------------------------------------------------------------

@pytest.mark.parametrize("group", [False, True], ids=["kill-INT-controller", "ctrl-C-process-group"])
def test_interrupted_parallel_run_lists_what_never_ran_and_calls_no_claim_untestable(project, group):
    run = fp.Run(project, *XDIST, FAULT_BLOCK="listing,facts")
    run.wait_for_waiting("listing", "facts", reported=len(fp.QUICK["listing"]) + len(fp.QUICK["facts"]))
    run.signal(signal.SIGINT, group=group)
    assert run.finish() == pytest.ExitCode.INTERRUPTED
    document = fp.report(project)
    # Everything reported before the interrupt is kept with its verdict ...
    assert executed(document) == {**dict.fromkeys(fp.QUICK["listing"], "untestable"),
                                  **dict.fromkeys(fp.QUICK["facts"], "verified")}
    # ... what never ran is listed as such, and "untestable" (never checkable) is not said of a subset.
    assert_not_executed(document, {"test_listing_waits", "test_listing_measured[listing-a-12]",
                                   "test_listing_measured[listing-b-24]", "test_fact_waits", "test_fact_later"})
    listing, facts = fp.claims(document)["listing"], fp.claims(document)["facts"]
    assert (listing["verdict"], listing["reason"]) == ("not_run", "none of 3 testable checks was run (3 untestable)")
    assert facts["verdict"] == "inconclusive" and facts["reason"] == "6 of 8 testable checks verified; 2 not run"
    assert "partial run: 5 checks not executed" in run.output


def test_interrupted_serial_run_lists_what_never_ran(project):
    run = fp.Run(project, FAULT_BLOCK="facts")  # serial: test_facts.py first, then test_listing.py
    run.wait_for_waiting("facts", reported=len(fp.QUICK["facts"]))
    run.signal(signal.SIGINT)
    assert run.finish() == pytest.ExitCode.INTERRUPTED
    document = fp.report(project)
    assert executed(document) == dict.fromkeys(fp.QUICK["facts"], "verified")
    assert_not_executed(document, {"test_fact_waits", "test_fact_later", *fp.QUICK["listing"], "test_listing_waits",
                                   "test_listing_measured[listing-a-12]", "test_listing_measured[listing-b-24]"})
    assert fp.claims(document)["facts"]["reason"] == "6 of 8 testable checks verified; 2 not run"
    assert fp.claims(document)["listing"]["reason"] == "none of 6 testable checks was run"


def test_under_a_partial_run_caveat_checks_received_untestable_do_not_make_a_claim_untestable():
    # Where the run cannot tell which checks it never received (no worker reported its collection,
    # modules failed to collect, files left out), "untestable" — never checkable with public material —
    # is no more said of a subset than "verified" is.
    from pytest_claims.assemble import build_claims
    from pytest_claims.records import CheckRecord

    received = [CheckRecord("listing", f"t{i}", f"m::t{i}", "untestable", "untestable", "not public") for i in range(3)]
    [complete] = build_claims(None, received)
    [partial] = build_claims(None, received, caveat="the run ended before any worker reported the checks it collected")
    assert complete.verdict == "untestable"
    assert (partial.verdict, partial.reason) == (
        "inconclusive", "all 3 checks untestable, but the run ended before any worker reported the checks it collected")


# -- kills and crashes -------------------------------------------------------------------------------

def test_kill_9_of_the_controller_keeps_the_last_report_and_the_rerun_resumes_from_the_cache(project, tmp_path):
    code, _ = fp.run(project, cache=tmp_path / "first-cache")
    assert code == pytest.ExitCode.OK
    before = {p.name: p.read_bytes() for p in (project / "reports").iterdir()}
    (project / "marks" / "computed.log").unlink()

    run = fp.Run(project, cache=tmp_path / "cache", FAULT_BLOCK="facts")  # serial: the facts, then the listing
    run.wait_for_waiting("facts", reported=len(fp.QUICK["facts"]))
    run.signal(signal.SIGKILL)
    assert run.finish() == -signal.SIGKILL
    assert {p.name: p.read_bytes() for p in (project / "reports").iterdir()} == before  # byte for byte, no debris
    finished = fp.computed(project)
    assert finished == ["fact-a", "fact-b", "fact-c", "fact-d", "fact-e", "fact-f"]

    code, _ = fp.run(project, cache=tmp_path / "cache")
    assert code == pytest.ExitCode.OK
    assert fp.computed(project) == finished + ["fact-waited", "fact-later", "listing-a", "listing-b"]  # none twice
    assert fp.claims(fp.report(project))["facts"]["verdict"] == "verified"


# `--dist load`: xdist hands a crashed worker's other tests to the others (under loadfile it would rerun the
# crashing test on each replacement worker until it gives up).

def test_kill_9_of_a_worker_is_an_error_of_its_check_and_the_rest_still_runs(project):
    run = fp.Run(project, "-n", "2", FAULT_BLOCK="facts")
    run.wait_for_waiting("facts", reported=0)
    os.kill(run.pid_of("facts"), signal.SIGKILL)
    assert run.finish() == pytest.ExitCode.TESTS_FAILED
    assert "worker 'gw" in run.output and "crashed while running 'claims/test_facts.py::test_fact_waits'" in run.output
    assert_crash_is_one_error(fp.report(project), "test_fact_waits")


def test_a_crashing_worker_is_an_error_of_its_check_and_of_its_claim(project):
    code, output = fp.run(project, "-n", "2", FAULT_CRASH="facts")
    assert code == pytest.ExitCode.TESTS_FAILED
    assert "crashed" in output
    assert_crash_is_one_error(fp.report(project), "test_fact_waits")


def assert_crash_is_one_error(document: dict, crashed: str) -> None:
    by_id = fp.checks(document)
    assert by_id[crashed]["verdict"] == "error" and "crashed" in by_id[crashed]["reason"]
    assert all(c["executed"] for c in by_id.values()) and document["run"]["not_executed"] == 0
    assert {cid: c["verdict"] for cid, c in by_id.items() if cid != crashed} == {
        **dict.fromkeys(fp.QUICK["listing"] + ["test_listing_waits"], "untestable"),
        **dict.fromkeys([*fp.QUICK["facts"], "test_listing_measured[listing-a-12]",
                         "test_listing_measured[listing-b-24]", "test_fact_later"], "verified")}
    assert fp.claims(document)["facts"]["verdict"] == "error"
    assert fp.claims(document)["listing"]["verdict"] == "verified"


# -- the run history and the shard merge (issue 9) ------------------------------------------------------

def history_runs(path: Path) -> list[tuple[int, int]]:
    """(run id, checks recorded) of every run in the history; opening it rolls back a killed write."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT runs.id, COUNT(checks.run_id) FROM runs LEFT JOIN checks "
                            "ON checks.run_id = runs.id GROUP BY runs.id ORDER BY runs.id").fetchall()


def test_kill_9_during_the_history_write_loses_no_earlier_run_nor_the_last_report(project):
    assert fp.run(project)[0] == pytest.ExitCode.OK
    before = {p.name: p.read_bytes() for p in (project / "reports").iterdir() if p.suffix != ".sqlite"}
    (project / "conftest.py").write_text(fp.HOLD_CONFTEST, encoding="utf-8")
    run = fp.Run(project, FAULT_HOLD_HISTORY="1")
    run.wait_until(lambda: (project / "marks" / "started-history").exists(), "the history write to begin")
    run.signal(signal.SIGKILL)
    assert run.finish() == -signal.SIGKILL
    assert history_runs(project / "reports" / "history.sqlite") == [(1, 14)]
    assert {p.name: p.read_bytes() for p in (project / "reports").iterdir() if p.suffix == ".json" or
            p.suffix == ".html"} == before
    assert fp.run(project)[0] == pytest.ExitCode.OK  # the next run appends as if nothing had happened
    assert history_runs(project / "reports" / "history.sqlite") == [(1, 14), (2, 14)]


def test_kill_9_during_a_shard_merge_loses_no_earlier_merge(project):
    for shard, selected in (("shard-1", "test_listing"), ("shard-2", "test_facts")):
        code, _ = fp.run(project, "-k", selected, f"--claims-report-dir={shard}", "--claims-history=none")
        assert code == pytest.ExitCode.OK
    merge = ("-c", fp.MERGE, "merge", "shard-1", "shard-2", "--out", "merged")
    code, output = fp.run(project, command=merge)
    assert code == 0, output
    merged = {p.name: p.read_bytes() for p in (project / "merged").iterdir() if p.suffix in (".json", ".html")}
    assert json.loads(merged["claims.json"])["run"]["partial"] is False

    killed = fp.Run(project, command=merge, FAULT_HOLD_HISTORY="1")
    killed.wait_until(lambda: (project / "marks" / "started-history").exists(), "the merge's history write")
    killed.signal(signal.SIGKILL)
    assert killed.finish() == -signal.SIGKILL
    assert history_runs(project / "merged" / "history.sqlite") == [(1, 14)]
    assert {p.name: p.read_bytes() for p in (project / "merged").iterdir() if p.suffix in (".json", ".html")} == merged
    assert fp.run(project, command=merge)[0] == 0
    assert history_runs(project / "merged" / "history.sqlite") == [(1, 14), (2, 14)]


# -- the prediction cache ------------------------------------------------------------------------------

def swap(a: Path, b: Path) -> None:
    parked = a.with_name(a.name + ".parked")
    a.rename(parked)
    b.rename(a)
    parked.rename(b)


def test_corrupt_and_swapped_cache_entries_are_recomputed_to_the_same_verdicts(project):
    from measure.run.cache import ChunkCache

    assert fp.run(project)[0] == pytest.ExitCode.OK
    clean = fp.report(project)
    cache = ChunkCache(project / "cache")
    entry = {name: cache.entry_dir({"cell": name}) for name in fp.ENTRIES}
    chunk = {name: folder / "chunk-00000.npz" for name, folder in entry.items()}
    data = bytearray(chunk["listing-a"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk["listing-a"].write_bytes(bytes(data))                                   # garbled chunk
    chunk["listing-b"].write_bytes(chunk["listing-b"].read_bytes()[:40])           # truncated chunk
    swap(chunk["fact-a"], chunk["fact-b"])                                         # chunks swapped
    swap(entry["fact-c"] / "manifest.json", entry["fact-d"] / "manifest.json")     # manifests swapped
    swap(entry["fact-e"], entry["fact-f"])                                         # whole entries swapped
    (entry["fact-later"] / "manifest.json").write_text('{"key": ')                 # truncated manifest
    (project / "marks" / "computed.log").unlink()

    assert fp.run(project)[0] == pytest.ExitCode.OK
    assert sorted(fp.computed(project)) == sorted(set(fp.ENTRIES) - {"fact-waited"})  # each broken one, once
    again = fp.report(project)
    assert [(c["id"], c["verdict"], c["measured"]) for c in fp.checks(again).values()] == \
        [(c["id"], c["verdict"], c["measured"]) for c in fp.checks(clean).values()]


def test_two_runs_on_one_cache_compute_each_entry_once_and_agree(project):
    runs = [fp.Run(project, f"--claims-report-dir=reports-{i}") for i in (1, 2)]
    assert [r.finish() for r in runs] == [pytest.ExitCode.OK, pytest.ExitCode.OK]
    assert sorted(fp.computed(project)) == sorted(fp.ENTRIES)
    first, second = (fp.report(project, f"reports-{i}") for i in (1, 2))
    assert [(c["id"], c["verdict"], c["measured"]) for c in fp.checks(first).values()] == \
        [(c["id"], c["verdict"], c["measured"]) for c in fp.checks(second).values()]


# -- the report folder -------------------------------------------------------------------------------

def test_unwritable_report_folder_is_a_usage_error_before_any_test_runs(project):
    (project / "not-a-folder").write_text("a file where the report folder would go\n")
    code, output = fp.run(project, "--claims-report-dir=not-a-folder/reports")
    assert code == pytest.ExitCode.USAGE_ERROR
    line = one_line(output, "ERROR: pytest-claims: cannot write the claims report")
    assert "not-a-folder is a file, not a folder" in line and "--claims-no-report" in line
    assert fp.computed(project) == [] and "Traceback" not in output


def test_report_that_cannot_be_written_at_the_end_still_prints_the_claims_summary(project):
    # The folder was writable when the run began and is gone (a file now) when the report is written.
    (project / "conftest.py").write_text(
        "import shutil\nfrom pathlib import Path\n\nimport pytest\n\n\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_sessionfinish(session):\n"
        "    shutil.rmtree('reports', ignore_errors=True)\n"
        "    Path('reports').write_text('the volume went away')\n", encoding="utf-8")
    code, output = fp.run(project)
    assert code == pytest.ExitCode.OK
    assert "verified     listing" in output and "verified     facts" in output  # the summary, verdicts and all
    line = one_line(output, "claims report NOT written to")
    assert "reports" in line and "--claims-report-dir" in line
    assert "Traceback" not in output and "INTERNALERROR" not in output


# -- bad options and settings ------------------------------------------------------------------------

@pytest.fixture
def truncated_safetensors(tmp_path: Path) -> Path:
    from safetensors.numpy import save_file

    path = tmp_path / "ViT-B_16.safetensors"
    save_file({"weight": numpy.zeros((64, 64), dtype=numpy.float32)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])  # an interrupted download
    return path


SUITE_PLUGINS = 'pytest_plugins = ["fixtures.options", "fixtures.measurement"]\n'


@pytest.mark.parametrize("args, settings, message", [
    pytest.param(["--claims-tier="], "", "--claims-tier: no tier given", id="empty-tier"),
    pytest.param(["--claims-tier=eval,gpu"], "", "--claims-tier: unknown tier(s) ['gpu']", id="unknown-tier"),
    pytest.param(["--claims-seeds=0,x"], "", "--claims-seeds: expected comma-separated integers", id="seed-text"),
    pytest.param(["--claims-seeds=1,1"], "", "--claims-seeds: give at least one seed, each once", id="seed-twice"),
    pytest.param(["--claims-finetune-steps=0"], "", "--claims-finetune-steps: must be a positive", id="no-steps"),
    pytest.param(["--claims-checkpoint=vit_b16-i21k"], "", "expected KEY=FILE", id="checkpoint-no-file"),
    pytest.param(["--claims-checkpoint=vit_b16-21k=x.npz"], "", "vit_b16-i21k", id="checkpoint-key-typo"),
    pytest.param(["--claims-checkpoint=vit_b16-i21k=missing.npz"], "", "missing.npz: no such file or folder",
                 id="checkpoint-missing"),
    pytest.param(["--claims-checkpoint=vit_b16-i21k=TRUNCATED"], "", "is not a readable safetensors file",
                 id="checkpoint-truncated-safetensors"),
    pytest.param([], "alpha = 0.7", "alpha in [tool.claims]", id="alpha"),
    pytest.param([], "tolerence = 1", "unknown key(s) ['tolerence']", id="settings-typo"),
    pytest.param([], "margins = { comparable = -1 }", "must be a finite number >= 0", id="negative-margin"),
    pytest.param([], "alpha = ", "pyproject.toml: Invalid value", id="broken-toml"),  # pytest's own refusal
])
def test_bad_options_and_settings_are_one_line_usage_errors(pytester, truncated_safetensors, args, settings,
                                                             message):
    pytester.makepyprojecttoml(f"[tool.claims]\n{settings}\n")
    pytester.makeconftest(SUITE_PLUGINS)
    pytester.makepyfile("def test_never_runs():\n    raise AssertionError('a bad option must stop the run')\n")
    args = [a.replace("TRUNCATED", str(truncated_safetensors)) for a in args]
    result = pytester.runpytest_inprocess("-p", "no:unraisableexception", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1 and message in errors[0], result.errlines
    assert not any("Traceback" in line for line in result.outlines + result.errlines)


@pytest.mark.parametrize("xdist, status", [((), pytest.ExitCode.USAGE_ERROR),
                                           (("-n", "2"), pytest.ExitCode.TESTS_FAILED)], ids=["serial", "xdist"])
def test_a_missing_catalog_is_said_once_not_once_per_check(project, xdist, status):
    # Serially a usage error; under xdist, whose workers collect, one collection error (xdist shows a
    # text once however many modules report it) — before the fix, one line per marked test.
    (project / "claims.toml").unlink()
    code, output = fp.run(project, *xdist)
    assert code == status
    line = one_line(output, "claims.toml not found")
    assert "pytest-claims: claim catalog" in line and "[tool.claims] catalog" in line


# -- text and paths ----------------------------------------------------------------------------------

HOSTILE = "</script><script>alert(1)</script> <img src=x onerror=alert(2)> {{ 7*7 }} {0} %s \\ \" ' é 測"


def test_hostile_text_is_kept_verbatim_in_json_and_never_markup_in_html(project):
    catalog = (project / "claims.toml").read_text(encoding="utf-8")
    (project / "claims.toml").write_text(catalog.replace('"Counted from the architectures."',
                                                         json.dumps("Counted " + HOSTILE)), encoding="utf-8")
    (project / "claims" / "test_hostile.py").write_text(
        "import pytest\n\n\n@pytest.mark.claim('facts')\n"
        f"@pytest.mark.parametrize('x', [1], ids=[{HOSTILE!r}])\n"
        f"def test_hostile(claim_check, x):\n    claim_check.not_run({HOSTILE!r})\n", encoding="utf-8")
    code, _ = fp.run(project, "claims/test_hostile.py")
    assert code == pytest.ExitCode.OK
    document = fp.report(project)
    [check] = fp.claims(document)["facts"]["checks"]
    assert check["reason"] == HOSTILE and check["id"].startswith("test_hostile[")
    assert fp.claims(document)["facts"]["statement"] == "Counted " + HOSTILE
    html = (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "onerror=alert(2)>" not in html
    assert "{{ 7*7 }}" in html and "49" not in html.split("{{ 7*7 }}")[0][-50:]  # shown, never evaluated
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in html


def test_non_ascii_paths_work(tmp_path):
    project = fp.write_project(tmp_path / "projet données 測試")
    code, output = fp.run(project, "--claims-report-dir=rapports ü", cache=tmp_path / "cache ß")
    assert code == pytest.ExitCode.OK, output[-3000:]
    document = fp.report(project, "rapports ü")
    assert {c["verdict"] for c in document["claims"]} == {"verified"}
    assert (project / "rapports ü" / "index.html").is_file()
    assert "projet données 測試" in one_line(output, "claims report:")


def test_a_killed_controllers_collected_folder_is_removed_by_the_next_run(tmp_path, monkeypatch):
    """kill -9 of the controller leaves its worker-file folder; the next controller removes it (and only it)."""
    from pytest_claims import collected

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = tmp_path / f"{collected.PREFIX}{done.stdout.strip()}-abc"
    alive = tmp_path / f"{collected.PREFIX}{os.getpid()}-def"
    other = tmp_path / "something-else"
    for folder in (dead, alive, other):
        folder.mkdir()
    monkeypatch.setattr(collected.tempfile, "tempdir", str(tmp_path))
    made = collected.make_folder()
    assert not dead.exists() and alive.exists() and other.exists()
    assert made.parent == tmp_path and made.name.startswith(f"{collected.PREFIX}{os.getpid()}-")
