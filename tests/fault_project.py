"""A small claim suite on disk for the fault matrix (tests/test_faults.py), run as a user runs it: `pytest` in a
subprocess, on its own pyproject.toml, catalog and prediction cache.

Two claim modules, each one xdist worker's share under ``--dist loadfile``:

* ``test_listing.py`` (claim ``listing``): three untestable checks, one that can wait, two measured checks;
  the claim is testable, so a run that saw only the first three must never call it untestable;
* ``test_facts.py`` (claim ``facts``): six measured checks, one that can wait (or crash its worker), one more.

Every measured check reads its value through `measure.run.cache.ChunkCache` (one entry each, under
``FAULT_CACHE``) and logs each computation to ``marks/computed.log``, so a test can see what a rerun recomputed.
A waiting check writes ``marks/started-<name>`` (holding its process id) and waits for ``marks/release``:
tests act on markers, not on fixed sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 120  # the longest a test waits for a marker before it fails

PYPROJECT = """
[tool.pytest.ini_options]
testpaths = ["claims"]
# plugins the suite does not use, left out for a faster start of every run and worker
addopts = "-p no:cacheprovider -p no:hypothesispytest -p no:anyio -p no:split"

[tool.claims]
catalog = "claims.toml"
report_dir = "reports"

[tool.claims.tolerances]
exact = { abs = 0 }
"""

CATALOG = """
[[claims]]
id = "listing"
title = "A listing of printed numbers"
statement = "Most of these numbers cannot be checked with public material; two can."
source = "Table 9"

[[claims]]
id = "facts"
title = "Architecture facts"
statement = "Counted from the architectures."
source = "Table 1"
"""

HELPERS = '''
"""What the fault suite's checks share (see tests/fault_project.py)."""
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pytest_claims import Measurement

MARKS = Path(os.environ["FAULT_MARKS"])


def paper(value):
    return SimpleNamespace(value=value, std=None, unit="count", table="Table 1", row="fault suite", column=str(value))


