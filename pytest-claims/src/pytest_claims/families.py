"""A claim's verdict per family of evidence (``[tool.claims.families]``): what each kind of evidence says.

A project names families of tiers — say ``consistency``, ``analysis``, ``eval`` — each by shell-style patterns of
the tier text its checks record. A check belongs to the first family one of whose patterns matches its tier (a
check that was not decided records none: its plan's tier is read instead); a check no pattern matches belongs to
``other``. Each family's checks are judged by the claim rule (``rules.aggregate_claim``, a refutation counting
only if it survives Holm's correction over the family's own decided checks: ``pytest_claims.familywise``), so a report can say at
a glance "the paper's own numbers agree; the public checkpoints were not run here". The claim's own verdict is
unchanged: it is judged on all its checks.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from .config import OTHER_FAMILY, Families
from .records import VERDICTS, CheckRecord


def family_of(check: CheckRecord, families: Families) -> str:
    """The family of ``check``: the first whose patterns match its tier (or its plan's), else ``other``."""
    tier = check.tier or (check.plan.tier if check.plan is not None else "")
    for name, patterns in families:
        if any(fnmatch.fnmatchcase(tier, pattern) for pattern in patterns):
            return name
    return OTHER_FAMILY


def family_verdicts(checks: Iterable[CheckRecord], families: Families) -> tuple[dict[str, Any], ...]:
    """Per family that has checks, in the configured order (``other`` last): its name, verdict, reason,
    the counts of its checks' verdicts and their node ids."""
    from .familywise import annotate, claim_verdict, counted

    if not families:
        return ()
    grouped: dict[str, list[CheckRecord]] = {}
    for check in checks:
        grouped.setdefault(family_of(check, families), []).append(check)
    order = [name for name, _ in families] + [OTHER_FAMILY]
    out = []
    for name in order:
        members = grouped.get(name)
        if not members:
            continue
        judged = annotate(members)  # Holm over the family's own decided checks
        verdict, reason = claim_verdict(judged)
        out.append({"family": name, "verdict": verdict, "reason": reason,
                    "counts": {v: sum(c.verdict == v for c in members) for v in VERDICTS},
                    "checks": [c.nodeid for c in members], **counted(judged)})
    return tuple(out)


def families_of_settings(settings: Mapping[str, Any] | None) -> Families:
    """The families a report's recorded ``[tool.claims]`` settings name (for re-judging shards in a merge)."""
    from .config import parse_families

    return parse_families((settings or {}).get("families", {}), "the shards' recorded [tool.claims.families]")
