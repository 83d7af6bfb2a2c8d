"""Tables 3, 7, 8 and 9 of paper/numbers.csv (App. B.1, D.1, D.4, D.10) and Table 2's run count.

Each test can fail on a transcription slip: a cell dropped or added, a value that no longer agrees with
the other table or the row it is printed beside, a mean that no longer is the mean of its row.
"""

from __future__ import annotations

import pytest

import paper

TABLE3_ROWS = ("ViT-B/{16,32} / JFT-300M", "ViT-L/32 / JFT-300M", "ViT-L/16 / JFT-300M", "ViT-H/14 / JFT-300M",
               "R50x{1,2} / JFT-300M", "R101x1 / JFT-300M", "R152x{1,2} / JFT-300M", "R50+ViT-B/{16,32} / JFT-300M",
               "R50+ViT-L/32 / JFT-300M", "R50+ViT-L/16 / JFT-300M", "ViT-B/{16,32} / ImageNet-21k",
               "ViT-L/{16,32} / ImageNet-21k", "ViT-* / ImageNet")
TWO_EPOCHS = {"ViT-L/16 / JFT-300M": (7, 14), "R50+ViT-L/16 / JFT-300M": (7, 14), "ViT-L/{16,32} / ImageNet-21k": (30, 90)}
VTAB_TASKS = ("Caltech101", "CIFAR-100", "DTD", "Flowers102", "Pets", "Sun397", "SVHN", "Camelyon", "EuroSAT", "Resisc45",
              "Retinopathy", "Clevr-Count", "Clevr-Dist", "DMLab", "dSpr-Loc", "dSpr-Ori", "KITTI-Dist", "sNORB-Azim",
              "sNORB-Elev")


def test_table3_has_every_printed_cell_and_its_caption():
    cells = {(n.row, n.column) for n in paper.numbers(table="Table 3")}
    expected = {("caption", c) for c in ("batch size", "learning rate warmup", "grad clipping global norm (ImageNet)")}
    for row in TABLE3_ROWS:
        epochs = {"Epochs [1]", "Epochs [2]"} if row in TWO_EPOCHS else {"Epochs"}
        expected |= {(row, c) for c in (*epochs, "Base LR", "Weight decay", "Dropout")}
    assert cells == expected
    for row, printed in TWO_EPOCHS.items():
        assert tuple(paper.number(table="Table 3", row=row, column=f"Epochs [{i}]").value for i in (1, 2)) == printed


def test_table3_regularisation_is_strongest_on_imagenet():
    # App. B.1: "We found strong regularization to be key when training models from scratch on ImageNet"
    # (weight decay is not monotone in the data size: 0.1 on JFT-300M, 0.03 on ImageNet-21k, 0.3 on ImageNet).
    decay = {n.row: n.value for n in paper.numbers(table="Table 3", column="Weight decay")}
    assert sorted(decay.values())[-2] < decay["ViT-* / ImageNet"] == max(decay.values())
    dropout = {n.row: n.value for n in paper.numbers(table="Table 3", column="Dropout")}
    assert dropout["ViT-* / ImageNet"] == max(dropout.values()) > min(dropout.values())  # ImageNet-21k: 0.1 too
    decays = {n.row: n.note.rsplit(": ", 1)[-1] for n in paper.numbers(table="Table 3", column="Base LR")}
    assert decays == {row: "cosine" if row == "ViT-* / ImageNet" else "linear" for row in TABLE3_ROWS}


def test_table3_caption_agrees_with_appendix_b1():
    assert paper.number(table="Table 3", row="caption", column="batch size").value == 4096
    assert paper.number(table="Table 3", row="caption", column="learning rate warmup").value == 10_000
    assert "Table 3 caption" in paper.number(table="Appendix B.1", column="pre-training resolution").note


