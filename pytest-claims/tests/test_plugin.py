"""The claim plugin end to end, on a synthetic suite with its own pyproject.toml and claim catalog.

Each test runs the synthetic suite with pytester and reads what a user would read: pytest's
outcomes and exit status, ``reports/claims.json`` and ``reports/index.html``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import numpy  # noqa: F401 - loaded once here: numpy refuses a second import after a pytester run drops it
import pytest
from markupsafe import escape

pytest_plugins = ["pytester"]

PYPROJECT = """
[tool.pytest.ini_options]
testpaths = ["claims"]

[tool.claims]
catalog = "paper/claims.toml"
report_dir = "reports"
alpha = 0.05

[tool.claims.tolerances]
exact = { abs = 0 }
accuracy = { abs = 1.0, sigmas = 2 }

[tool.claims.margins]
comparable = 0.005
"""

CATALOG = """
[[appendix]]
title = "Discrepancies"
file = "discrepancies.csv"

[[claims]]
id = "arch"
title = "Architecture <b>facts</b>"
statement = "ViT-Base has 12 layers <script>alert(1)</script>"
source = "Table 1"

[claims.data]
tables = ["Table 1"]
private = "<em>project data, never shown</em>"

[[claims.alternates]]
source = "a <i>summary</i>"
text = "the summary says 12 <b>layers</b>"

[[claims]]
id = "order"
title = "A beats B"
statement = "A is better than B on the same examples."
source = "Figure 3"
caveats = "Synthetic <u>data</u>."

[[claims]]
id = "never-checked"
title = "A claim no test supplies evidence for"
statement = "Nothing here."
source = "Section 9"
"""

DISCREPANCIES_CSV = "table,row,column,paper,summary,note\nTable 1,ViT-Base,Layers,12,11,typo <i>x</i>\n"

CONFTEST = """
def pytest_claims_environment(config):
    return {"device": "synthetic-cpu", "seeds": {"synthetic": 7}}
"""

SUITE = '''
from dataclasses import dataclass

import numpy as np
import pytest

from pytest_claims import Measurement

pytestmark = pytest.mark.claim("arch")


@dataclass(frozen=True)
class PaperNumber:  # duck-types the project's paper.PaperNumber
    table: str
    row: str
    column: str
    value: float
    std: float | None
    unit: str


LAYERS = PaperNumber("Table 1", "ViT-Base", "Layers", 12, None, "")
ACC = PaperNumber("Table 2", "ViT-L/16", "ImageNet", 87.76, 0.03, "%")


@pytest.mark.parametrize("layers", [12], ids=["<img src=x onerror=alert(2)>"])
def test_layers_verified(claim_check, layers):
    claim_check.value(Measurement(layers, method="counted blocks"), LAYERS, "exact", "architecture")


def test_layers_contradicts(claim_check):
    claim_check.value(Measurement(13, method="counted blocks"), LAYERS, "exact", "architecture")


@pytest.mark.xfail(strict=True, reason="established: we measure 80 %, see issue 7")
def test_accuracy_expected_refutation(claim_check):
    claim_check.value(Measurement(80.0, low=79.2, high=80.8, n=10000), ACC, "accuracy", "eval")


def test_jft_untestable(claim_check):
    claim_check.untestable("JFT-300M is not public", paper=ACC)


def test_imagenet_not_run(claim_check):
    claim_check.not_run("ImageNet not found under /data/imagenet; pass --claims-imagenet DIR")


def test_records_nothing(claim_check):
    pass


def test_crashes(claim_check):
    raise ValueError("checkpoint file is truncated")


def test_unknown_tolerance(claim_check):
    claim_check.value(Measurement(12), LAYERS, "exactly", "architecture")


def test_two_checks(claim_check):
    claim_check.value(Measurement(12), LAYERS, "exact", "architecture")
    claim_check.not_run("a second check")


@pytest.mark.claim("order")
@pytest.mark.parametrize("margin", [None, "comparable"])
def test_a_beats_b(claim_check, margin):
    u = np.random.default_rng(0).random(3000)
    a, b = u < 0.90, u < 0.80  # paired: A is right wherever B is, and on 10 % more
    claim_check.ordering(a, b, "eval", margin=margin, a_label="ViT", b_label="CNN")


@pytest.mark.claim("order")
def test_tie_is_inconclusive(claim_check):
    a = np.array([True, False] * 50)
    claim_check.ordering(a, ~a, "eval", a_label="ViT", b_label="CNN")


@pytest.mark.claim("order")
def test_scores_bootstrap(claim_check):
    a = np.random.default_rng(1).normal(size=200)
    claim_check.ordering_scores(a + 0.5, a, "mean", "probe", a_label="ViT", b_label="CNN", n_resamples=999)
'''

UNMARKED = '''
def test_fixture_without_marker(claim_check):
    pass
'''

VERDICTS = {"verified", "refuted", "inconclusive", "untestable", "not_run", "error"}
SERIAL_OUTCOMES = {"passed": 4, "failed": 5, "xfailed": 1, "skipped": 3, "errors": 1}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    return make_project(pytester)


def make_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The synthetic suite: pyproject.toml, claim catalog with an appendix, conftest and claim tests."""
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.mkdir("paper")
    pytester.path.joinpath("paper", "claims.toml").write_text(CATALOG, encoding="utf-8")
    pytester.path.joinpath("paper", "discrepancies.csv").write_text(DISCREPANCIES_CSV, encoding="utf-8")
    pytester.makeconftest(CONFTEST)
    pytester.mkpydir("claims")
    pytester.path.joinpath("claims", "test_synthetic.py").write_text(SUITE, encoding="utf-8")
    pytester.path.joinpath("claims", "test_unmarked.py").write_text(UNMARKED, encoding="utf-8")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the synthetic suite in-process.

    ``no:unraisableexception`` skips its five gc.collect() passes per session, which cost seconds
    once the outer session has imported torch; the synthetic suite creates no unraisable objects.
    """
    return pytester.runpytest("-p", "no:unraisableexception", *args)


def report(pytester: pytest.Pytester, folder: str = "reports") -> tuple[dict, str]:
    path = pytester.path / folder
    doc = json.loads((path / "claims.json").read_text(encoding="utf-8"),
                     parse_constant=lambda c: pytest.fail(f"claims.json holds {c}, which is not JSON"))
    return doc, (path / "index.html").read_text(encoding="utf-8")


def aside(pytester: pytest.Pytester, folder: str = "reports") -> str:
    """The report's page of checks set aside (untestable, not run): set-aside.html beside index.html."""
    return (pytester.path / folder / "set-aside.html").read_text(encoding="utf-8")


