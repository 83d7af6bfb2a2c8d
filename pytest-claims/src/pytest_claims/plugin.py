"""The pytest hooks of pytest-claims (entry point ``claims``).

Workers (and a serial run) judge and record; the controller collects the JSON-safe records from
the test reports and, at the end, writes ``claims.json`` and renders ``index.html`` from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import collected
from .catalog import Catalog, CatalogError, load_catalog, unknown_claim_message
from .changes import FAIL_ON
from .check import ClaimCheck, expected_refutation
from .config import ClaimsConfigError, load_config
from .keys import ALL_ITEMS_KEY, CATALOG_KEY, COLLECTED_KEY, CONFIG_KEY, WORKEROUTPUT_KEY
from .outcomes import reconcile

MARKER_HELP = "claim(id): the paper claim this test supplies evidence for (an id of the claim catalog)"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims", "claim verification report (pytest-claims)")
    group.addoption("--claims-report-dir", default=None, metavar="DIR",
                    help="where to write claims.json and index.html (default: [tool.claims] report_dir, else reports)")
    group.addoption("--claims-no-report", action="store_true",
                    help="judge and summarise claims in the terminal, but write no report files (nor history)")
    group.addoption("--claims-history", default=None, metavar="PATH",
                    help="the run history (SQLite) this run is appended to and compared with "
                         "(default: history.sqlite in the report folder; 'none': keep no history)")
    group.addoption("--claims-config", default=None, metavar="PATH",
                    help="a TOML file whose [tool.claims] table configures this run (default: the pyproject.toml "
                         "pytest took as its ini file); its relative paths are read from its folder")
    group.addoption("--claims-fail-on", default=None, choices=FAIL_ON,
                    help="exit non-zero when, since the last comparable complete run, a verdict flipped (flip) "
                         "or a verified check is no longer verified (regression)")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    inipath = config.inipath if config.inipath and config.inipath.name == "pyproject.toml" else None
    chosen = config.getoption("--claims-config", None)
    if chosen is not None:
        inipath = Path(config.invocation_params.dir, chosen)
        if not inipath.is_file():
            raise pytest.UsageError(f"pytest-claims: --claims-config {chosen}: no such file ({inipath})")
    try:
        config.stash[CONFIG_KEY] = load_config(config.rootpath, inipath)
    except ClaimsConfigError as exc:
        raise pytest.UsageError(f"pytest-claims: {exc}") from None
    if not _is_worker(config):
        from .controller import Controller

        controller = Controller(config, config.stash[CONFIG_KEY], lambda: _catalog(config))
        controller.check_report_dir()
        controller.check_fail_on()
        config.pluginmanager.register(controller, "claims-controller")


def _catalog(config: pytest.Config) -> Catalog:
    if CATALOG_KEY not in config.stash:
        path = config.stash[CONFIG_KEY].catalog
        if path is None:
            raise CatalogError(
                "a test is marked @pytest.mark.claim but no claim catalog is configured; "
                "set catalog = \"path/to/claims.toml\" under [tool.claims] in pyproject.toml"
            )
        config.stash[CATALOG_KEY] = load_catalog(path)
    return config.stash[CATALOG_KEY]


def claim_id(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("claim")
    if mark is None:
        return None
    return mark.args[0] if len(mark.args) == 1 and isinstance(mark.args[0], str) else None


def _claim_problem(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("claim")
    if mark is None:
        return None
    if len(mark.args) != 1 or not isinstance(mark.args[0], str) or mark.kwargs:
        return f"{item.nodeid}: the claim marker takes exactly one catalog id, e.g. @pytest.mark.claim(\"table1-variants\")"
    try:
        catalog = _catalog(item.config)
    except CatalogError as exc:  # one message for the session, not one per marked test:
        if _is_worker(item.config):  # xdist shows a collection error text once, however many modules carry it
            return f"pytest-claims: {exc}"
        raise pytest.UsageError(f"pytest-claims: {exc}") from None
    if mark.args[0] not in catalog.ids:
        return f"{item.nodeid}: {unknown_claim_message(mark.args[0], catalog.ids, catalog.path)}"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """Turn a claim marker with an unknown id into a collection error of its module."""
    report = yield
    if report.passed:
        problems = [p for node in report.result if isinstance(node, pytest.Item)
                    for p in [_claim_problem(node)] if p]
        if problems:
            report.outcome = "failed"
            report.longrepr = "\n".join(dict.fromkeys(problems))
            report.result = []
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]):
    # Before any plugin deselects (-k, -m, --deselect, --lf, ...): every item collected, in order.
    config.stash[ALL_ITEMS_KEY] = list(items)
    return (yield)


@pytest.hookimpl(tryfirst=True)  # before xdist's worker tells the controller that collection is done
def pytest_collection_finish(session: pytest.Session) -> None:
    """Note every claim-marked item collected, selected or not, for the controller (serial: the stash;
    xdist: a file in the folder the controller named, and the worker's ``workeroutput``), which turns
    those that never report into not-executed checks — also when the run is interrupted or crashes."""
    config = session.config
    every = config.stash.get(ALL_ITEMS_KEY, None) or []
    selected = {id(item) for item in session.items}
    known = {id(item) for item in every}
    entries = []
    for item in every + [item for item in session.items if id(item) not in known]:
        cid = claim_id(item)
        if cid is not None:
            entries.append({"nodeid": item.nodeid, "claim": cid, "id": item.name,
                            "selected": id(item) in selected, "expected": expected_refutation(item)})
    config.stash[COLLECTED_KEY] = entries
    if _is_worker(config):
        config.workeroutput[WORKEROUTPUT_KEY] = entries
        folder = config.workerinput.get(collected.WORKERINPUT_KEY)
        if folder:
            collected.write_entries(folder, config.workerinput["workerid"], entries)


@pytest.fixture
def claim_check(request: pytest.FixtureRequest) -> ClaimCheck:
    """Judge this test's one measurement against the paper; see docs/PLUGIN.md."""
    item = request.node
    cid = claim_id(item)
    if cid is None:
        raise LookupError(
            f"{item.nodeid} uses claim_check but has no claim marker; add @pytest.mark.claim(\"<catalog id>\") "
            f"to the test or pytestmark = pytest.mark.claim(\"<catalog id>\") to its module"
        )
    return ClaimCheck(item, cid, item.config.stash[CONFIG_KEY])


@pytest.fixture(scope="session")
def paper_numbers(pytestconfig: pytest.Config):
    """The paper's printed numbers (``pytest_claims.paper.Numbers``) from ``[tool.claims] numbers``."""
    from .paper import load_numbers

    path = pytestconfig.stash[CONFIG_KEY].numbers
    if path is None:
        raise LookupError("the paper_numbers fixture reads [tool.claims] numbers = \"path/to/numbers.csv\", "
                          "which is not set")
    return load_numbers(path)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # tryfirst makes this the outermost wrapper: it sees the report after pytest's xfail handling.
    report = yield
    cid = claim_id(item)
    if cid is not None:
        reconcile(item, cid, report)
    return report
