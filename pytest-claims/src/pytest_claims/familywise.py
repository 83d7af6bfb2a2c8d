"""Claim-level error control: which refutations count once a claim's checks are taken together.

A claim is tested by many checks, and each ordering rule refutes a true "A better than B" in up to α of runs; a
claim of 134 such checks would be refuted by chance in most runs if any one refutation counted. So a refutation
counts at the claim level only if it survives Holm's (1979) step-down correction over the claim's checks that
could refute at α:

* the family: every decided check (verified, refuted or inconclusive) whose rule is a test at α — it records
  ``rule["refute_p"]``, the p-value of its refutation direction (below α iff the check refuted on its own) — and
  that was not barred from refuting (``cannot_refute``). Which checks those are depends on the evidence plan,
  never on the outcome; a check that was not run, errored or is untestable is not in it.
* with the family's p-values sorted p_(1) ≤ … ≤ p_(m), the check of rank k counts iff its Holm-adjusted p-value
  is below α, i.e. p_(j) < α / (m − j + 1) for every j ≤ k. This holds the chance that a true claim is refuted
  at all to α whatever the dependence between the checks (Holm 1979); Bonferroni (α / m for every check) does
  too but refutes less.
* a refuted check whose rule is not a test at α (``refute_p`` None: a value inside or outside a tolerance band,
  printed numbers compared as printed) has no sampling error to correct for: its refutation counts as it
  stands, and it takes no place in the family.

Each check keeps its own verdict; ``annotate`` adds a ``claim_level`` entry (the family size, its rank, p-value,
Holm-adjusted p-value, the level α / (m − k + 1) it was held to and whether its refutation counts). A refuted
check whose refutation does not count is read as inconclusive by the claim rule, and the claim's reason says so.
Verification needs no correction: a claim is verified only if every testable check is. The same applies to each
family of evidence (``pytest_claims.families``), over the family's own checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from .records import INCONCLUSIVE, REFUTED, VERIFIED, CheckRecord

__all__ = ["METHOD", "annotate", "claim_verdict", "counted", "family_alpha", "in_family", "refute_p"]

METHOD = "holm"
_DECIDED = (VERIFIED, REFUTED, INCONCLUSIVE)


def refute_p(check: CheckRecord) -> float | None:
    """The check's refutation p-value, or None where its rule is not a test at α (or the record predates it)."""
    p = (check.rule or {}).get("refute_p")
    return None if p is None else float(p)


def in_family(check: CheckRecord) -> bool:
    """Whether the check takes a place in its claim's Holm family (see the module docstring)."""
    return (check.verdict in _DECIDED and refute_p(check) is not None
            and not (check.rule or {}).get("cannot_refute"))


def family_alpha(checks: Iterable[CheckRecord]) -> float | None:
    """The α the family's rules were judged at (the smallest, should a claim mix them); None without a family."""
    alphas = [float(c.rule["alpha"]) for c in checks if in_family(c) and c.rule.get("alpha") is not None]
    return min(alphas) if alphas else None


def annotate(checks: Sequence[CheckRecord], alpha: float | None = None) -> tuple[CheckRecord, ...]:
    """``checks`` with ``claim_level`` filled in: Holm over those ``in_family`` at ``alpha`` (default: theirs)."""
    from .stats import holm_adjusted

    members = [i for i, c in enumerate(checks) if in_family(c)]
    alpha = family_alpha(checks) if alpha is None else float(alpha)
    adjusted = holm_adjusted([refute_p(checks[i]) for i in members]) if members else []
    ranks = sorted(range(len(members)), key=lambda j: (refute_p(checks[members[j]]), j))
    rank_of = {members[j]: r + 1 for r, j in enumerate(ranks)}
    m = len(members)
    out = []
    for i, check in enumerate(checks):
        if i in rank_of:
            k, adj = rank_of[i], float(adjusted[members.index(i)])
            level = {"method": METHOD, "alpha": alpha, "family_size": m, "rank": k, "refute_p": refute_p(check),
                     "holm_p": adj, "adjusted_alpha": alpha / (m - k + 1),
                     "counts": check.verdict == REFUTED and adj < alpha}
        elif check.verdict == REFUTED:
            why = ("its rule may not refute here (cannot_refute)" if check.rule.get("cannot_refute") else
                   "its rule is not a test at α (a tolerance band or printed numbers), so there is no chance "
                   "refutation to correct for" if "refute_p" in (check.rule or {}) else
                   "the record carries no refutation p-value (written before claim-level correction)")
            level = {"method": METHOD, "alpha": alpha, "family_size": m, "counts": True, "adjusted_alpha": None,
                     "uncorrected": why}
        else:
            level = {}
        out.append(dataclasses.replace(check, claim_level=level))
    return tuple(out)


def claim_verdict(checks: Sequence[CheckRecord]) -> tuple[str, str]:
    """The claim rule (``rules.aggregate_claim``) on annotated checks: a refutation that does not count at the
    claim level is read as inconclusive, and the reason says how many did not survive the correction."""
    from .rules import aggregate_claim

    drop = [c.verdict == REFUTED and not (c.claim_level or {}).get("counts", True) for c in checks]
    dropped = [c for c, d in zip(checks, drop) if d]
    verdicts = [INCONCLUSIVE if d else c.verdict for c, d in zip(checks, drop)]
    verdict, reason = aggregate_claim(verdicts)
    if not dropped:
        return verdict, reason
    level = dropped[0].claim_level
    smallest = min(c.claim_level["holm_p"] for c in dropped)
    note = (f"{len(dropped)} refuted check{'s' if len(dropped) > 1 else ''} not counted: "
            f"{'none survives' if len(dropped) > 1 else 'it does not survive'} Holm–Bonferroni over "
            f"{level['family_size']} decided checks at α={level['alpha']:g} (smallest adjusted p {smallest:.3g})")
    return verdict, f"{reason}; {note}"


def counted(checks: Iterable[CheckRecord]) -> dict[str, Any]:
    """Node ids of the refutations that count and of those that do not (for a family's entry)."""
    refuted = [c for c in checks if c.verdict == REFUTED]
    return {"refutations_counted": [c.nodeid for c in refuted if (c.claim_level or {}).get("counts", True)],
            "refutations_not_counted": [c.nodeid for c in refuted if not (c.claim_level or {}).get("counts", True)]}