def checks(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for claim in doc["claims"] for c in claim["checks"]}


def claims(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for c in doc["claims"]}


def html_rows(html: str, check_id: str) -> list[str]:
    cell = f"<code>{escape(check_id)}</code>"
    return [row for row in re.findall(r"<tr[ >].*?</tr>", html, flags=re.DOTALL) if cell in row]


def test_contradicting_measurement_is_refuted_in_json_html_and_exit_status(project):
    result = run(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(**SERIAL_OUTCOMES)
    result.stdout.fnmatch_lines(
        ["*refuted (arch): measured 13 vs paper 12: outside paper*tolerance 'exact'*Table 1 / ViT-Base / Layers*"])
    doc, html = report(project)
    check = checks(doc)["test_layers_contradicts"]
    assert (check["verdict"], check["outcome"], check["expected"]) == ("refuted", "failed", None)
    assert check["measured"]["value"] == 13 and check["paper"]["value"] == 12
    assert claims(doc)["arch"]["verdict"] == "refuted"
    [row] = html_rows(html, "test_layers_contradicts")
    assert "v-refuted" in row and "expected refutation" not in row
    # a verified check next to it is not painted refuted
    [row] = html_rows(html, "test_layers_verified[<img src=x onerror=alert(2)>]")
    assert "v-verified" in row and "v-refuted" not in row


def test_expected_refutation_is_recorded_refuted_and_run_exits_zero(project):
    result = run(project, "-k", "expected_refutation or untestable or not_run or verified",
                               "--claims-report-dir", "out")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, xfailed=1, skipped=2, deselected=10)
    doc, html = report(project, "out")
    check = checks(doc)["test_accuracy_expected_refutation"]
    assert check["verdict"] == "refuted" and check["outcome"] == "xfailed"
    assert check["expected"] == "established: we measure 80 %, see issue 7"
    assert claims(doc)["arch"]["verdict"] == "refuted"  # the report still says refuted
    [row] = html_rows(html, "test_accuracy_expected_refutation")
    assert "v-refuted" in row and "expected refutation" in row and "see issue 7" in row
    assert not (project.path / "reports").exists()  # --claims-report-dir replaced the configured folder


def test_claim_and_check_text_is_escaped_in_html(project):
    run(project)
    doc, html = report(project)
    assert claims(doc)["arch"]["statement"].endswith("<script>alert(1)</script>")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>facts</b>" not in html and "&lt;b&gt;facts&lt;/b&gt;" in html
    assert "<img src=x" not in html and "<i>x</i>" not in html  # check ids (also in the plot), appendix cells


