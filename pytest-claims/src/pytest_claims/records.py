"""The plain, JSON-safe records every check ends as; the report is rendered from these alone.

No numpy / scipy import here: this module is imported by every pytest run (and every xdist worker)
through ``pytest_claims.Measurement``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

# Check verdicts: defined here, in the module that imports nothing heavy, and used by rules, checks and reports.
VERIFIED, REFUTED, INCONCLUSIVE = "verified", "refuted", "inconclusive"
UNTESTABLE, NOT_RUN, ERROR = "untestable", "not_run", "error"
VERDICTS = (VERIFIED, REFUTED, INCONCLUSIVE, UNTESTABLE, NOT_RUN, ERROR)
# How a verdict reads to a person (terminal, HTML, skip messages).
LABELS = {VERIFIED: "verified", REFUTED: "refuted", INCONCLUSIVE: "inconclusive",
          UNTESTABLE: "untestable", NOT_RUN: "not run", ERROR: "error"}


def json_safe(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON types (dict/list/str/int/float/bool/None).

    Records cross process boundaries under pytest-xdist and are written with ``allow_nan=False``, so
    numpy scalars/arrays are unwrapped and non-finite floats become None.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalar or array
        return json_safe(value.tolist(), where)
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(
        f"{where} = {value!r} ({type(value).__name__}) is not JSON-safe; records may hold only "
        f"numbers, strings, booleans, None, lists and dicts of those (convert it before recording)"
    )


def _opt_float(x: Any, name: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool):
        raise TypeError(f"{name} must be a number, got {x!r}")
    return float(x)


@dataclass(frozen=True)
class Source:
    """Where a number is printed in the paper, with the paper's own labels."""

    table: str
    row: str
    column: str

    def to_json(self) -> dict:
        return {"table": self.table, "row": self.row, "column": self.column}

    @classmethod
    def from_json(cls, d: Mapping) -> Source:
        return cls(table=d["table"], row=d["row"], column=d["column"])


@dataclass(frozen=True)
class PaperValue:
    """A number printed in the paper: value, its ± (if printed), unit and provenance."""

    value: float
    std: float | None
    unit: str
    source: Source
    # Decimal places as printed (0.27 → 2, 19.4 → 1, 18 → 0), where known: a tolerance's ``digits`` part counts
    # units of the last printed digit (pytest_claims.paper reads it from the numbers' text). None: not known.
    decimals: int | None = None

    @classmethod
    def of(cls, obj: Any) -> PaperValue:
        """Accept a PaperValue or anything with attributes value, std, unit, table, row, column (and optionally
        ``decimals``, the decimal places printed)."""
        if isinstance(obj, PaperValue):
            return obj
        missing = [a for a in ("value", "std", "unit", "table", "row", "column") if not hasattr(obj, a)]
        if missing:
            raise TypeError(
                f"paper={obj!r} lacks attribute(s) {missing}; pass a paper number with "
                f"value, std, unit, table, row, column (e.g. paper.number(table=..., row=..., column=...))"
            )
        return cls(
            value=float(obj.value),
            std=_opt_float(obj.std, "paper std"),
            unit=str(obj.unit or ""),
            source=Source(str(obj.table), str(obj.row), str(obj.column)),
            decimals=_decimals(getattr(obj, "decimals", None)),
        )

    def to_json(self) -> dict:
        out = {"value": json_safe(self.value), "std": json_safe(self.std), "unit": self.unit,
               "source": self.source.to_json()}
        if self.decimals is not None:  # only where known: records of papers without it keep their shape
            out["decimals"] = self.decimals
        return out

    @classmethod
    def from_json(cls, d: Mapping) -> PaperValue:
        return cls(value=d["value"], std=d.get("std"), unit=d.get("unit", ""),
                   source=Source.from_json(d["source"]), decimals=d.get("decimals"))


def _decimals(x: Any) -> int | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        raise ValueError(f"a paper value's decimals (places printed after the point) is an int >= 0, got {x!r}")
    return x


@dataclass(frozen=True)
class Measurement:
    """A measured number with its interval (e.g. Wilson 95 %), sample size and how it was measured.

    ``method`` is free text; the report splits it at "; " and says a part (40 characters or more) that several
    checks of one table share once, as a numbered note: separate the parts shared across checks with "; " (and
    avoid "; " inside a part that should stay whole)."""

    value: float
    low: float | None = None
    high: float | None = None
    n: int | None = None
    method: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "value": json_safe(self.value, "measured.value"),
            "low": json_safe(self.low, "measured.low"),
            "high": json_safe(self.high, "measured.high"),
            "n": json_safe(self.n, "measured.n"),
            "method": str(self.method),
            "extra": json_safe(dict(self.extra), "measured.extra"),
        }

    @classmethod
    def from_json(cls, d: Mapping) -> Measurement:
        return cls(value=d["value"], low=d.get("low"), high=d.get("high"), n=d.get("n"),
                   method=d.get("method", ""), extra=dict(d.get("extra") or {}))


# The kinds of decided check (the methods of ClaimCheck that judge); a Plan names one of them.
VALUE, ORDERING, ORDERING_SCORES = "value", "ordering", "ordering_scores"
PLAN_KINDS = (VALUE, ORDERING, ORDERING_SCORES)
ORDERING_KINDS = (ORDERING, ORDERING_SCORES)


def _text(value: Any, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        absent = "None or " if optional else ""
        raise ValueError(f"{name} must be {absent}a non-empty string, got {value!r}")
    return value.strip()


@dataclass(frozen=True)
class Plan:
    """What a check checks, decided or not: its kind, the evidence tier it needs, and for an ordering
    the two sides and the margin (None: "A better than B"), for a value check the tolerance.

    ``margin`` and ``tolerance`` are names of ``[tool.claims]``; ``margin_value`` and
    ``tolerance_value`` are filled from there when the plan is recorded (leave them unset).
    The paper cell of a value check is the record's ``paper``, not part of the plan."""

    kind: str
    tier: str
    description: str | None = None
    a_label: str | None = None
    b_label: str | None = None
    margin: str | None = None
    tolerance: str | None = None
    margin_value: float | None = None
    tolerance_value: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in PLAN_KINDS:
            raise ValueError(f"plan kind must be one of {', '.join(PLAN_KINDS)}, got {self.kind!r}")
        set_ = functools.partial(object.__setattr__, self)  # frozen: normalise in place once
        set_("tier", _text(self.tier, "tier"))
        set_("description", _text(self.description, "description", optional=True))
        set_("margin", _text(self.margin, "margin", optional=True))
        set_("tolerance", _text(self.tolerance, "tolerance", optional=True))
        if self.kind in ORDERING_KINDS:
            if self.a_label is None or self.b_label is None:
                raise ValueError(f"an {self.kind} plan names both sides: a_label and b_label are required, "
                                 f"got a_label={self.a_label!r}, b_label={self.b_label!r}")
            set_("a_label", _text(self.a_label, "a_label"))
            set_("b_label", _text(self.b_label, "b_label"))
            if self.tolerance is not None:
                raise ValueError(f"an {self.kind} plan takes a margin, not a tolerance (got tolerance={self.tolerance!r})")
        else:
            extra = {k: getattr(self, k) for k in ("a_label", "b_label", "margin") if getattr(self, k) is not None}
            if extra:
                raise ValueError(f"a value plan compares with the paper's number through a tolerance; "
                                 f"sides and margins are for orderings (got {extra})")
        set_("margin_value", _opt_float(self.margin_value, "plan margin_value"))
        if self.tolerance_value is not None:
            set_("tolerance_value", {str(k): float(v) for k, v in self.tolerance_value.items()})

    def to_json(self) -> dict:
        return {"kind": self.kind, "tier": self.tier, "description": self.description,
                "a": self.a_label, "b": self.b_label,
                "margin": self.margin, "margin_value": json_safe(self.margin_value, "plan.margin_value"),
                "tolerance": self.tolerance,
                "tolerance_value": json_safe(None if self.tolerance_value is None else dict(self.tolerance_value),
                                             "plan.tolerance_value")}

    @classmethod
    def from_json(cls, d: Mapping) -> Plan:
        return cls(kind=d["kind"], tier=d["tier"], description=d.get("description"), a_label=d.get("a"),
                   b_label=d.get("b"), margin=d.get("margin"), tolerance=d.get("tolerance"),
                   margin_value=d.get("margin_value"), tolerance_value=d.get("tolerance_value"))


@dataclass(frozen=True)
class CheckRecord:
    """One check = one test item. ``outcome`` is pytest's outcome (passed, failed, skipped, xfailed,
    xpassed, error); ``expected`` holds the evidence of an established refutation (xfail strict);
    ``needs`` (not run only) lists each thing to provide on its own, so reports can group by it.
    ``plan`` says what the check checks (every decided check has one; untestable / not run ones when
    the test gave one).
    ``executed`` is False for a collected check that never ran in this run (deselected, or the run
    stopped early): the controller adds it with verdict not_run, so no claim is judged on a subset.
    ``references`` are independent measurements of the same quantity (``{"source", "value", "setting", ...}``),
    shown beside the paper's value; they never enter the verdict.
    ``claim_level`` (filled when the claim is assembled, ``pytest_claims.familywise``): whether a refutation
    counts at the claim level after Holm's correction over the claim's decided checks, and at which level."""

    claim: str
    id: str
    nodeid: str
    kind: str
    verdict: str
    reason: str
    tier: str = ""
    expected: str | None = None
    paper: PaperValue | None = None
    measured: Measurement | None = None
    rule: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    needs: tuple[str, ...] = ()
    executed: bool = True
    plan: Plan | None = None
    references: tuple[Mapping[str, Any], ...] = ()
    claim_level: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_json(self) -> dict:
        return {
            "claim": self.claim,
            "id": self.id,
            "nodeid": self.nodeid,
            "kind": self.kind,
            "verdict": self.verdict,
            "reason": self.reason,
            "tier": self.tier,
            "expected": self.expected,
            "paper": None if self.paper is None else self.paper.to_json(),
            "measured": None if self.measured is None else self.measured.to_json(),
            "rule": json_safe(dict(self.rule), "rule"),
            "details": json_safe(dict(self.details), "details"),
            "outcome": self.outcome,
            "needs": list(self.needs),
            "executed": bool(self.executed),
            "plan": None if self.plan is None else self.plan.to_json(),
            "references": json_safe([dict(r) for r in self.references], "references"),
            "claim_level": json_safe(dict(self.claim_level), "claim_level"),
        }

    @classmethod
    def from_json(cls, d: Mapping) -> CheckRecord:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["paper"] = None if d.get("paper") is None else PaperValue.from_json(d["paper"])
        kw["measured"] = None if d.get("measured") is None else Measurement.from_json(d["measured"])
        kw["rule"] = dict(d.get("rule") or {})
        kw["details"] = dict(d.get("details") or {})
        kw["needs"] = tuple(d.get("needs") or ())  # absent in reports written before the field existed
        kw["executed"] = bool(d.get("executed", True))  # likewise
        kw["plan"] = None if d.get("plan") is None else Plan.from_json(d["plan"])  # likewise
        kw["references"] = tuple(dict(r) for r in d.get("references") or ())  # likewise
        kw["claim_level"] = dict(d.get("claim_level") or {})  # likewise
        return cls(**kw)


@dataclass(frozen=True)
class Alternate:
    """Another wording of a claim's statement and where it comes from (shown "also stated as (source): …")."""

    source: str
    text: str

    def to_json(self) -> dict:
        return {"source": self.source, "text": self.text}

    @classmethod
    def from_json(cls, d: Mapping) -> Alternate:
        return cls(source=str(d["source"]), text=str(d["text"]))


# Reports written before alternates existed held at most one other wording, under this key; it is
# read back as an alternate whose source is the key's own words (the format, not a vocabulary).
_LEGACY_ALTERNATE_KEY = "seed_statement"


def alternates_json(claim: Mapping) -> list[dict]:
    """The ``alternates`` of a claim of ``claims.json``, also of a report written before they existed."""
    if claim.get("alternates"):
        return [Alternate.from_json(a).to_json() for a in claim["alternates"]]
    legacy = claim.get(_LEGACY_ALTERNATE_KEY)
    return [Alternate(_LEGACY_ALTERNATE_KEY.replace("_", " "), str(legacy)).to_json()] if legacy else []


@dataclass(frozen=True)
class ClaimRecord:
    """A catalog claim with its checks and the aggregated verdict."""

    id: str
    title: str
    statement: str
    source: str
    verdict: str
    reason: str
    checks: tuple[CheckRecord, ...] = ()
    alternates: tuple[Alternate, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)
    families: tuple[Mapping[str, Any], ...] = ()  # the verdict per family of evidence (pytest_claims.families)

    def counts(self) -> dict[str, int]:
        return {v: sum(c.verdict == v for c in self.checks) for v in VERDICTS}

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "source": self.source,
            "alternates": [a.to_json() for a in self.alternates],
            "notes": json_safe(dict(self.notes), "notes"),
            "verdict": self.verdict,
            "reason": self.reason,
            "counts": self.counts(),
            "families": json_safe([dict(f) for f in self.families], "families"),
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, d: Mapping) -> ClaimRecord:
        return cls(
            id=d["id"], title=d["title"], statement=d["statement"], source=d["source"],
            verdict=d["verdict"], reason=d["reason"],
            alternates=tuple(Alternate.from_json(a) for a in alternates_json(d)),
            notes=dict(d.get("notes") or {}),
            checks=tuple(CheckRecord.from_json(c) for c in d.get("checks", ())),
            families=tuple(dict(f) for f in d.get("families") or ()),  # absent in reports written before them
        )
