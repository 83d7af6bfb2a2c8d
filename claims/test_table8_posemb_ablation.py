"""Table 8 (App. D.4): position-embedding ablation of ViT-B/16, ImageNet 5-shot linear accuracy.

"While there is a large gap between the performances of the model with no positional embedding and models with
positional embedding, there is little to no difference between different ways of encoding positional
information" — and §4.5: "hand-crafted 2D-aware embedding variants do not yield improvements".

The ablation models were never released and App. D.4 does not say on which data they were pre-trained: every
printed value is untestable. The sentence is read against the table (a consistency check, not a reproduction;
Table 8 prints no ±, so as printed): every variant with a position embedding above none; "little to no difference"
for every ordered pair of the seven variants with a position embedding, each better than or comparable to the other
(margin `comparable_accuracy`, in the table's own unit, a fraction) — both directions, so a variant well below or
well above any other refutes. `test_no_variant_improves_on_the_default_in_table8` reads the pairs with the default
1-D embedding first (§4.5: "hand-crafted 2D-aware embedding variants do not yield improvements");
`test_position_embeddings_comparable_in_table8` every other ordered pair. The small from-scratch analogue on digits is claims/test_table8_posemb_analogue.py (with
--claims-posemb-analogue).
"""

from __future__ import annotations

import pytest

import paper
from claims.consistency import CONSISTENCY_TIER, cells, summary
from pytest_claims import Plan

pytestmark = pytest.mark.claim("posemb-ablation")

CELLS = paper.numbers(table="Table 8")
NONE = paper.number(table="Table 8", row="No Pos. Emb.", column="Default/Stem")
DEFAULT = paper.number(table="Table 8", row="1-D Pos. Emb.", column="Default/Stem")
WITH = [n for n in CELLS if n is not NONE]
OTHERS = [n for n in WITH if n is not DEFAULT]


def _id(n: paper.PaperNumber) -> str:
    return f"{n.row.split(' Pos.')[0].lower().rstrip('.')}-{n.column.lower().replace('/', '_').replace(' ', '_')}"


@pytest.mark.parametrize("number", CELLS, ids=[_id(n) for n in CELLS])
def test_table8_value(claim_check, number):
    claim_check.untestable(
        f"{number.label}: the ablation models of App. D.4 were never released, and the paper does not say on which "
        f"data they were pre-trained", paper=number,
        plan=Plan(kind="value", tier="the paper's position-embedding ablation models (never released)",
                  description=f"ViT-B/16 with {number.row} ({number.column}) ImageNet 5-shot linear accuracy against "
                              f"{number.label}"))


@pytest.mark.parametrize("variant", WITH, ids=[_id(n) for n in WITH])
def test_position_embedding_beats_none_in_table8(claim_check, variant):
    claim_check.ordering_summary(summary(variant), summary(NONE), tier=CONSISTENCY_TIER,
                                 a_label=f"{variant.row} ({variant.column})", b_label="No Pos. Emb.",
                                 details=cells(variant, NONE),
                                 description="Table 8: a model with this position embedding above the one without, "
                                             "as printed")


@pytest.mark.parametrize("variant", OTHERS, ids=[_id(n) for n in OTHERS])
def test_no_variant_improves_on_the_default_in_table8(claim_check, variant):
    claim_check.ordering_summary(summary(DEFAULT), summary(variant), tier=CONSISTENCY_TIER, margin="comparable_accuracy",
                                 a_label="1-D Pos. Emb. (Default/Stem)", b_label=f"{variant.row} ({variant.column})",
                                 details=cells(DEFAULT, variant),
                                 description="Table 8: the default 1-D position embedding better than or comparable to "
                                             "this variant (\"little to no difference\"), as printed")


ORDERED = [(a, b) for a in WITH for b in WITH if a is not b and a is not DEFAULT]


@pytest.mark.parametrize("a,b", ORDERED, ids=[f"{_id(a)}>={_id(b)}" for a, b in ORDERED])
def test_position_embeddings_comparable_in_table8(claim_check, a, b):
    claim_check.ordering_summary(summary(a), summary(b), tier=CONSISTENCY_TIER, margin="comparable_accuracy",
                                 a_label=f"{a.row} ({a.column})", b_label=f"{b.row} ({b.column})", details=cells(a, b),
                                 description="Table 8: this position embedding better than or comparable to the other "
                                             "(\"little to no difference\", read for every ordered pair), as printed")