def test_untestable_and_not_run_are_skips_with_reasons(project):
    result = run(project, "-rs")
    result.stdout.fnmatch_lines(["*untestable: JFT-300M is not public*",
                                 "*not run: ImageNet not found under /data/imagenet; pass --claims-imagenet DIR*"])
    doc, html = report(project)
    by_id = checks(doc)
    untestable, not_run = by_id["test_jft_untestable"], by_id["test_imagenet_not_run"]
    assert (untestable["verdict"], untestable["outcome"], untestable["reason"]) == (
        "untestable", "skipped", "JFT-300M is not public")
    assert untestable["paper"]["value"] == 87.76 and untestable["paper"]["source"]["column"] == "ImageNet"
    assert (not_run["verdict"], not_run["outcome"]) == ("not_run", "skipped")
    assert not_run["reason"] == "ImageNet not found under /data/imagenet; pass --claims-imagenet DIR"
    assert "ImageNet not found under /data/imagenet" in html  # what to provide, on the main page
    # each set-aside check with its reason on a page of its own, which the claim's section links to
    set_aside = aside(project)
    assert "ImageNet not found under /data/imagenet" in set_aside and "JFT-300M is not public" in set_aside
    assert "JFT-300M is not public" not in html and '<a href="set-aside.html#claim-' in html


NEEDS_SUITE = '''
import pytest

pytestmark = pytest.mark.claim("arch")

IMAGENET = "ImageNet val images: pass --claims-imagenet DIR"
GPU = "ideally a CUDA GPU"


def test_two_things_missing(claim_check):
    claim_check.not_run("ImageNet not under /data/imagenet; checkpoint k not in /cache (hub: timeout after 3 s)",
                        needs=[IMAGENET, "checkpoint k: pass --claims-checkpoint k=FILE", IMAGENET])


def test_imagenet_and_gpu(claim_check):
    claim_check.not_run("ImageNet not under /data/imagenet (and no GPU)", needs=[IMAGENET, GPU])


@pytest.mark.claim("order")
def test_other_claim_imagenet(claim_check):
    claim_check.not_run("ImageNet not under /mnt/imagenet", needs=(need for need in [IMAGENET]))


def test_reason_only(claim_check):
    claim_check.not_run("VTAB fine-tuning is not implemented")


def test_needs_is_not_a_bare_string(claim_check):
    claim_check.not_run("ImageNet missing", needs=IMAGENET)
'''


def missing_rows(html: str) -> list[tuple[str, int, str]]:
    """(what to provide, number of checks, claims cell text) of each row of the not-run table."""
    section = re.search(r'<section id="missing">(.*?)</section>', html, flags=re.DOTALL)
    assert section, "no not-run section"
    rows = re.findall(r'<tr><td>(.*?)</td><td class="num">(\d+)</td>\s*<td class="small">(.*?)</td></tr>',
                      section[1], flags=re.DOTALL)
    return [(unescape(need), int(n), re.sub(r"<[^>]+>", "", unescape(cell)).replace("\xa0", " "))
            for need, n, cell in rows]


def test_not_run_table_lists_each_need_once_with_its_checks(project):
    """Checks that give `needs` are counted under each need; a check without needs under its reason."""
    project.path.joinpath("claims", "test_needs.py").write_text(NEEDS_SUITE, encoding="utf-8")
    result = run(project, "claims/test_needs.py")
    result.assert_outcomes(skipped=4, failed=1)
    doc, html = report(project)
    by_id = checks(doc)
    imagenet, checkpoint, gpu = ("ImageNet val images: pass --claims-imagenet DIR",
                                 "checkpoint k: pass --claims-checkpoint k=FILE", "ideally a CUDA GPU")
    assert by_id["test_two_things_missing"]["needs"] == [imagenet, checkpoint]  # each need once, in order
    assert by_id["test_other_claim_imagenet"]["needs"] == [imagenet]
    assert by_id["test_reason_only"]["needs"] == []
    bare = by_id["test_needs_is_not_a_bare_string"]
    assert bare["verdict"] == "error" and "needs must be a list of non-empty strings" in bare["reason"]

    # Grouped by the full reason this would be four rows of one check each.
    assert missing_rows(html) == [
        (imagenet, 3, "arch (2), order (1)"),
        (checkpoint, 1, "arch (1)"),
        (gpu, 1, "arch (1)"),
        ("VTAB fine-tuning is not implemented", 1, "arch (1)"),
    ]
    assert "4 checks did not run on this machine" in html


def test_reports_written_before_needs_existed_still_render(project):
    """A claims.json without the `needs` field (older reports) loads, and its table groups by reason."""
    from pytest_claims.records import CheckRecord

    project.path.joinpath("claims", "test_needs.py").write_text(NEEDS_SUITE, encoding="utf-8")
    run(project, "claims/test_needs.py")
    doc, _ = report(project)
    for claim in doc["claims"]:
        for check in claim["checks"]:
            del check["needs"]
    assert CheckRecord.from_json(doc["claims"][0]["checks"][0]).needs == ()
    project.path.joinpath("old.json").write_text(json.dumps(doc), encoding="utf-8")
    # a subprocess: importing the report (matplotlib) here would break later in-process pytester runs
    subprocess.run([sys.executable, "-m", "pytest_claims.report", "old.json", "-o", "old.html"],
                   cwd=project.path, check=True, capture_output=True)
    rows = missing_rows((project.path / "old.html").read_text(encoding="utf-8"))
    assert sorted(rows) == [
        ("ImageNet not under /data/imagenet (and no GPU)", 1, "arch (1)"),
        ("ImageNet not under /data/imagenet; checkpoint k not in /cache (hub: timeout after 3 s)", 1, "arch (1)"),
        ("ImageNet not under /mnt/imagenet", 1, "order (1)"),
        ("VTAB fine-tuning is not implemented", 1, "arch (1)"),
    ]


def test_claim_test_that_records_nothing_fails(project):
    result = run(project, "-k", "records_nothing")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, deselected=13)
    result.stdout.fnmatch_lines(["*returned without recording a check*"])
    check = checks(report(project)[0])["test_records_nothing"]
    assert (check["verdict"], check["kind"], check["outcome"]) == ("error", "error", "failed")


def test_crashes_and_misuse_are_recorded_as_errors(project):
    run(project)
    doc, _ = report(project)
    by_id = checks(doc)
    assert by_id["test_crashes"]["verdict"] == "error"
    assert "ValueError: checkpoint file is truncated" in by_id["test_crashes"]["reason"]
    unknown = by_id["test_unknown_tolerance"]
    assert unknown["verdict"] == "error" and "unknown tolerance 'exactly'" in unknown["reason"]
    assert "accuracy, exact" in unknown["reason"]  # lists the known names
    two = by_id["test_two_checks"]
    assert two["verdict"] == "error" and "already recorded a check" in two["reason"]
    # a test without a claim marker is no claim check and is told what to add
    assert "test_fixture_without_marker" not in by_id


def test_fixture_without_marker_errors_with_what_to_add(project):
    result = run(project, "claims/test_unmarked.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*uses claim_check but has no claim marker; add @pytest.mark.claim*"])
    assert not (project.path / "reports").exists()  # no claim test ran: no report


def test_orderings_record_difference_and_per_side_accuracies(project):
    run(project)
    by_id = checks(report(project)[0])
    superiority, noninferiority = by_id["test_a_beats_b[None]"], by_id["test_a_beats_b[comparable]"]
    for check in (superiority, noninferiority):
        assert check["verdict"] == "verified"
        m = check["measured"]
        assert m["value"] == pytest.approx(m["extra"]["a"]["accuracy"] - m["extra"]["b"]["accuracy"])
        assert m["low"] < m["value"] < m["high"] and m["n"] == 3000
        for side in ("a", "b"):
            s = m["extra"][side]
            assert s["low"] < s["accuracy"] < s["high"] and s["n"] == 3000
    assert superiority["rule"]["rule"] == "mcnemar_exact_two_sided" and superiority["rule"]["p_value"] < 0.05
    assert noninferiority["rule"]["margin"] == 0.005 and noninferiority["rule"]["margin_name"] == "comparable"
    tie = by_id["test_tie_is_inconclusive"]
    assert (tie["verdict"], tie["outcome"]) == ("inconclusive", "skipped")
    assert by_id["test_scores_bootstrap"]["verdict"] == "verified"
    assert claims(report(project)[0])["order"]["verdict"] == "inconclusive"


def test_every_catalog_claim_is_listed_even_without_checks(project):
    run(project)
    doc, html = report(project)
    assert [c["id"] for c in doc["claims"]] == ["arch", "order", "never-checked"]
    never = claims(doc)["never-checked"]
    assert (never["verdict"], never["reason"], never["checks"]) == ("not_run", "no check collected", [])
    assert 'id="claim-never-checked"' in html
    assert doc["appendix"][0]["rows"] == [["Table 1", "ViT-Base", "Layers", "12", "11", "typo <i>x</i>"]]
    # further catalog keys travel as notes and are shown (escaped) with the claim
    assert claims(doc)["order"]["notes"] == {"caveats": "Synthetic <u>data</u>."}
    assert "Synthetic &lt;u&gt;data&lt;/u&gt;." in html


