"""The controller side of a run: gather records from test reports, write the report, summarise.

Registered only on the process that owns the session (never on an xdist worker), so the report is
written once, from JSON-safe data that arrived through ``report.user_properties``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .assemble import build_document, complete_records
from .catalog import Catalog, CatalogError
from .check import RECORD_PROPERTY
from .collected import WORKERINPUT_KEY, make_folder, read_entries, remove_folder
from .config import ClaimsConfig
from .environment import collect_configuration, collect_environment
from .files import unwritable, write_json
from .junit import junit_user_properties
from .keys import COLLECTED_KEY, WORKEROUTPUT_KEY
from .outcomes import report_text
from .records import LABELS, CheckRecord
from .sections import SectionError, collect_sections
from .text import change_lines, partial_headline

LIST_AT_MOST = 20  # unexecuted checks named in the terminal; the report lists them all

_MARKUP = {"verified": {"green": True}, "refuted": {"red": True}, "error": {"purple": True},
           "inconclusive": {"yellow": True}}


class Controller:
    def __init__(self, config: pytest.Config, settings: ClaimsConfig, load_catalog: Callable[[], Catalog]) -> None:
        self.config = config
        self.settings = settings
        self.load_catalog = load_catalog
        self.records: dict[str, dict] = {}
        self.failures: dict[str, str] = {}  # failed reports of nodeids that carried no record
        self.collected: list[dict] | None = None  # from an xdist worker; serial runs use the stash
        self.collected_dir: Path | None = None  # where xdist workers write what they collected (collected.py)
        self.collection_problems = 0
        self.order: dict[str, int] = {}
        self.workers: set[str] = set()
        self.durations: dict[str, float] = {}  # seconds per nodeid, all phases (pytest-split balances shards by them)
        self.alerts: list[dict] = []  # the changes --claims-fail-on turns into a non-zero exit status
        self.document: dict | None = None
        self.json_path: Path | None = None
        self.html_path: Path | None = None
        self.problems: list[str] = []  # what the run could not do beside the verdicts, each said at the end
        self.unwritten: str | None = None  # why the report could not be written at the end

    # -- gathering ---------------------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:
            self.order = {item.nodeid: i for i, item in enumerate(session.items)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        if self.collected_dir is None:
            self.collected_dir = make_folder()
        node.workerinput[WORKERINPUT_KEY] = str(self.collected_dir)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        if not self.order:  # every worker collects the same ids in the same order
            self.order = {nodeid: i for i, nodeid in enumerate(ids)}
        if self.collected is None:  # known from now on, whatever happens to the workers later
            self.collected = read_entries(self.collected_dir, str(node.gateway.id))

    def pytest_unconfigure(self) -> None:
        remove_folder(self.collected_dir)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        output = getattr(node, "workeroutput", None) or {}
        if self.collected is None and WORKEROUTPUT_KEY in output:  # every worker collects the same items
            self.collected = list(output[WORKEROUTPUT_KEY])

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.passed:  # a module that failed (or was skipped) at collection hides its checks
            self.collection_problems += 1

    @pytest.hookimpl(tryfirst=True)  # before junitxml, which writes user_properties as they are then
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        recorded = False
        for name, value in report.user_properties:
            if name == RECORD_PROPERTY:
                # a later phase carries the reconciled record (as JSON text once junit_user_properties ran)
                self.records[report.nodeid] = json.loads(value) if isinstance(value, str) else value
                recorded = True
        # Every phase counts, setup too (a fixture doing the work is what pytest-split must balance), though only
        # the later phases carry the record.
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + (report.duration or 0.0)
        if recorded:
            report.user_properties = junit_user_properties(list(report.user_properties), RECORD_PROPERTY)
        if not recorded and report.failed and report.nodeid not in self.records:
            self.failures[report.nodeid] = report_text(report)  # e.g. xdist's report of a crashed worker
        gateway = getattr(getattr(report, "node", None), "gateway", None)  # set by xdist
        if gateway is not None:
            self.workers.add(str(gateway.id))

    # -- writing -----------------------------------------------------------------------------

    def check_report_dir(self) -> None:
        """A report folder that cannot be written is a usage error now, before any test runs — not a
        traceback after hours of them."""
        if self.config.getoption("claims_no_report") or getattr(self.config.option, "help", False):
            return
        folder = self._report_dir()
        problem = unwritable(folder)
        if problem:
            where = ("--claims-report-dir" if self.config.getoption("claims_report_dir")
                     else f"report_dir of [tool.claims] in {self.settings.where}")
            raise pytest.UsageError(f"pytest-claims: cannot write the claims report to {folder} ({where}): "
                                    f"{problem}; pass --claims-report-dir DIR naming a folder you can write, "
                                    f"or --claims-no-report")

    def _report_dir(self) -> Path:
        option = self.config.getoption("claims_report_dir")
        if option:
            return self.config.invocation_params.dir / Path(option).expanduser()
        return self.settings.report_dir

    def _collection(self) -> tuple[list[dict] | None, str | None]:
        """The claim-marked items collected (None if unknown) and a caveat where checks may be missing."""
        collected = self.config.stash.get(COLLECTED_KEY, None)  # serial: collected in this process
        if collected is None:
            collected = self.collected
        if collected is None:  # e.g. interrupted before the controller heard of any collection
            collected = read_entries(self.collected_dir)
        caveats = []
        if collected is None:
            caveats.append("the run ended before any worker reported the checks it collected, "
                           "so checks of this claim may not have run")
        if self.collection_problems:
            n = self.collection_problems
            caveats.append(f"{n} test module{'s' if n != 1 else ''} failed or {'were' if n != 1 else 'was'} "
                           f"skipped at collection, so checks of this claim may be missing")
        narrowed = self._narrower_than_testpaths()
        if narrowed:
            caveats.append(narrowed)
        return collected, "; ".join(caveats) or None

    def _narrower_than_testpaths(self) -> str | None:
        """A run given files or node ids inside the suite's ``testpaths`` never collects the checks of
        the other files, so it cannot show that a claim's checks are all there."""
        root = self.config.rootpath
        testpaths = [(root / p).resolve() for p in self.config.getini("testpaths")]
        if not testpaths:
            return None
        given = [(self.config.invocation_params.dir / str(a).split("::")[0]).resolve() for a in self.config.args]
        uncovered = [t for t in testpaths if not any(t == g or g in t.parents for g in given)]
        if not uncovered:
            return None
        names = ", ".join(str(a) for a in self.config.args)
        return (f"the run was restricted to {names}, narrower than the suite's testpaths "
                f"({', '.join(self.config.getini('testpaths'))}), so checks in other files were not collected")

    def _selection(self) -> dict:
        source = getattr(self.config, "args_source", None)
        return {"args": [str(a) for a in self.config.args],
                "source": getattr(source, "name", str(source)).lower(),
                "keyword": self.config.getoption("keyword", "") or "",
                "markexpr": self.config.getoption("markexpr", "") or "",
                "deselect": [str(d) for d in (self.config.getoption("deselect", None) or [])]}

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.records:  # no claim test ran: leave any earlier report alone
            return
        try:
            catalog = self.load_catalog()
        except CatalogError as exc:
            catalog = None
            self.problems.append(f"claim catalog unavailable, claims listed from records only: {exc}")
        collected, caveat = self._collection()
        if collected:
            self.order = {entry["nodeid"]: i for i, entry in enumerate(collected)}  # deselected ones too
        received = {nodeid: CheckRecord.from_json(d) for nodeid, d in self.records.items()}
        records = complete_records(received, collected, self.failures)
        extra = self.config.hook.pytest_claims_environment(config=self.config)
        environment = collect_environment(self.config, self.settings, len(self.workers), extra)
        configuration = collect_configuration(self.config.hook.pytest_claims_configuration(config=self.config))
        self.document = build_document(catalog, records, environment, self.order, caveat, self._selection(),
                                       configuration, self.durations, self.settings.families)
        try:
            self.document["sections"] = collect_sections(self.config.hook.pytest_claims_sections(
                config=self.config, document=self.document))
        except SectionError as exc:  # the verdicts are still reported; the project's sections are not
            self.document["sections"] = []
            self.problems.append(f"report sections left out: {exc}")
        if self.config.getoption("claims_no_report"):
            return
        self._compare_with_history(session)
        from .report import render

        report_dir = self._report_dir()
        self.json_path = report_dir / "claims.json"
        try:
            write_json(self.document, self.json_path)
            self.html_path = render(self.json_path, report_dir / "index.html")
        except OSError as exc:  # e.g. the folder went away or the disk filled up during a long run
            what = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            self.unwritten = (f"claims report NOT written to {report_dir} ({what}); the verdicts above are all "
                              f"this run leaves — free the folder or pass --claims-report-dir DIR next time")

    def _compare_with_history(self, session: pytest.Session) -> None:
        """Append this run to the history, note what changed, and apply --claims-fail-on."""
        from .changes import alerts
        from .history import HistoryError
        from .nightly import record_and_compare

        option = self.config.getoption("claims_history")
        if option and option.strip().lower() == "none":
            return
        path = (self.config.invocation_params.dir / Path(option).expanduser() if option
                else self._report_dir() / "history.sqlite")
        try:
            history = record_and_compare(self.document, path)
        except HistoryError as exc:  # the report is still written
            self.problems.append(f"history not written to {path}: {exc}")
            return
        self.alerts = alerts(history["changes"], self.config.getoption("claims_fail_on"))
        if self.alerts and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    # -- terminal ----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.document is None:
            return
        tr = terminalreporter
        tr.section("claims")
        for line, markup in change_lines(self.document.get("history"), self.config.getoption("claims_fail_on"),
                                         len(self.alerts)):
            tr.write_line(line, **markup)
        run = self.document.get("run") or {}
        headline = partial_headline(run)
        if headline:
            tr.write_line(headline, red=True, bold=True)
            names = run.get("not_executed_checks") or []
            for nodeid in names[:LIST_AT_MOST]:
                tr.write_line(f"  not executed: {nodeid}", yellow=True)
            if len(names) > LIST_AT_MOST:
                tr.write_line(f"  ... and {len(names) - LIST_AT_MOST} more (all listed in the report)", yellow=True)
        width = max((len(c["id"]) for c in self.document["claims"]), default=0)
        for claim in self.document["claims"]:
            verdict = claim["verdict"]
            expected = sum(c["verdict"] == "refuted" and c["expected"] is not None for c in claim["checks"])
            counts = ", ".join(f"{n} {LABELS.get(v, v)}" + (f" ({expected} expected)" if v == "refuted" and expected else "")
                               for v, n in claim["counts"].items() if n) or "no checks"
            tr.write(f"{LABELS.get(verdict, verdict):<13}", **_MARKUP.get(verdict, {}), bold=True)
            tr.write(f"{claim['id']:<{width}}  {counts}\n")
        for problem in self.problems:
            tr.write_line(problem, yellow=True)
        if self.unwritten:
            tr.write_line(self.unwritten, red=True, bold=True)
        elif self.html_path is not None:
            tr.write_line(f"claims report: {self.html_path} (data: {self.json_path})")
        else:
            tr.write_line("claims report not written (--claims-no-report)")