def test_table3_hybrid_l32_learning_rate_is_a_documented_inconsistency():
    # "Hybrid models are trained with the exact setup as their ViT counterparts" (App. B.1), Table 3 itself:
    pairs = {"R50+ViT-B/{16,32} / JFT-300M": "ViT-B/{16,32} / JFT-300M", "R50+ViT-L/16 / JFT-300M": "ViT-L/16 / JFT-300M",
             "R50+ViT-L/32 / JFT-300M": "ViT-L/32 / JFT-300M"}
    differ = {hybrid for hybrid, vit in pairs.items()
              if paper.number(table="Table 3", row=hybrid, column="Base LR").value
              != paper.number(table="Table 3", row=vit, column="Base LR").value}
    documented = {r["a_row"] for r in paper.inconsistencies(kind="Appendix B.1 text vs Table 3")}
    assert differ == documented == {"R50+ViT-L/32 / JFT-300M"}


@pytest.mark.parametrize("column", ["ResNet50 / Adam", "ResNet50 / SGD", "ResNet152x2 / Adam", "ResNet152x2 / SGD"])
def test_table7_average_is_the_mean_of_its_five_datasets(column):
    accuracies = [n.value for n in paper.numbers(table="Table 7", column=column, metric="top1")]
    assert len(accuracies) == 5
    assert round(sum(accuracies) / 5, 2) == pytest.approx(paper.number(table="Table 7", column=column, row="Average").value)


def test_table7_adam_columns_are_table6_seven_epoch_rows():
    # Adam is the paper's optimizer for ResNets: Table 7's Adam runs are Table 6's 7-epoch ResNets.
    rows = {"R50x1": "ResNet50x1 (7 epochs)", "R152x2": "ResNet152x2 (7 epochs)"}
    for n in paper.numbers(table="Table 7", metric="top1"):
        t6 = paper.number(table="Table 6", row=rows[n.model], dataset=n.dataset, metric="top1").value
        assert (n.value == t6) == n.column.endswith("Adam"), n.label


def test_table8_has_the_printed_cells_only():
    cells = {(n.row, n.column): n.value for n in paper.numbers(table="Table 8")}
    assert set(cells) == {("No Pos. Emb.", "Default/Stem"), ("Rel. Pos. Emb.", "Default/Stem")} | {
        (row, col) for row in ("1-D Pos. Emb.", "2-D Pos. Emb.") for col in ("Default/Stem", "Every Layer",
                                                                                "Every Layer-Shared")}
    assert all(0 < v < 1 for v in cells.values())  # printed as fractions, not %
    with_embedding = [v for (row, _), v in cells.items() if row != "No Pos. Emb."]
    assert max(with_embedding) - min(with_embedding) < min(with_embedding) - cells[("No Pos. Emb.", "Default/Stem")]


@pytest.mark.parametrize("row,table2_column", [("ViT-H/14 (JFT)", "Ours-JFT (ViT-H/14)"),
                                               ("ViT-L/16 (JFT)", "Ours-JFT (ViT-L/16)"),
                                               ("ViT-L/16 (I21k)", "Ours-I21k (ViT-L/16)")])
def test_table9_mean_is_the_mean_of_its_tasks_and_table2s_vtab(row, table2_column):
    tasks = {n.column: n.value for n in paper.numbers(table="Table 9", row=row) if n.column != "Mean"}
    assert tuple(tasks) == VTAB_TASKS
    mean = paper.number(table="Table 9", row=row, column="Mean").value
    vtab = paper.number(table="Table 2", row="VTAB (19 tasks)", column=table2_column).value
    assert round(vtab, 1) == pytest.approx(mean)
    # each task is printed to 0.1, so the mean of the printed tasks is Table 2's value to within 0.05
    assert abs(sum(tasks.values()) / len(tasks) - vtab) <= 0.05


def test_table2_caption_runs_is_three():
    runs = paper.number(table="Table 2", row="caption", column="fine-tuning runs per cell")
    assert runs.value == 3 and "three fine-tuning runs" in runs.note


def test_new_tables_map_to_their_claims():
    owners = {(n.table, n.row): paper.claim_of_number(n) for t in ("Table 7", "Table 8", "Table 9")
              for n in paper.numbers(table=t)}
    assert set(owners.values()) == {"table7-adam-vs-sgd", "posemb-ablation", "table2-jft", "table2-i21k"}
    assert owners[("Table 9", "ViT-L/16 (I21k)")] == "table2-i21k"
    assert owners[("Table 9", "ViT-H/14 (JFT)")] == "table2-jft"