def test_json_has_the_fields_of_the_design(project):
    run(project)
    doc, _ = report(project)
    env = doc["environment"]
    for key in ("packages", "git", "command_line", "options", "seeds", "xdist_workers", "hostname",
                "timestamp", "python", "claims_settings"):
        assert key in env, key
    assert {"pytest", "numpy"} <= set(env["packages"])
    assert env["device"] == "synthetic-cpu" and env["seeds"]["synthetic"] == 7  # pytest_claims_environment
    assert env["claims_settings"]["tolerances"]["accuracy"] == {"abs": 1.0, "sigmas": 2}
    assert set(env["git"]) == {"commit", "dirty"}
    for claim in doc["claims"]:
        assert {"id", "title", "statement", "source", "verdict", "reason", "checks"} <= set(claim)
        assert claim["verdict"] in VERDICTS
        for check in claim["checks"]:
            assert {"id", "nodeid", "kind", "verdict", "reason", "tier", "expected", "paper", "measured",
                    "rule"} <= set(check)
            assert check["verdict"] in VERDICTS and check["claim"] == claim["id"]
            if check["paper"] is not None:
                assert {"value", "std", "unit", "source"} <= set(check["paper"])
                assert set(check["paper"]["source"]) == {"table", "row", "column"}
            if check["measured"] is not None:
                assert {"value", "low", "high", "n", "method", "extra"} <= set(check["measured"])
            assert isinstance(check["rule"], dict)
    value_rule = checks(doc)["test_layers_contradicts"]["rule"]
    assert value_rule["tolerance"] == {"name": "exact", "abs": 0.0, "rel": 0.0, "sigmas": 0.0}
    # a full run is complete: every check executed, no partial-run banner
    assert all(c["executed"] is True for c in checks(doc).values())
    assert doc["run"]["partial"] is False and doc["run"]["not_executed"] == 0 and doc["run"]["caveat"] is None
    assert doc["summary"]["not_executed"] == 0


def test_html_rerendered_from_json_alone_equals_the_session_html(project):
    run(project)
    _, html = report(project)
    again = project.path / "again.html"
    subprocess.run([sys.executable, "-m", "pytest_claims.report", "reports/claims.json", "-o", str(again)],
                   cwd=project.path, check=True, capture_output=True)
    assert again.read_text(encoding="utf-8") == html
    assert html.count("<svg") == 2  # one figure per claim with measurements


def test_xdist_and_serial_runs_give_identical_verdicts(project):
    serial = run(project)
    serial_doc, _ = report(project)
    parallel = project.runpytest_subprocess("-n", "2")
    parallel.assert_outcomes(**SERIAL_OUTCOMES)
    parallel_doc, _ = report(project)

    def verdicts(doc: dict) -> list:
        return [(claim["id"], claim["verdict"], [(c["nodeid"], c["verdict"], c["outcome"], c["expected"])
                                                  for c in claim["checks"]]) for claim in doc["claims"]]

    assert serial.ret == parallel.ret == pytest.ExitCode.TESTS_FAILED
    assert verdicts(parallel_doc) == verdicts(serial_doc)
    assert (serial_doc["environment"]["xdist_workers"], parallel_doc["environment"]["xdist_workers"]) == (0, 2)


def test_unknown_claim_id_is_a_collection_error_listing_close_matches(project):
    project.path.joinpath("claims", "test_typo.py").write_text(
        "import pytest\n\n@pytest.mark.claim('orders')\ndef test_x(claim_check):\n    pass\n", encoding="utf-8")
    result = run(project, "claims/test_typo.py")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting claims/test_typo.py*",
                                 "*unknown claim id 'orders'*close matches: order*"])


def test_no_report_option_summarises_without_writing(project):
    result = run(project, "-k", "verified", "--claims-no-report")
    result.stdout.fnmatch_lines(["*= claims =*", "partial run: 12 checks not executed*",
                                 "inconclusive*arch*1 verified, 8 not run*",
                                 "not run*never-checked*no checks*", "*claims report not written*"])
    assert not (project.path / "reports").exists()


def test_unknown_settings_key_is_a_usage_error(pytester):
    pytester.makepyprojecttoml('[tool.claims]\ncatalog = "c.toml"\ntolerance = {exact = {abs = 0}}\n')
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key(s)*'tolerance'*known keys: catalog*"])


def test_paper_value_of_duck_types_paper_numbers():
    from types import SimpleNamespace

    from pytest_claims import PaperValue, Source

    number = SimpleNamespace(table="Table 5", row="ViT-H/14", column="JFT-300M", value=88.55, std=0.04,
                             unit="%", model="ViT-H/14", note="")
    assert PaperValue.of(number) == PaperValue(88.55, 0.04, "%", Source("Table 5", "ViT-H/14", "JFT-300M"))
    with pytest.raises(TypeError, match="lacks attribute"):
        PaperValue.of(SimpleNamespace(value=1.0))


def test_plugin_imports_nothing_about_the_model_stack():
    code = ("import sys, pytest_claims.plugin, pytest_claims.report, pytest_claims.check;"
            "bad = sorted(m for m in ('torch', 'timm', 'torchvision', 'transformers', 'paper') if m in sys.modules);"
            "print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parent, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


# -- partial runs: checks collected but not executed ------------------------------------------------

NOT_EXECUTED = "not executed in this run (deselected with -k/-m or the run stopped early)"


def assert_partial(doc: dict, html: str, missing: set[str], deselected: bool) -> None:
    by_id = checks(doc)
    assert {cid for cid, c in by_id.items() if not c["executed"]} == missing
    for cid in missing:
        c = by_id[cid]
        assert (c["verdict"], c["kind"], c["reason"]) == ("not_run", "not_run", NOT_EXECUTED)
        assert c["outcome"] == ("deselected" if deselected else None)
    run_block = doc["run"]
    assert run_block["partial"] is True and run_block["not_executed"] == len(missing)
    assert {n.rsplit("::", 1)[1] for n in run_block["not_executed_checks"]} == missing
    assert doc["summary"]["not_executed"] == len(missing)
    n = len(missing)
    assert f"partial run: {n} check{'s' if n != 1 else ''} not executed" in html
    for cid in missing:  # listed under the banner
        assert f"::{escape(cid)}</code>" in html.split('<section id="summary">')[0]


def test_k_subset_is_a_partial_run_and_verifies_no_claim(project):
    """`-k verified` runs one arch check; the 11 other arch checks and the order checks did not run."""
    result = run(project, "-k", "verified")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*partial run: 12 checks not executed*",
                                 "*not executed: claims/test_synthetic.py::test_layers_contradicts*"])
    doc, html = report(project)
    arch = claims(doc)["arch"]
    assert arch["verdict"] == "inconclusive"  # was "verified" from the one check that ran
    assert arch["reason"] == "1 of 9 testable checks verified; 8 not run"
    assert claims(doc)["order"]["verdict"] == "not_run"
    missing = set(checks(doc)) - {"test_layers_verified[<img src=x onerror=alert(2)>]"}
    assert len(missing) == 12
    assert_partial(doc, html, missing, deselected=True)
    # the expected refutation that was deselected keeps its evidence; the check is no refutation here
    assert checks(doc)["test_accuracy_expected_refutation"]["expected"].startswith("established")
    # "what to provide" lists what this machine lacks, not what this run left out
    assert '<section id="missing">' not in html


def test_k_subset_under_xdist_gives_the_same_verdicts(project):
    run(project, "-k", "verified or a_beats_b")
    serial_doc, _ = report(project)
    result = project.runpytest_subprocess("-n", "2", "-k", "verified or a_beats_b")
    result.stdout.fnmatch_lines(["*partial run: 10 checks not executed*"])
    parallel_doc, html = report(project)

    def verdicts(doc: dict) -> list:
        return [(claim["id"], claim["verdict"], claim["reason"],
                 [(c["nodeid"], c["verdict"], c["executed"], c["outcome"]) for c in claim["checks"]])
                for claim in doc["claims"]]

    assert verdicts(parallel_doc) == verdicts(serial_doc)
    assert parallel_doc["environment"]["xdist_workers"] == 2
    assert claims(parallel_doc)["order"]["verdict"] == "inconclusive"  # 2 of 4 ran, both verified
    assert claims(parallel_doc)["arch"]["verdict"] == "inconclusive"
    assert_partial(parallel_doc, html, set(checks(parallel_doc)) - {
        "test_layers_verified[<img src=x onerror=alert(2)>]", "test_a_beats_b[None]", "test_a_beats_b[comparable]"},
        deselected=True)