def wait(name):
    """With `name` in FAULT_BLOCK (comma separated): say so in a marker and wait for marks/release;
    with FAULT_CRASH=name: end this process at once, as a segfault or the OOM killer would."""
    if os.environ.get("FAULT_CRASH") == name:
        os._exit(3)
    if name not in os.environ.get("FAULT_BLOCK", "").split(","):
        return
    (MARKS / f"started-{name}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 300
    while not (MARKS / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def hold_history_writes():
    """With FAULT_HOLD_HISTORY set: a write to the run history, once inside its transaction with rows
    written, says so in marks/started-history and waits there — the test's moment for kill -9."""
    if not os.environ.get("FAULT_HOLD_HISTORY"):
        return
    from pytest_claims import history

    connect = history.connect

    def held(path, **kwargs):
        conn = connect(path, **kwargs)

        def inside():
            if conn.in_transaction and conn.total_changes:
                (MARKS / "started-history").write_text(str(os.getpid()))
                time.sleep(300)
            return 0

        conn.set_progress_handler(inside, 50)
        return conn

    history.connect = held


def measured(name, value):
    """`value`, computed once into the prediction cache and read back from it afterwards."""
    from measure.run.cache import ChunkCache

    def compute(chunk):
        with open(MARKS / "computed.log", "a", encoding="utf-8") as log:
            log.write(name + "\\n")
        return {"value": np.array([float(value)])}

    entry = ChunkCache(os.environ["FAULT_CACHE"]).get_or_compute({"cell": name}, 1, compute)
    return Measurement(float(entry.arrays["value"][0]), method="counted, through the cache")
'''

LISTING = '''
import pytest

from claims.helpers import measured, paper, wait

pytestmark = pytest.mark.claim("listing")


@pytest.mark.parametrize("i", range(3))
def test_unpublished(claim_check, i):
    claim_check.untestable("JFT-300M weights are not public")


def test_listing_waits(claim_check):
    wait("listing")
    claim_check.untestable("JFT-300M weights are not public")


@pytest.mark.parametrize("name, value", [("listing-a", 12), ("listing-b", 24)])
def test_listing_measured(claim_check, name, value):
    claim_check.value(measured(name, value), paper(value), "exact", "count")
'''

FACTS = '''
import pytest

from claims.helpers import measured, paper, wait

pytestmark = pytest.mark.claim("facts")
CELLS = [("fact-a", 768), ("fact-b", 1024), ("fact-c", 1280), ("fact-d", 3072), ("fact-e", 4096), ("fact-f", 5120)]


@pytest.mark.parametrize("name, value", CELLS)
def test_fact(claim_check, name, value):
    claim_check.value(measured(name, value), paper(value), "exact", "count")


def test_fact_waits(claim_check):
    wait("facts")
    claim_check.value(measured("fact-waited", 32), paper(32), "exact", "count")


def test_fact_later(claim_check):
    claim_check.value(measured("fact-later", 16), paper(16), "exact", "count")
'''

ENTRIES = ("listing-a", "listing-b", "fact-a", "fact-b", "fact-c", "fact-d", "fact-e", "fact-f", "fact-waited",
           "fact-later")
QUICK = {"listing": ["test_unpublished[0]", "test_unpublished[1]", "test_unpublished[2]"],
         "facts": [f"test_fact[fact-{c}-{v}]" for c, v in zip("abcdef", (768, 1024, 1280, 3072, 4096, 5120))]}


def write_project(base: Path) -> Path:
    """The suite under `base` (created), with its marks/ and cache/ folders."""
    (base / "claims").mkdir(parents=True)
    (base / "marks").mkdir()
    (base / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (base / "claims.toml").write_text(CATALOG, encoding="utf-8")
    for name, text in (("__init__.py", ""), ("helpers.py", HELPERS), ("test_listing.py", LISTING),
                       ("test_facts.py", FACTS)):
        (base / "claims" / name).write_text(text, encoding="utf-8")
    return base


# Run in the child before pytest: SIGINT back to its default, then exec (a default disposition survives exec). A
# selftest started in the background of a non-interactive shell (`bin/selftest &`) inherits SIGINT ignored, Python
# then installs no KeyboardInterrupt handler, and a Ctrl-C test would wait out its timeout instead of testing what
# a user's Ctrl-C does.
SIGINT_AS_A_TERMINAL_HAS_IT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                               "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


class Run:
    """One `python -m pytest` of the suite in its folder; output collected as it comes."""

    def __init__(self, project: Path, *args: str, cache: Path | None = None,
                 command: tuple[str, ...] = ("-m", "pytest", "-v"), **env: str) -> None:
        self.project = project
        self.marks = project / "marks"
        for stale in [self.marks / "release", *self.marks.glob("started-*")]:  # an earlier run's markers
            stale.unlink(missing_ok=True)
        environ = {**os.environ, "FAULT_MARKS": str(self.marks), "FAULT_CACHE": str(cache or project / "cache"),
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                   "PYTHONIOENCODING": "utf-8", **env}
        self.process = subprocess.Popen([sys.executable, "-c", SIGINT_AS_A_TERMINAL_HAS_IT, *command, *args],
                                        cwd=project, env=environ,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        encoding="utf-8", start_new_session=True)
        self._chunks: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._chunks.append(line)

    @property
    def output(self) -> str:
        return "".join(self._chunks)

    def wait_until(self, ready, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not ready():
            if self.process.poll() is not None:
                raise AssertionError(f"pytest ended ({self.process.returncode}) before {what}:\n{self.output[-4000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"timed out waiting for {what}:\n{self.output[-4000:]}")
            time.sleep(0.02)

    def wait_for_waiting(self, *names: str, reported: int) -> None:
        """Until the checks `names` wait and the controller has printed `reported` results."""
        self.wait_until(lambda: all((self.marks / f"started-{n}").exists() for n in names)
                        and self.results() >= reported, f"{names} waiting and {reported} results reported")

    def results(self) -> int:
        return sum(" PASSED " in line or " SKIPPED " in line or " FAILED " in line for line in self.output.splitlines())

    def pid_of(self, name: str) -> int:
        return int((self.marks / f"started-{name}").read_text())

    def signal(self, signum: int, *, group: bool = False) -> None:
        if group:  # what Ctrl-C in a terminal does: every process of the run gets it
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def release(self) -> None:
        (self.marks / "release").write_text("")

    def finish(self) -> int:
        try:
            code = self.process.wait(timeout=WAIT_S)
        finally:
            self.kill()
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        """Whatever of this run is still alive (an orphaned worker included) is ended, and nothing waits."""
        self.release()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


HOLD_CONFTEST = "from claims.helpers import hold_history_writes\n\nhold_history_writes()\n"
MERGE = ("import sys; from claims.helpers import hold_history_writes; hold_history_writes(); "
         "from pytest_claims.__main__ import main; sys.exit(main(sys.argv[1:]))")


def run(project: Path, *args: str, **kwargs) -> tuple[int, str]:
    """A whole run: exit status and output."""
    started = Run(project, *args, **kwargs)
    return started.finish(), started.output


def report(project: Path, folder: str = "reports") -> dict:
    return json.loads((project / folder / "claims.json").read_text(encoding="utf-8"))


def checks(document: dict) -> dict[str, dict]:
    return {check["id"]: check for claim in document["claims"] for check in claim["checks"]}


def claims(document: dict) -> dict[str, dict]:
    return {claim["id"]: claim for claim in document["claims"]}


def computed(project: Path) -> list[str]:
    log = project / "marks" / "computed.log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []
