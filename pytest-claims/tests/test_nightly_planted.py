"""Mistakes planted in the nightly's comparisons that once survived ``tests/`` (issue 18, item 14), each pinned by
a value known by hand. (The merge's two — no "collected different checks" caveat, a conflict judged on the verdict
alone — are in test_plugin_merge.py.)"""

from __future__ import annotations

import math

import pytest

from pytest_claims.changes import compare, moved
from pytest_claims.summary import Summary, summary_ordering_rule


def _row(value, low=None, high=None, verdict="verified", executed=True, nodeid="t.py::t"):
    return {"nodeid": nodeid, "claim": "c", "check": "t", "verdict": verdict, "executed": executed,
            "measured_value": value, "measured_low": low, "measured_high": high}


# -- changes.moved: a move needs each value outside the other's interval ----------------------------------------

@pytest.mark.parametrize("before, after, expected", [
    (_row(10, 9, 11), _row(11.5, 8, 15), False),  # after outside before's interval, before inside after's: no move
    (_row(11.5, 8, 15), _row(10, 9, 11), False),  # the same, the other way round
    (_row(10, 9, 11), _row(12.5, 12, 13), True),  # each outside the other's
    (_row(10), _row(10.1), True),  # no interval: any change counts
    (_row(10), _row(10.0 + 1e-12), False),  # the same number through JSON is not a move
])
def test_a_value_moved_only_when_each_run_lies_outside_the_others_interval(before, after, expected):
    assert moved(before, after) is expected


# -- changes.compare: a check the later run did not execute says nothing ---------------------------------------

def test_a_deselected_check_is_neither_a_flip_nor_gone():
    before = {"t.py::t": _row(10, 9, 11)}
    after = {"t.py::t": _row(None, verdict="not_run", executed=False)}
    assert compare(before, after) == {"flips": [], "new": [], "gone": [], "moved": []}
    executed_not_run = {"t.py::t": _row(None, verdict="not_run")}  # executed, found its input missing: a flip
    [flip] = compare(before, executed_not_run)["flips"]
    assert (flip["before"], flip["after"], flip["regression"]) == ("verified", "not_run", True)


# -- summary_ordering_rule: one-sided non-inferiority uses the one-sided t quantile ------------------------------
# a = 10 ± 1 (n=4), b = 9 ± 1 (n=4): se² = 1/4 + 1/4 = 0.5, Welch df = 0.5² / (2 · (1/4)² / 3) = 6;
# t(0.95, 6) = 1.943 (tables), so at alpha 0.05 the one-sided lower bound is 1 − 1.943 · √0.5 = −0.374;
# the two-sided quantile t(0.975, 6) = 2.447 would give −0.730.

A, B = Summary(10.0, 1.0, 4), Summary(9.0, 1.0, 4)


def test_printed_means_non_inferiority_uses_the_one_sided_welch_quantile():
    outcome = summary_ordering_rule(A, B, alpha=0.05, margin=0.5)
    rule = outcome.rule
    assert rule["df"] == pytest.approx(6.0)
    assert rule["se"] == pytest.approx(math.sqrt(0.5))
    assert rule["low"] == pytest.approx(1 - 1.9432 * math.sqrt(0.5), abs=1e-3)
    assert rule["confidence_two_sided"] == pytest.approx(0.90)
    assert outcome.verdict == "verified"  # −0.374 > −0.5; with the two-sided quantile (−0.730) it would not be


def test_printed_means_strict_ordering_uses_the_two_sided_welch_quantile():
    rule = summary_ordering_rule(A, B, alpha=0.05).rule
    assert rule["low"] == pytest.approx(1 - 2.4469 * math.sqrt(0.5), abs=1e-3)
    assert rule["confidence_two_sided"] == pytest.approx(0.95)
