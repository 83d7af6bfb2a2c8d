"""Reconcile a claim test's pytest outcome with its recorded check, on the process that ran it.

Runs inside ``pytest_runtest_makereport`` (after pytest's xfail handling), so every claim-marked
item ends with exactly one record — also when it errored, skipped, or returned without judging
anything — and a claim test that returned without a check fails instead of passing silently.
"""

from __future__ import annotations

import dataclasses

import pytest

from .check import RECORD_KEY, expected_refutation, store
from .records import (
    ERROR,
    INCONCLUSIVE,
    NOT_RUN,
    REFUTED,
    UNTESTABLE,
    VERIFIED,
    CheckRecord,
)

NO_CHECK = (
    "the test returned without recording a check; call claim_check.value / ordering / ordering_draws / "
    "ordering_scores / ordering_summary, or claim_check.untestable(reason) / claim_check.not_run(reason)"
)

# pytest outcomes that agree with each verdict (refuted under xfail(strict) is "xfailed").
_CONSISTENT = {
    VERIFIED: {"passed", "xpassed"},
    REFUTED: {"failed", "xfailed"},
    INCONCLUSIVE: {"skipped"},
    UNTESTABLE: {"skipped"},
    NOT_RUN: {"skipped"},
    ERROR: {"failed", "error"},
}


def outcome_label(report: pytest.TestReport) -> str:
    """passed / failed / skipped / xfailed / xpassed, and error for failures outside the call."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed and isinstance(report.longrepr, str) and report.longrepr.startswith("[XPASS(strict)]"):
        return "xpassed"
    if report.failed and report.when != "call":
        return "error"
    return report.outcome


def report_text(report: pytest.TestReport) -> str:
    """The one-line gist of a failure or skip (the exception message, the skip reason)."""
    lr = report.longrepr
    if lr is None:
        return ""
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (path, lineno, "Skipped: reason")
        text = str(lr[2])
        return text.removeprefix("Skipped: ")
    crash = getattr(lr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    lines = [ln for ln in str(lr).splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _fail(report: pytest.TestReport, message: str) -> None:
    report.outcome = "failed"
    report.longrepr = message
    if hasattr(report, "wasxfail"):
        del report.wasxfail


def _new(item: pytest.Item, claim_id: str, kind: str, verdict: str, reason: str, outcome: str) -> CheckRecord:
    return CheckRecord(claim=claim_id, id=item.name, nodeid=item.nodeid, kind=kind, verdict=verdict,
                       reason=reason, expected=expected_refutation(item), outcome=outcome)


def reconcile(item: pytest.Item, claim_id: str, report: pytest.TestReport) -> None:
    """Update the item's record (and the report) for one phase of a claim-marked test."""
    record = item.stash.get(RECORD_KEY, None)
    label = outcome_label(report)
    text = report_text(report)

    if report.when == "setup":
        if report.failed:
            store(item, _new(item, claim_id, "error", ERROR, f"setup failed: {text}", "error"))
        elif report.skipped:
            store(item, _new(item, claim_id, "not_run", NOT_RUN, f"skipped before the test ran: {text}", label))
    elif report.when == "call":
        if record is None:
            if label in ("passed", "xpassed"):
                _fail(report, f"claim test {item.nodeid}: {NO_CHECK}")
                store(item, _new(item, claim_id, "error", ERROR, NO_CHECK, "failed"))
            elif label == "xfailed":  # a crash is not the expected refutation
                _fail(report, f"claim test {item.nodeid} is marked xfail(strict) as an expected refutation "
                              f"but raised before recording a check: {text}")
                store(item, _new(item, claim_id, "error", ERROR, f"raised before recording a check: {text}", "failed"))
            elif label == "skipped":
                store(item, _new(item, claim_id, "not_run", NOT_RUN, f"skipped by the test: {text}", label))
            else:
                store(item, _new(item, claim_id, "error", ERROR, text or "the test failed", label))
        elif label in _CONSISTENT[record.verdict]:
            store(item, dataclasses.replace(record, outcome=label))
        else:
            if report.passed:
                _fail(report, f"claim test {item.nodeid}: recorded {record.verdict} but the test passed")
                label = "failed"
            why = f": {text}" if text else ""
            store(item, dataclasses.replace(
                record, verdict=ERROR, outcome=label,
                reason=f"recorded {record.verdict} ({record.reason}) but the test ended {label}{why}",
            ))
    elif report.when == "teardown":
        if record is None:  # the body never ran (e.g. --setup-plan)
            store(item, _new(item, claim_id, "not_run", NOT_RUN, "the test body did not run", label))
        elif report.failed and record.verdict != ERROR:
            store(item, dataclasses.replace(
                record, verdict=ERROR, outcome="error",
                reason=f"teardown failed after recording {record.verdict} ({record.reason}): {text}",
            ))
    report.user_properties = list(item.user_properties)
