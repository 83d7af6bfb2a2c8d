"""The paper's running text against its own tables: consistency checks of the paper's arithmetic, not reproductions.

§4.6 (self-supervision): "our smaller ViT-B/16 model achieves 79.9% accuracy on ImageNet, a significant improvement
of 2% to training from scratch, but still 4% behind supervised pre-training." The differences are recomputed from
the printed cells and judged against the stated whole percents (tolerance ``text_whole_percent``, ±0.5 pt):

* training from scratch — ViT-B/16 trained on ImageNet alone, Table 5 "ImageNet / ImageNet" (pre-trained on
  ImageNet and fine-tuned on it at higher resolution, footnote 2): the only printed ViT-B/16 ImageNet accuracy
  without other data;
* supervised pre-training — ViT-B/16 supervised on JFT-300M (Table 5 "JFT-300M / ImageNet", the data the
  self-supervised model was pre-trained on, App. B.1.2) and, the other reading, on ImageNet-21k (Table 5
  "ImageNet-21k / ImageNet").

§4.4: "Third, Vision Transformers appear not to saturate within the range tried" — Table 6's ViT with the most
pre-training compute against the ViT with the next most, on Figure 5's two panels (Average-5 over ImageNet,
CIFAR-10, CIFAR-100, Pets and Flowers; ImageNet), as printed (Table 6 has no ±): still more accurate is read as
not (yet) saturated.
"""

from __future__ import annotations

import pytest

import paper
from claims.consistency import CONSISTENCY_TIER, cells
from pytest_claims import Measurement, Plan, Summary

SELF_SUPERVISED = paper.number(table="Section 4.6", column="ImageNet")
AVERAGE_5 = ("imagenet", "cifar10", "cifar100", "pets", "flowers102")  # Figure 5's "Average-5", as compute-efficiency
# (reading, Table 5 row, sign): the stated difference is sign × (79.9 − that cell)
SECTION46 = {
    "gain_over_scratch-imagenet": ("gain over training from scratch", "ImageNet / ImageNet", 1),
    "gap_to_supervised-jft300m": ("gap to supervised pre-training", "JFT-300M / ImageNet", -1),
    "gap_to_supervised-imagenet21k": ("gap to supervised pre-training", "ImageNet-21k / ImageNet", -1),
}


def stated_difference(self_supervised: float, other: float, sign: int) -> float:
    """The difference the text states, recomputed from the printed cells: sign × (self-supervised − other)."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 (a gain) or -1 (a gap), got {sign!r}")
    return sign * (self_supervised - other)


@pytest.mark.claim("self-supervision")
@pytest.mark.parametrize("reading", sorted(SECTION46))
def test_section46_differences_match_the_tables(claim_check, reading) -> None:
    column, row, sign = SECTION46[reading]
    stated = paper.number(table="Section 4.6", column=column)
    other = paper.number(table="Table 5", row=row, model="ViT-B/16")
    value = stated_difference(SELF_SUPERVISED.value, other.value, sign)
    how = "79.9 − cell" if sign == 1 else "cell − 79.9"
    measured = Measurement(value=value, method=(f"{how}: {SELF_SUPERVISED.label} ({SELF_SUPERVISED.value:g} %) and "
                                                f"{other.label} ({other.value:g} %), as printed; percentage points"),
                           extra=cells(SELF_SUPERVISED, other))
    plan = Plan(kind="value", tier=CONSISTENCY_TIER, tolerance="text_whole_percent",
                description=f"§4.6's stated difference ({reading}) recomputed from {SELF_SUPERVISED.label} and "
                            f"{other.label} as printed, against {stated.label}")
    claim_check.value(measured=measured, paper=stated, tolerance="text_whole_percent", tier=CONSISTENCY_TIER,
                      details={"reading": reading, "table5_row": row}, plan=plan)


def _vit_rows_by_compute() -> list[paper.PaperNumber]:
    rows = [n for n in paper.numbers(table="Table 6", metric="exaflops") if n.model.startswith("ViT-")]
    return sorted(rows, key=lambda n: n.value)


def _accuracy(row: str, datasets: tuple[str, ...]) -> tuple[float, list[paper.PaperNumber]]:
    numbers = [paper.number(table="Table 6", row=row, dataset=d, metric="top1") for d in datasets]
    return sum(n.value for n in numbers) / len(numbers), numbers


@pytest.mark.claim("vit-no-saturation")
@pytest.mark.parametrize("panel", ["average_5", "imagenet"])
def test_vit_with_most_compute_still_more_accurate_in_table6(claim_check, panel) -> None:
    datasets = AVERAGE_5 if panel == "average_5" else ("imagenet",)
    *_, second, top = _vit_rows_by_compute()
    top_acc, top_cells = _accuracy(top.row, datasets)
    second_acc, second_cells = _accuracy(second.row, datasets)
    label = "Average-5" if panel == "average_5" else "ImageNet"
    claim_check.ordering_summary(
        Summary(top_acc), Summary(second_acc), tier=CONSISTENCY_TIER,
        a_label=f"{top.row} {label} ({top.value:g} exaFLOPs)", b_label=f"{second.row} {label} ({second.value:g} exaFLOPs)",
        details={**cells(top, second, *top_cells, *second_cells), "vit_rows_by_compute": [
            {"row": n.row, "exaflops": n.value, label: _accuracy(n.row, datasets)[0]} for n in _vit_rows_by_compute()]},
        description=(f"Table 6 as printed: the ViT with the most pre-training compute ({top.row}) more accurate "
                     f"({label}) than the ViT with the next most ({second.row}); a tie as printed would read as "
                     f"saturated"))
