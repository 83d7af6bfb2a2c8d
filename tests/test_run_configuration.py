"""The run configuration holds every option that changes what a check's evidence rests on (issue 18, item 3).

Runs are compared in the history only within one configuration; an evidence-changing option left out of it
makes a run with the option off look like a run of flips (``--claims-posemb-analogue``: 9 flips, "7 changes fail
this run"). The configuration is derived from the options' own declarations, and these tests enumerate them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.config.argparsing import Parser

from fixtures.environment import pytest_claims_configuration
from fixtures.options import EVIDENCE_KINDS, GROUP, OPTIONS
from pytest_claims.history import configuration_key, record_run

ROOT = Path(__file__).resolve().parents[1]


class Options:
    """What ``config.getoption`` answers: each option's default, some replaced."""

    def __init__(self, **given) -> None:
        self.values = {o.flag: ([] if o.action == "append" else o.default) for o in OPTIONS}
        self.values.update(given)

    def getoption(self, flag: str):
        return self.values[flag]


def _flags_of_the_group() -> set[str]:
    from fixtures import options

    parser = Parser()
    options.pytest_addoption(parser)
    return {name for option in parser.getgroup(GROUP).options for name in option.names()}


def test_every_option_of_the_suite_declares_whether_it_changes_evidence():
    assert _flags_of_the_group() == {o.flag for o in OPTIONS}
    assert all(o.evidence in EVIDENCE_KINDS for o in OPTIONS)
    with pytest.raises(TypeError):  # no default: an option cannot be added without deciding
        OPTIONS[0].__class__("--claims-new", help="x")


def _other_value(option, tmp_path: Path):
    if option.evidence == "folder":
        folder = tmp_path / option.configuration_key
        folder.mkdir()
        (folder / "x.bin").write_bytes(b"123")
        return str(folder)
    if option.evidence == "file":
        (tmp_path / "f.json").write_text("{}")
        return str(tmp_path / "f.json")
    if option.evidence == "checkpoints":
        (tmp_path / "w.pth").write_bytes(b"1")
        return [f"vit_b16={tmp_path / 'w.pth'}"]
    if option.action == "store_true":
        return True
    if option.type is int:
        return 7
    return "another"


@pytest.mark.parametrize("option", OPTIONS, ids=[o.flag for o in OPTIONS])
def test_an_option_changes_the_configuration_key_exactly_when_it_changes_evidence(option, tmp_path):
    default = configuration_key(pytest_claims_configuration(Options()))
    changed = configuration_key(pytest_claims_configuration(Options(**{option.flag: _other_value(option, tmp_path)})))
    assert (changed != default) == (option.evidence is not None)


def test_the_posemb_analogue_is_another_configuration():
    off = pytest_claims_configuration(Options())
    on = pytest_claims_configuration(Options(**{"--claims-posemb-analogue": True}))
    assert off["posemb_analogue"] is False and on["posemb_analogue"] is True
    assert configuration_key(off) != configuration_key(on)


def test_the_same_tiers_in_another_order_are_one_configuration():
    assert (pytest_claims_configuration(Options(**{"--claims-tier": "probe,eval"}))
            == pytest_claims_configuration(Options(**{"--claims-tier": "eval,probe"})))


# -- durations per configuration ----------------------------------------------------------------------------

def _document(configuration: dict, seconds: float, timestamp: str) -> dict:
    check = {"claim": "c", "id": "t", "nodeid": "claims/test_x.py::t", "verdict": "verified", "executed": True,
             "kind": "value", "reason": "", "expected": None}
    return {"run": {"partial": False, "configuration": configuration, "durations": {check["nodeid"]: seconds}},
            "environment": {"timestamp": timestamp, "git": {"commit": "abc", "dirty": False}},
            "summary": {}, "claims": [{"id": "c", "verdict": "verified", "reason": "", "checks": [check]}]}


def _durations(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_claims", "durations", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_durations_are_taken_from_runs_of_one_configuration_only(tmp_path):
    history = tmp_path / "history.sqlite"
    gpu, cpu = {"tiers": ["eval", "finetune"]}, {"tiers": ["analysis"]}
    record_run(history, _document(gpu, 701.0, "2026-01-01T00:00:00+00:00"))
    record_run(history, _document(cpu, 0.29, "2026-01-01T01:00:00+00:00"))  # later: "last recorded" would win
    with sqlite3.connect(history) as conn:
        assert conn.execute("SELECT COUNT(DISTINCT configuration_key) FROM runs").fetchone()[0] == 2
    done = _durations(history, "--out", tmp_path / "d.json")
    assert done.returncode == 2 and "of 2 configurations" in done.stderr and "--like REPORT" in done.stderr
    assert not (tmp_path / "d.json").exists()
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "claims.json").write_text(json.dumps(_document(gpu, 1.0, "x")), encoding="utf-8")
    done = _durations(history, "--like", tmp_path / "gpu", "--out", tmp_path / "d.json")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "d.json").read_text()) == {"claims/test_x.py::t": 701.0}
    done = _durations(history, "--configuration", configuration_key(cpu), "--out", tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text()) == {"claims/test_x.py::t": 0.29}