STOP_SUITE = """
import numpy as np
import pytest

from pytest_claims import Measurement


def beats():
    u = np.random.default_rng(0).random(3000)
    return u < 0.90, u < 0.80


@pytest.mark.claim("order")
def test_first_ordering(claim_check):
    claim_check.ordering(*beats(), "eval")


@pytest.mark.claim("arch")
def test_refuted(claim_check):
    claim_check.value(Measurement(13), __import__("types").SimpleNamespace(
        value=12, std=None, unit="", table="Table 1", row="ViT-Base", column="Layers"), "exact", "architecture")


@pytest.mark.claim("order")
def test_second_ordering(claim_check):
    claim_check.ordering(*beats(), "eval", margin="comparable")
"""


def test_full_run_of_a_suite_verifies_what_holds(project):
    project.path.joinpath("claims", "test_stop.py").write_text(STOP_SUITE, encoding="utf-8")
    # A full run is one over the configured testpaths: make the stop module the whole suite.
    project.makepyprojecttoml(PYPROJECT.replace('testpaths = ["claims"]', 'testpaths = ["claims/test_stop.py"]'))
    result = run(project)
    result.assert_outcomes(passed=2, failed=1)
    doc, html = report(project)
    assert claims(doc)["order"]["verdict"] == "verified" and doc["run"]["partial"] is False
    assert "partial run" not in html and "partial run" not in result.stdout.str()


@pytest.mark.parametrize("stop", [["-x"], ["--maxfail=1"]])
def test_a_run_stopped_early_lists_what_did_not_run(project, stop):
    project.path.joinpath("claims", "test_stop.py").write_text(STOP_SUITE, encoding="utf-8")
    result = run(project, "claims/test_stop.py", *stop)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*partial run: 1 check not executed*",
                                 "*not executed: claims/test_stop.py::test_second_ordering*"])
    doc, html = report(project)
    order = claims(doc)["order"]
    assert order["verdict"] == "inconclusive" and order["reason"] == "1 of 2 testable checks verified; 1 not run"
    assert claims(doc)["arch"]["verdict"] == "refuted"  # what did run still counts
    assert_partial(doc, html, {"test_second_ordering"}, deselected=False)


def test_an_interrupted_run_lists_what_did_not_run(project):
    project.path.joinpath("claims", "test_stop.py").write_text(
        STOP_SUITE.replace('claim_check.value(Measurement(13)', 'raise KeyboardInterrupt\n    claim_check.value(Measurement(13)'),
        encoding="utf-8")
    result = project.runpytest_subprocess("claims/test_stop.py")  # in-process, the interrupt would reach us
    assert result.ret == pytest.ExitCode.INTERRUPTED
    doc, html = report(project)
    assert claims(doc)["order"]["verdict"] == "inconclusive"
    assert claims(doc)["arch"]["verdict"] == "not_run"
    assert_partial(doc, html, {"test_refuted", "test_second_ordering"}, deselected=False)


def test_collection_errors_keep_any_claim_from_being_verified(project):
    project.path.joinpath("claims", "test_stop.py").write_text(STOP_SUITE, encoding="utf-8")
    project.path.joinpath("claims", "test_broken.py").write_text("raise ImportError('no such module')\n",
                                                                  encoding="utf-8")
    result = run(project, "claims/test_stop.py", "claims/test_broken.py", "--continue-on-collection-errors")
    result.stdout.fnmatch_lines(["*partial run: 1 test module failed or was skipped at collection*"])
    doc, html = report(project)
    order = claims(doc)["order"]
    assert order["verdict"] == "inconclusive" and order["reason"].startswith("all 2 testable checks verified, but 1 ")
    assert doc["run"]["partial"] is True and doc["run"]["not_executed"] == 0
    assert "partial run: 1 test module failed" in html


def test_complete_records_marks_crashes_as_errors_and_the_rest_not_executed():
    from pytest_claims.assemble import NO_RECORD, build_claims, complete_records
    from pytest_claims.records import CheckRecord

    ran = CheckRecord("c", "t1", "m::t1", "value", "verified", "ok", outcome="passed")
    collected = [{"nodeid": f"m::t{i}", "claim": "c", "id": f"t{i}", "selected": i != 3, "expected": None}
                 for i in (1, 2, 3)]
    out = {r.nodeid: r for r in complete_records({"m::t1": ran}, collected, {"m::t2": "worker 'gw0' crashed"})}
    assert out["m::t1"] is ran
    assert (out["m::t2"].verdict, out["m::t2"].executed) == ("error", True)
    assert out["m::t2"].reason == f"{NO_RECORD}: worker 'gw0' crashed"
    assert (out["m::t3"].verdict, out["m::t3"].executed, out["m::t3"].outcome) == ("not_run", False, "deselected")
    assert CheckRecord.from_json(out["m::t3"].to_json()) == out["m::t3"]
    assert CheckRecord.from_json({k: v for k, v in ran.to_json().items() if k != "executed"}).executed is True
    [claim] = build_claims(None, [ran], caveat="a module failed to collect")
    assert (claim.verdict, claim.reason) == ("inconclusive",
                                             "its one testable check verified, but a module failed to collect")


