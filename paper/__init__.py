"""The paper (arXiv 2010.11929 v2) as data: its printed numbers, its claims, and where others misquote it.

Files next to this module (conventions and provenance in README.md):

* ``numbers.csv``            every number of Tables 1-9 (and a few from the text), one row per cell
* ``derived.csv``            values the paper implies but does not print, each with how it follows from what it prints
* ``claims.toml``            the claim catalog read by the ``pytest_claims`` plugin
* ``seed_discrepancies.csv`` where the seed documents disagree with the paper or with each other
* ``inconsistencies.csv``    where the paper disagrees with itself

Pure standard library, so the plugin, fixtures and tests can import it without torch. One module per job —
`paper.printed` (numbers.csv and the two discrepancy files), `paper.derived_values` (derived.csv), `paper.formula` (the
arithmetic of derived values), `paper.claim_catalog` (claims.toml), `paper.references` (references.csv) — and
everything public re-exported here: ``from paper import number, numbers, claim, derived, ...``.
"""

from __future__ import annotations

from paper.claim_catalog import CLAIMS_TOML, claim, claim_of_number, claims
from paper.derived_values import (
    DERIVED_COLUMNS,
    DERIVED_CSV,
    DERIVED_FIELD_NAMES,
    DerivedNumber,
    derived,
    derived_numbers,
    load_derived,
)
from paper.formula import evaluate_formula
from paper.printed import (
    DATASETS,
    FIELD_NAMES,
    HERE,
    INCONSISTENCIES_CSV,
    METRICS,
    MODELS,
    NUMBER_COLUMNS,
    NUMBERS_CSV,
    PRETRAININGS,
    SEED_DISCREPANCIES_CSV,
    PaperDataError,
    PaperNumber,
    as_dict,
    discrepancies,
    inconsistencies,
    number,
    numbers,
)
from paper.references import Reference, references

__all__ = [
    "CLAIMS_TOML",
    "DATASETS",
    "DERIVED_COLUMNS",
    "DERIVED_CSV",
    "DERIVED_FIELD_NAMES",
    "FIELD_NAMES",
    "HERE",
    "INCONSISTENCIES_CSV",
    "METRICS",
    "MODELS",
    "NUMBERS_CSV",
    "NUMBER_COLUMNS",
    "PRETRAININGS",
    "SEED_DISCREPANCIES_CSV",
    "DerivedNumber",
    "PaperDataError",
    "PaperNumber",
    "Reference",
    "as_dict",
    "claim",
    "claim_of_number",
    "claims",
    "derived",
    "derived_numbers",
    "discrepancies",
    "evaluate_formula",
    "inconsistencies",
    "load_derived",
    "number",
    "numbers",
    "references",
]

