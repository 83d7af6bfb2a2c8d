"""Table 1: the ViT variants' layers, hidden size D, MLP size, heads and parameter counts.

Table 1 rows name a width (Base / Large / Huge), not a patch size; we count the models the paper
uses most with each width: ViT-B/16, ViT-L/16 and ViT-H/14 (Tables 2 and 5), built by timm with
random weights on the meta device at the pre-training resolution, 224 px (Appendix B.1).

Parameters: Table 1 does not say whether a classification head is included, so the measurement is
the interval [no head, with a 1000-class ImageNet head]; position embeddings for 224 px (197 tokens
for /16, 257 for /14) are included, no pre-logits layer. A printed "86M" is matched within the
rounding tolerance ``params_rounding``. The counts come from the ``table1_counts`` fixture
(``measure.studies.table1``): counted once, then read from ``--claims-cache``.
"""

from __future__ import annotations

import pytest

import paper
from measure.models.architectures import spec
from measure.studies.table1 import Table1Counts
from pytest_claims import Measurement, Plan

pytestmark = pytest.mark.claim("table1-variants")

TIER = "architecture (timm, counted from the built module)"
# The model counted for each Table 1 row (the width's most used patch size in the paper).
COUNTED_MODEL = {"ViT-Base": "ViT-B/16", "ViT-Large": "ViT-L/16", "ViT-Huge": "ViT-H/14"}
UNIT_SCALE = {"M": 1e6}

# Established: no counting convention gives 307M for ViT-L/16 (see the reason); keep the check, expect it.
EXPECTED_REFUTED = {
    ("ViT-Large", "params"): (
        "Table 1 prints 307M for ViT-Large; the ViT-L/16 built from Table 1's own widths (24 × D=1024, "
        "MLP 4096, 16 heads; same in google-research/vision_transformer get_l16_config) has 303.3M "
        "parameters without head and 304.3M with a 1000-class head (timm reports 304.3M too). 307M matches "
        "ViT-L/32 with a 1000-class head (306.5M; 305.5M without: its 32×32 patch embedding is 2.4M "
        "larger), so the printed count is most likely that of ViT-L/32, not ViT-L/16."
    ),
}


def _cases() -> list:
    rows = sorted(paper.numbers(table="Table 1"), key=lambda n: (n.row, n.metric))
    cases = []
    for n in rows:
        marks = ()
        if (n.row, n.metric) in EXPECTED_REFUTED:
            marks = pytest.mark.xfail(strict=True, reason=EXPECTED_REFUTED[(n.row, n.metric)])
        cases.append(pytest.param(n, id=f"{n.row}-{n.metric}", marks=marks))
    return cases


@pytest.mark.parametrize("printed", _cases())
def test_table1(claim_check, table1_counts: Table1Counts, printed: paper.PaperNumber) -> None:
    model = COUNTED_MODEL[printed.row]
    resolution = int(paper.number(table="Appendix B.1", column="pre-training resolution").value)
    facts = table1_counts.facts(model, img_size=resolution)
    how = f"{spec(model).built_as}, {facts.counted}"
    if printed.metric == "params":
        if printed.unit not in UNIT_SCALE:
            raise ValueError(f"unexpected unit {printed.unit!r} for {printed.label}; known: {sorted(UNIT_SCALE)}")
        scale = UNIT_SCALE[printed.unit]
        low, high = facts.params_no_head / scale, facts.params_head_1k / scale
        measured = Measurement(
            value=low, low=low, high=high,
            method=f"parameters counted with numel: [no head, 1000-class head] in {printed.unit}; {how}",
            extra={"params_no_head": facts.params_no_head, "params_head_1k": facts.params_head_1k,
                   "position_embeddings": facts.tokens, "resolution": resolution},
        )
        tolerance = "params_rounding"
    else:
        value = getattr(facts, printed.metric)
        measured = Measurement(value=value, method=f"{printed.metric} read from the module's blocks; {how}")
        tolerance = "exact"
    plan = Plan(kind="value", tier=TIER, tolerance=tolerance,
                description=f"{printed.metric} of {model} counted from the built model, against {printed.label}")
    claim_check.value(measured=measured, paper=printed, tolerance=tolerance, tier=TIER,
                      details={"model": model}, plan=plan)
