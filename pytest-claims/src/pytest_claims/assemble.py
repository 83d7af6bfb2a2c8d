"""Assemble the report document (``claims.json``) from the catalog and the collected records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .catalog import Catalog
from .config import Families
from .records import ERROR, INCONCLUSIVE, NOT_RUN, UNTESTABLE, VERDICTS, VERIFIED, CheckRecord, ClaimRecord

FORMAT = "pytest-claims/1"
NO_CHECK_COLLECTED = "no check collected"
NOT_EXECUTED = "not executed in this run (deselected with -k/-m or the run stopped early)"
NO_RECORD = "the test ended without a check record (e.g. its process crashed)"


def complete_records(records: Mapping[str, CheckRecord], collected: Iterable[Mapping[str, Any]] | None,
                     failures: Mapping[str, str] | None = None) -> list[CheckRecord]:
    """The records received, plus one for every collected claim-marked item that sent none.

    ``collected``: one entry per claim-marked item collected (deselected ones included), as written
    by the plugin at the end of collection: nodeid, claim, id, selected, expected. An item whose
    failed report carried no record (a crashed worker) is an error; any other is ``not_run`` with
    ``executed=False`` — its claim can then not be verified from the checks that did run.
    """
    failures = failures or {}
    out = dict(records)
    for entry in collected or ():
        nodeid = entry["nodeid"]
        if nodeid in out:
            continue
        common = {"claim": entry["claim"], "id": entry["id"], "nodeid": nodeid, "expected": entry.get("expected")}
        if nodeid in failures:
            text = f": {failures[nodeid]}" if failures[nodeid] else ""
            out[nodeid] = CheckRecord(kind="error", verdict=ERROR, reason=NO_RECORD + text, outcome="failed", **common)
        else:
            out[nodeid] = CheckRecord(kind="not_run", verdict=NOT_RUN, reason=NOT_EXECUTED, executed=False,
                                      outcome=None if entry.get("selected", True) else "deselected", **common)
    return list(out.values())


def build_claims(catalog: Catalog | None, records: Iterable[CheckRecord],
                 order: Mapping[str, int] | None = None, caveat: str | None = None,
                 families: Families = ()) -> list[ClaimRecord]:
    """Every catalog claim (in catalog order) with its checks (in collection order) and verdict.

    ``caveat`` says why the checks received may be incomplete in a way no record shows (collection
    errors, a collection never reported): it turns every claim that would be verified or untestable
    into inconclusive, so no claim is verified — nor called untestable, i.e. never checkable with
    public material — from what may be a subset of its checks. A refuted check counts against its claim only
    if it survives Holm's correction over the claim's decided checks (``pytest_claims.familywise``; each check
    records it in ``claim_level``). ``families``: ``[tool.claims.families]``;
    each claim then also carries its verdict per family of evidence (``pytest_claims.families``).
    """
    from .families import family_verdicts
    from .familywise import annotate, claim_verdict

    order = order or {}
    by_claim: dict[str, list[CheckRecord]] = {}
    for rec in records:
        by_claim.setdefault(rec.claim, []).append(rec)
    claims = []
    known = list(catalog.claims) if catalog else []
    # Records of ids missing from the catalog cannot happen after collection checks, but a report
    # must never drop evidence: list them after the catalog's claims.
    extra = [cid for cid in by_claim if cid not in {c.id for c in known}]
    for entry in known + extra:
        cid = entry if isinstance(entry, str) else entry.id
        checks = annotate(sorted(by_claim.get(cid, []), key=lambda r: (order.get(r.nodeid, len(order)), r.nodeid)))
        if checks:
            verdict, reason = claim_verdict(checks)
            if caveat and verdict in (VERIFIED, UNTESTABLE):
                verdict, reason = INCONCLUSIVE, f"{reason}, but {caveat}"
        else:
            verdict, reason = NOT_RUN, NO_CHECK_COLLECTED
        by_family = family_verdicts(checks, families)
        if isinstance(entry, str):
            claims.append(ClaimRecord(cid, cid, "(claim id not in the catalog)", "", verdict, reason, tuple(checks),
                                      families=by_family))
        else:
            claims.append(ClaimRecord(entry.id, entry.title, entry.statement, entry.source, verdict, reason,
                                      tuple(checks), entry.alternates, entry.notes, by_family))
    return claims


def summarize(claims: list[ClaimRecord]) -> dict[str, Any]:
    checks = [c for claim in claims for c in claim.checks]
    return {
        "claims": {v: sum(c.verdict == v for c in claims) for v in VERDICTS},
        "checks": {v: sum(c.verdict == v for c in checks) for v in VERDICTS},
        "expected_refutations": sum(c.expected is not None and c.verdict == "refuted" for c in checks),
        "not_executed": sum(not c.executed for c in checks),
        "n_claims": len(claims),
        "n_checks": len(checks),
    }


def run_block(records: Iterable[CheckRecord], caveat: str | None = None,
              selection: Mapping[str, Any] | None = None, configuration: Mapping[str, Any] | None = None,
              durations: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Whether the report covers every collected check: ``partial`` with what did not run, and why;
    the ``configuration`` that makes runs comparable; each check's ``durations`` (seconds, all phases)."""
    records = list(records)
    not_executed = [r.nodeid for r in records if not r.executed]
    durations = durations or {}
    return {
        "partial": bool(not_executed or caveat),
        "not_executed": len(not_executed),
        "not_executed_checks": not_executed,
        "caveat": caveat,
        "selection": dict(selection or {}),
        "configuration": dict(configuration or {}),
        "durations": {r.nodeid: round(durations[r.nodeid], 3) for r in records if r.nodeid in durations},
    }


def build_document(catalog: Catalog | None, records: Iterable[CheckRecord], environment: Mapping[str, Any],
                   order: Mapping[str, int] | None = None, caveat: str | None = None,
                   selection: Mapping[str, Any] | None = None, configuration: Mapping[str, Any] | None = None,
                   durations: Mapping[str, float] | None = None, families: Families = ()) -> dict[str, Any]:
    records = list(records)
    claims = build_claims(catalog, records, order, caveat, families)
    ordered = [c for claim in claims for c in claim.checks]
    document = {
        "format": FORMAT,
        "run": run_block(ordered, caveat, selection, configuration, durations),
        "summary": summarize(claims),
        "environment": dict(environment),
        "claims": [c.to_json() for c in claims],
        "appendix": [t.to_json() for t in catalog.appendix] if catalog else [],
    }
    if catalog is not None and catalog.paper:  # the catalog's [paper]: absent where the catalog has none
        document["paper"] = dict(catalog.paper)
    return document

