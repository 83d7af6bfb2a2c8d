"""The controller side of a run: gather records from test reports, write the report, summarise.

Registered only on the process that owns the session (never on an xdist worker), so the report is
written once, from JSON-safe data that arrived through ``report.user_properties``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import threading
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


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


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
        self.terminated: str | None = None  # the signal that ended the run early (SIGTERM from a CI runner)
        self.finishing = False  # the report is being written: a signal now must not cut it in half
        self.previous_sigterm = None
        self.worker_pids: list[int] = []  # xdist workers started by this controller (ended on SIGTERM)
        self.cannot_compare: str | None = None  # why this run cannot be compared with its history
        self.gate_failed: str | None = None  # why --claims-fail-on failed the run without a change to show
        self.claim_collection_problems = 0  # of those, modules inside the suite's testpaths
        self.stale: str | None = None  # the earlier report this run marked as not current (no claim check ran)

    # -- signals -----------------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """SIGTERM (a CI runner's timeout or cancel) ends the run as Ctrl-C does: pytest then finishes the session,
        xdist stops its workers, and the report and history keep every check that finished (a partial run)."""
        if threading.current_thread() is threading.main_thread():
            self.previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame) -> None:
        if self.terminated is None:
            self.terminated = "SIGTERM"
        if not self.finishing:
            self._stop_workers()
            raise KeyboardInterrupt("SIGTERM")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodeready(self, node) -> None:
        popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)  # execnet's popen gateway
        if getattr(popen, "pid", None):
            self.worker_pids.append(popen.pid)

    def _stop_workers(self) -> None:
        """End the xdist workers now: a CI runner gives a few seconds between SIGTERM and SIGKILL, which the report
        needs, not a worker finishing its test (xdist's own teardown waits up to 10 s for each). A worker's test in
        progress had not finished: it is listed as not executed, like every test not yet started."""
        for pid in self.worker_pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def pytest_unconfigure(self) -> None:
        if self.previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.previous_sigterm)
            self.previous_sigterm = None
        remove_folder(self.collected_dir)

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

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        output = getattr(node, "workeroutput", None) or {}
        if self.collected is None and WORKEROUTPUT_KEY in output:  # every worker collects the same items
            self.collected = list(output[WORKEROUTPUT_KEY])

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.passed:  # a module that failed (or was skipped) at collection hides its checks
            self.collection_problems += 1
            if report.failed and self._in_testpaths(report.nodeid):
                self.claim_collection_problems += 1

    def _in_testpaths(self, nodeid: str) -> bool:
        root = self.config.rootpath
        testpaths = [(root / p).resolve() for p in self.config.getini("testpaths")]
        where = (root / nodeid.split("::")[0]).resolve()
        return not testpaths or any(t == where or t in where.parents for t in testpaths)

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

    def check_fail_on(self) -> None:
        """``--claims-fail-on`` with no history to compare with would pass having checked nothing."""
        fail_on = self.config.getoption("claims_fail_on")
        history = (self.config.getoption("claims_history") or "").strip().lower()
        if fail_on and (history == "none" or self.config.getoption("claims_no_report")):
            given = "--claims-history none" if history == "none" else "--claims-no-report"
            raise pytest.UsageError(f"pytest-claims: --claims-fail-on {fail_on} compares this run with the run history, "
                                    f"which {given} turns off; drop one of the two")

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
        self.finishing = True  # from here a SIGTERM is noted, not raised: the report must be written whole
        if self.terminated:
            self.problems.append(f"the run was ended by {self.terminated} (a CI runner's timeout or cancel); "
                                 f"every check that finished is kept, the rest are listed as not executed")
        if not self.records:
            self._no_claim_check_ran()
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
        try:
            environment = collect_environment(self.config, self.settings, len(self.workers),
                                              self._project_hook("pytest_claims_environment", "environment"))
        except TypeError as exc:  # a value the project added is not JSON-safe
            self.problems.append(f"the project's environment left out: {exc}")
            environment = collect_environment(self.config, self.settings, len(self.workers), [])
        configuration = self._configuration()
        self.document = build_document(catalog, records, environment, self.order, caveat, self._selection(),
                                       configuration, self.durations, self.settings.families)
        sections = self._project_hook("pytest_claims_sections", "report sections", document=self.document)
        try:
            self.document["sections"] = collect_sections(sections)
        except SectionError as exc:  # the verdicts are still reported; the project's sections are not
            self.document["sections"] = []
            self.problems.append(f"report sections left out: {exc}")
        if self.config.getoption("claims_no_report"):
            return
        self._note_problems()
        self._compare_with_history(session)
        self._note_problems()
        self._write()

    def _project_hook(self, name: str, what: str, **kwargs) -> list:
        """A project hook's results. Its exception (a bug, a malformed data file) is a problem the report
        names — never one that loses the checks that ran."""
        try:
            return getattr(self.config.hook, name)(config=self.config, **kwargs)
        except Exception as exc:  # noqa: BLE001 — any bug of a project hook must end in the report, not lose the run
            self.problems.append(f"{what} left out: the project's {name} raised {type(exc).__name__}: {exc}")
            return []

    def _configuration(self) -> dict:
        """The run's configuration; where the project cannot say it, one no other run has, so this run is
        compared with none (and ``--claims-fail-on`` fails: it cannot compare)."""
        before = len(self.problems)
        found = self._project_hook("pytest_claims_configuration", "run configuration")
        configuration = None
        if len(self.problems) == before:
            try:
                configuration = collect_configuration(found)
            except TypeError as exc:  # a value that is not JSON-safe
                self.problems.append(f"run configuration left out: {exc}")
        if configuration is None:
            self.cannot_compare = "the run's configuration is unknown (the project's hook failed)"
            return {"unknown": _now()}
        return configuration

    def _note_problems(self) -> None:
        if self.document is not None and self.problems:
            self.document["run"]["problems"] = list(self.problems)

    def _write(self) -> None:
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

    def _no_claim_check_ran(self) -> None:
        """A run that executed no claim check but was about claims (``-k nothing``, every claim module failing to
        collect, e.g. on a catalog error) marks the report it leaves behind as stale: the earlier report no longer
        describes the code, and must not look current. A run of no claim test at all (unit tests) leaves it alone."""
        collected, _ = self._collection()
        if not collected and not self.claim_collection_problems:
            return
        if self.config.getoption("claims_no_report"):
            return
        json_path = self._report_dir() / "claims.json"
        if not json_path.is_file():
            return
        why = ("no claim check was executed: " + ("every collected check was deselected" if collected else
               f"{self.claim_collection_problems} claim module(s) failed at collection"))
        from .report import render

        try:
            document = json.loads(json_path.read_text(encoding="utf-8"))
            document["stale"] = {"timestamp": _now(),
                                 "reason": why, "problems": list(self.problems)}
            write_json(document, json_path)
            render(json_path, json_path.parent / "index.html")
        except (OSError, ValueError) as exc:
            self.unwritten = f"the earlier claims report {json_path} could not be marked stale ({exc}); it is NOT current"
            return
        self.stale = f"{why}; the claims report {json_path.parent / 'index.html'} is an earlier run's, now marked stale"

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
            self._cannot_compare(session, f"the history {path} cannot be used ({exc})")
            return
        self.alerts = alerts(history["changes"], self.config.getoption("claims_fail_on"))
        if self.cannot_compare:
            self._cannot_compare(session, self.cannot_compare)
        elif self.alerts and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _cannot_compare(self, session: pytest.Session, why: str) -> None:
        """``--claims-fail-on`` is a gate: one that cannot compare fails, it never passes having checked nothing."""
        fail_on = self.config.getoption("claims_fail_on")
        if not fail_on:
            return
        self.gate_failed = f"--claims-fail-on {fail_on}: cannot compare this run with its history, so it fails: {why}"
        self.problems.append(self.gate_failed)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    # -- terminal ----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        if self.document is None:
            if self.stale or self.unwritten:
                tr.section("claims")
                for problem in self.problems:
                    tr.write_line(problem, yellow=True)
                tr.write_line(self.stale or self.unwritten, red=True, bold=True)
            return
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
            tr.write_line(problem, **({"red": True, "bold": True} if problem == self.gate_failed else {"yellow": True}))
        if self.unwritten:
            tr.write_line(self.unwritten, red=True, bold=True)
        elif self.html_path is not None:
            tr.write_line(f"claims report: {self.html_path} (data: {self.json_path})")
        else:
            tr.write_line("claims report not written (--claims-no-report)")