# -- checks that cannot refute ---------------------------------------------------------------------

CANNOT_REFUTE_SUITE = """
import numpy as np
import pytest

from pytest_claims import Measurement

pytestmark = pytest.mark.claim("order")
WHY = "B is a substitute checkpoint biased against A"
LAYERS = __import__("types").SimpleNamespace(value=12, std=None, unit="", table="Table 1", row="ViT-Base",
                                              column="Layers")


def worse():
    u = np.random.default_rng(0).random(3000)
    return u < 0.80, u < 0.90  # A is wrong wherever B is, and on 10 % more: contradicts "A better"


def test_ordering_cannot_refute(claim_check):
    claim_check.ordering(*worse(), "eval", a_label="ViT", b_label="CNN", cannot_refute=WHY)


def test_ordering_refutes(claim_check):
    claim_check.ordering(*worse(), "eval", a_label="ViT", b_label="CNN")


def test_ordering_verified_with_cannot_refute(claim_check):
    a, b = worse()
    claim_check.ordering(b, a, "eval", a_label="ViT", b_label="CNN", cannot_refute=WHY)


def test_scores_cannot_refute(claim_check):
    a = np.random.default_rng(1).normal(size=200)
    claim_check.ordering_scores(a - 0.5, a, "mean", "probe", n_resamples=999, cannot_refute=WHY)


def test_value_cannot_refute(claim_check):
    claim_check.value(Measurement(13), LAYERS, "exact", "architecture", cannot_refute="shortened recipe")


def test_blank_cannot_refute(claim_check):
    claim_check.value(Measurement(13), LAYERS, "exact", "architecture", cannot_refute="  ")
"""


def test_a_check_that_cannot_refute_ends_inconclusive_with_its_reason(project):
    project.path.joinpath("claims", "test_cannot.py").write_text(CANNOT_REFUTE_SUITE, encoding="utf-8")
    result = run(project, "claims/test_cannot.py", "-rs")
    result.assert_outcomes(passed=1, skipped=3, failed=2)
    why = "B is a substitute checkpoint biased against A"
    result.stdout.fnmatch_lines([f"*inconclusive: *; not counted as a refutation: {why}*"])
    by_id = checks(report(project)[0])
    limited = by_id["test_ordering_cannot_refute"]
    refuted = by_id["test_ordering_refutes"]  # the same data without cannot_refute: the check can fail
    assert (refuted["verdict"], refuted["outcome"]) == ("refuted", "failed")
    assert (limited["verdict"], limited["outcome"]) == ("inconclusive", "skipped")
    assert limited["reason"] == f"{refuted['reason']}; not counted as a refutation: {why}"
    assert limited["rule"]["rule_verdict"] == "refuted" and limited["rule"]["cannot_refute"] == why
    assert "rule_verdict" not in refuted["rule"]
    verified = by_id["test_ordering_verified_with_cannot_refute"]
    assert verified["verdict"] == "verified" and verified["rule"]["rule_verdict"] == "verified"
    for cid, text in (("test_scores_cannot_refute", why), ("test_value_cannot_refute", "shortened recipe")):
        c = by_id[cid]
        assert c["verdict"] == "inconclusive" and c["reason"].endswith(f"; not counted as a refutation: {text}")
        assert c["rule"]["rule_verdict"] == "refuted"
    blank = by_id["test_blank_cannot_refute"]
    assert blank["verdict"] == "error" and "cannot_refute must be None or a non-empty reason" in blank["reason"]


def test_a_run_restricted_to_some_files_verifies_no_claim(project):
    project.path.joinpath("claims", "test_stop.py").write_text(STOP_SUITE, encoding="utf-8")
    result = run(project, "claims/test_stop.py")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*partial run: *restricted to claims/test_stop.py*narrower than*testpaths*"])
    doc, _ = report(project)
    order = claims(doc)["order"]
    assert order["verdict"] == "inconclusive" and "restricted to claims/test_stop.py" in order["reason"]
    assert doc["run"]["partial"] is True
