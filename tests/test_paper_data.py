"""Integrity of paper/: the transcribed numbers, the claim catalog and the documented discrepancies.

Each test can fail on a real transcription slip: a duplicated or missing cell, a std dropped from
Table 2, a value that no longer agrees with the table it is printed in twice, or a documented
inconsistency that has gone stale.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import paper

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"^\d+(\.\d+)?$")  # values are stored as printed: no sign, no exponent, no thousands separator
UNITS = {"%", "count", "M", "k", "epochs", "exaFLOPs", "px", "x", "cores", "days", "steps", "lr", "images", "norm", "factor",
         "fraction"}
UNIT_OF_METRIC = {"top1": "%", "layers": "count", "hidden_size": "count", "mlp_size": "count", "heads": "count",
                  "params": "M", "tpu_core_days": "k", "epochs": "epochs", "exaflops": "exaFLOPs",
                  "steps": "steps", "base_lr": "lr", "batch_size": "images", "weight_decay": "factor",
                  "grad_clip_norm": "norm", "dropout": "factor", "runs": "count", "mean_top1": "%",
                  "fewshot_top1": "fraction"}
REQUIRED_CLAIMS = {"table1-variants", "table6-compute", "compute-efficiency", "posemb-interpolation",
                   "small-data-inductive-bias", "claim1-vit-vs-sota", "claim2-pretraining-size", "claim3-hybrids"}


def raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def cell(table: str, row: str, column: str) -> paper.PaperNumber:
    return paper.number(table=table, row=row, column=column)


def documented(kind: str) -> dict[tuple, dict[str, str]]:
    """Documented inconsistencies of one kind, keyed by their two (table, row, column) cells."""
    return {((r["a_table"], r["a_row"], r["a_column"]), (r["b_table"], r["b_row"], r["b_column"])): r
            for r in paper.inconsistencies(kind=kind)}


# ---------------------------------------------------------------- numbers.csv: shape of every row

def test_header_is_the_design_contract():
    with paper.NUMBERS_CSV.open(encoding="utf-8") as fh:
        assert fh.readline().strip() == ",".join(paper.NUMBER_COLUMNS)


def test_every_row_has_table_row_column():
    for i, r in enumerate(raw_rows(paper.NUMBERS_CSV), start=2):
        assert all(r[k].strip() for k in ("table", "row", "column")), f"numbers.csv:{i} lacks table/row/column: {r}"
        assert all(r[k] == r[k].strip() for k in r), f"numbers.csv:{i} has stray whitespace: {r}"


def test_table_row_column_triple_is_unique():
    counts = Counter((n.table, n.row, n.column) for n in paper.numbers())
    dupes = [k for k, c in counts.items() if c > 1]
    assert not dupes, f"duplicate (table, row, column): {dupes}"


def test_values_and_stds_are_plain_numbers_as_printed():
    for i, r in enumerate(raw_rows(paper.NUMBERS_CSV), start=2):
        assert NUMBER.match(r["value"]), f"numbers.csv:{i} value {r['value']!r} is not a plain number"
        assert r["std"] == "" or NUMBER.match(r["std"]), f"numbers.csv:{i} std {r['std']!r} is not a plain number"


def test_canonical_keys_come_from_the_allowed_sets():
    for n in paper.numbers():
        assert n.model in paper.MODELS | {""}, n
        assert n.pretraining in paper.PRETRAININGS | {""}, n
        assert n.dataset in paper.DATASETS | {""}, n
        assert n.metric in paper.METRICS | {""}, n
        assert n.unit in UNITS, n


def test_unit_matches_metric():
    for n in paper.numbers():
        if n.metric:
            assert n.unit == UNIT_OF_METRIC[n.metric], n


def test_every_table_cell_has_a_metric_and_accuracies_are_percentages():
    for n in paper.numbers():
        if n.table.startswith("Table "):
            assert n.metric, f"{n.label} has no metric"
        if n.metric == "top1":
            assert 0 < n.value <= 100, n
            assert n.dataset, f"{n.label} is an accuracy without a dataset"


def test_table1_has_three_variants_by_five_columns():
    rows = paper.numbers(table="Table 1")
    assert {(n.row, n.column) for n in rows} == {
        (r, c) for r in ("ViT-Base", "ViT-Large", "ViT-Huge")
        for c in ("Layers", "Hidden size D", "MLP size", "Heads", "Params")}


def test_table1_follows_the_bert_shape_rules():
    # BERT-style variants: MLP = 4 x hidden and hidden divisible by heads. A slip in one digit breaks this.
    for variant in ("ViT-Base", "ViT-Large", "ViT-Huge"):
        d = cell("Table 1", variant, "Hidden size D").value
        assert cell("Table 1", variant, "MLP size").value == 4 * d
        assert d % cell("Table 1", variant, "Heads").value == 0


def test_table2_has_every_printed_cell():
    cells = {(n.row, n.column) for n in paper.numbers(table="Table 2") if n.row != "caption"}
    vit_bit = ("Ours-JFT (ViT-H/14)", "Ours-JFT (ViT-L/16)", "Ours-I21k (ViT-L/16)", "BiT-L (ResNet152x4)")
    rows = ("ImageNet", "ImageNet ReaL", "CIFAR-10", "CIFAR-100", "Oxford-IIIT Pets", "Oxford Flowers-102",
            "VTAB (19 tasks)", "TPUv3-core-days")
    noisy = "Noisy Student (EfficientNet-L2)"
    # Noisy Student prints "-" except ImageNet, ImageNet ReaL and TPUv3-core-days.
    expected = {(r, c) for r in rows for c in vit_bit} | {("ImageNet", noisy), ("ImageNet ReaL", noisy),
                                                           ("TPUv3-core-days", noisy)}
    assert cells == expected


# Cells Table 2 prints without ±: BiT-L's ReaL and Noisy Student's two numbers (taken from other papers).
TABLE2_WITHOUT_STD = {("ImageNet ReaL", "BiT-L (ResNet152x4)"), ("ImageNet", "Noisy Student (EfficientNet-L2)"),
                      ("ImageNet ReaL", "Noisy Student (EfficientNet-L2)")}


def test_every_table2_accuracy_has_its_std_except_the_printed_exceptions():
    missing = {(n.row, n.column) for n in paper.numbers(table="Table 2", metric="top1") if n.std is None}
    assert missing == TABLE2_WITHOUT_STD
    for n in paper.numbers(table="Table 2", metric="top1"):
        if n.std is not None:
            assert 0 <= n.std < 2, n


# Table 4 as printed (App. B.1.1): dataset row -> (canonical key, steps, base-lr set).
TABLE4 = {"ImageNet": ("imagenet", 20_000, (0.003, 0.01, 0.03, 0.06)),
          "CIFAR100": ("cifar100", 10_000, (0.001, 0.003, 0.01, 0.03)),
          "CIFAR10": ("cifar10", 10_000, (0.001, 0.003, 0.01, 0.03)),
          "Oxford-IIIT Pets": ("pets", 500, (0.001, 0.003, 0.01, 0.03)),
          "Oxford Flowers-102": ("flowers102", 500, (0.001, 0.003, 0.01, 0.03)),
          "VTAB (19 tasks)": ("vtab", 2_500, (0.01,))}


def test_table4_has_every_printed_cell_and_its_caption():
    cells = {(n.row, n.column) for n in paper.numbers(table="Table 4")}
    # a printed set is one row per value, "Base LR [i]"; VTAB prints a single value, "Base LR"
    expected = {(row, "Steps") for row in TABLE4} | {("VTAB (19 tasks)", "Base LR")} | {
        (row, f"Base LR [{i}]") for row, (_, _, grid) in TABLE4.items() if len(grid) > 1
        for i in range(1, len(grid) + 1)} | {
        ("caption", "batch size"), ("caption", "weight decay"), ("caption", "grad clipping global norm")}
    assert cells == expected


def test_table4_values_rows_and_grid_order():
    for row, (dataset, steps, grid) in TABLE4.items():
        assert cell("Table 4", row, "Steps").value == steps
        assert paper.number(table="Table 4", dataset=dataset, metric="steps").row == row
        printed = tuple(n.value for n in paper.numbers(table="Table 4", row=row, metric="base_lr"))
        assert printed == grid and list(printed) == sorted(printed)  # printed order, ascending
        assert all(n.dataset == dataset for n in paper.numbers(table="Table 4", row=row))
    caption = {n.column: n.value for n in paper.numbers(table="Table 4", row="caption")}
    assert caption == {"batch size": 512, "weight decay": 0, "grad clipping global norm": 1}
    # §4.1 repeats the batch size; App. B.1.1 repeats VTAB's "learning rate of 0.01 and train for 2500 steps"
    assert "batch size 512" in cell("Table 4", "caption", "batch size").note
    assert "2500 steps" in cell("Table 4", "VTAB (19 tasks)", "Steps").note


def test_appendix_b11_and_section41_finetuning_numbers():
    column = "development split of the training set"
    splits = {n.row: (n.value, n.dataset) for n in paper.numbers(table="Appendix B.1.1", column=column)}
    assert splits == {"Pets": (10, "pets"), "Flowers": (10, "flowers102"), "CIFAR": (2, ""), "ImageNet": (1, "imagenet")}
    assert all("(10% for Pets and Flowers, 2% for CIFAR, 1% ImageNet)" in n.note
               for n in paper.numbers(table="Appendix B.1.1", column=column))
    assert cell("Appendix B.1.1", "all models", "SGD momentum").value == 0.9
    assert cell("Appendix B.1.1", "all models", "fine-tuning resolution").value == 384
    polyak = cell("Section 4.1", "Table 2 ImageNet results", "Polyak averaging factor")
    assert polyak.value == 0.9999 and "averaging with a factor of 0.9999" in polyak.note
    assert {n.row: n.value for n in paper.numbers(table="Section 4.1", column="Table 2 ImageNet fine-tuning resolution")} \
        == {"ViT-L/16": 512, "ViT-H/14": 518}


def test_every_table4_dataset_but_vtab_has_a_development_split():
    # App. B.1.1 sweeps the Table 4 grid on a development split; VTAB uses its own 800/200 protocol.
    # Data against data: the datasets of Table 4's rows in numbers.csv, and those whose development
    # split the dataset catalog reads from App. B.1.1's rows (its "CIFAR" row stands for both CIFARs).
    from measure.data.datasets import DATASETS

    table4 = {n.dataset for n in paper.numbers(table="Table 4") if n.dataset}
    development = {name for name, spec in DATASETS.items() if spec.held_out_fraction is not None}
    assert "vtab" in table4 and table4 - {"vtab"} == development
    splits = paper.numbers(table="Appendix B.1.1", column="development split of the training set")
    assert {DATASETS[name].held_out_fraction for name in development} == {n.value / 100 for n in splits}


def test_table5_has_every_model_for_every_pretraining_and_dataset():
    got = {(n.pretraining, n.dataset, n.model) for n in paper.numbers(table="Table 5")}
    models = ("ViT-B/16", "ViT-B/32", "ViT-L/16", "ViT-L/32", "ViT-H/14")
    datasets = ("cifar10", "cifar100", "imagenet", "imagenet_real", "flowers102", "pets")
    # ViT-H/14 was not pre-trained on ImageNet: the paper prints "-" there.
    expected = {(p, d, m) for p in ("imagenet", "imagenet21k", "jft300m") for d in datasets for m in models
                if not (p == "imagenet" and m == "ViT-H/14")}
    assert got == expected


def test_table6_has_18_models_with_all_8_columns():
    rows = Counter(n.row for n in paper.numbers(table="Table 6"))
    assert len(rows) == 18 and set(rows.values()) == {8}
    # Section 4.4: 7 ResNets, 6 ViTs, 5 hybrids.
    families = Counter(("hybrid" if "+" in n.model else "vit" if n.model.startswith("ViT") else "resnet")
                       for n in paper.numbers(table="Table 6", column="Epochs"))
    assert families == {"resnet": 7, "vit": 6, "hybrid": 5}


def test_table6_row_labels_carry_the_printed_epochs():
    for n in paper.numbers(table="Table 6", column="Epochs"):
        assert n.row.endswith(f"({n.value:g} epochs)"), n
        assert n.value in (7, 14), n


def test_table6_patch_16_costs_about_4x_patch_32():
    # Same width and depth, 4x the tokens (196 vs 49 at 224 px): a transcription slip in exaFLOPs shows here.
    for big, small in (("ViT-B/16 (7 epochs)", "ViT-B/32 (7 epochs)"), ("ViT-L/16 (7 epochs)", "ViT-L/32 (7 epochs)")):
        ratio = cell("Table 6", big, "exaFLOPs").value / cell("Table 6", small, "exaFLOPs").value
        assert 3.5 < ratio < 4.5, (big, small, ratio)


# ---------------------------------------------------------------- cross-table consistency

T6_ROW_OF_T5_MODEL = {"ViT-B/32": "ViT-B/32 (7 epochs)", "ViT-B/16": "ViT-B/16 (7 epochs)",
                      "ViT-L/32": "ViT-L/32 (7 epochs)", "ViT-L/16": "ViT-L/16 (14 epochs)",
                      "ViT-H/14": "ViT-H/14 (14 epochs)"}


def key(n: paper.PaperNumber) -> tuple[str, str, str]:
    return (n.table, n.row, n.column)


def test_table5_jft_rows_equal_table6_except_documented():
    # Both are JFT-300M pre-training, 384 px fine-tuning; the 7/14-epoch choice is the one that matches
    # the other models exactly (Table 3: ViT-L/16 was trained for 7 and 14 epochs, ViT-H/14 for 14).
    mismatches = set()
    for t5 in paper.numbers(table="Table 5", pretraining="jft300m"):
        t6 = paper.number(table="Table 6", row=T6_ROW_OF_T5_MODEL[t5.model], dataset=t5.dataset)
        if t5.value != t6.value:
            mismatches.add((key(t5), key(t6)))
    assert mismatches == set(documented("Table 5 vs Table 6"))


def test_table2_equals_table5_except_documented():
    mismatches = set()
    for t2 in paper.numbers(table="Table 2", metric="top1"):
        if t2.pretraining and t2.dataset != "vtab" and t2.model.startswith("ViT"):
            t5 = paper.number(table="Table 5", pretraining=t2.pretraining, model=t2.model, dataset=t2.dataset)
            if t2.value != t5.value:
                mismatches.add((key(t2), key(t5)))
    docs = documented("Table 2 vs Table 5")
    assert mismatches == set(docs)
    for (a, _), r in docs.items():
        # Only the ImageNet protocol difference (512 px + Polyak) is explained by the paper.
        explained = paper.number(table=a[0], row=a[1], column=a[2]).dataset in ("imagenet", "imagenet_real")
        assert bool(r["explained_by_paper"]) == explained, r["id"]


def test_table6_exaflops_double_from_7_to_14_epochs_except_documented():
    mismatches = set()
    for name in ("ViT-L/16", "ResNet152x2", "R50x1+ViT-L/16"):
        e14 = cell("Table 6", f"{name} (14 epochs)", "exaFLOPs")
        e7 = cell("Table 6", f"{name} (7 epochs)", "exaFLOPs")
        if abs(e14.value - 2 * e7.value) > 1:  # printed rounded to whole exaFLOPs
            mismatches.add((key(e14), key(e7)))
    assert mismatches == set(documented("Table 6 arithmetic"))


def test_section42_outperforms_on_all_tasks_holds_except_documented():
    # Section 4.2: "The smaller ViT-L/16 model pre-trained on JFT-300M outperforms BiT-L ... on all tasks".
    exceptions = set()
    for vit in paper.numbers(table="Table 2", column="Ours-JFT (ViT-L/16)", metric="top1"):
        bit = cell("Table 2", vit.row, "BiT-L (ResNet152x4)")
        if not vit.value > bit.value:
            exceptions.add((key(vit), key(bit)))
    assert exceptions == set(documented("Section 4.2 text vs Table 2"))


def test_section1_best_model_numbers_are_table2_vit_h14():
    rows = {"ImageNet": "ImageNet", "ImageNet-ReaL": "ImageNet ReaL", "CIFAR-100": "CIFAR-100", "VTAB": "VTAB (19 tasks)"}
    for column, t2_row in rows.items():
        assert cell("Section 1", "best model", column).value == cell("Table 2", t2_row, "Ours-JFT (ViT-H/14)").value


def test_section42_cores_times_days_is_table2_core_days():
    cores = cell("Section 4.2", "Ours-I21k (ViT-L/16)", "TPUv3 cores").value
    days = cell("Section 4.2", "Ours-I21k (ViT-L/16)", "days").value
    core_days = cell("Table 2", "TPUv3-core-days", "Ours-I21k (ViT-L/16)").value * 1000
    assert abs(cores * days - core_days) / core_days < 0.10  # "approximately 30 days"


def test_documented_inconsistencies_quote_current_values():
    for r in paper.inconsistencies():
        for side in ("a", "b"):
            n = paper.number(table=r[f"{side}_table"], row=r[f"{side}_row"], column=r[f"{side}_column"])
            assert float(r[f"{side}_value"]) == n.value, (r["id"], side)
        assert r["note"].strip(), r["id"]
    assert len({r["id"] for r in paper.inconsistencies()}) == len(paper.inconsistencies())


# ---------------------------------------------------------------- loader behaviour

def test_number_returns_the_single_match():
    n = paper.number(table="Table 2", row="ImageNet", column="Ours-JFT (ViT-H/14)")
    assert (n.value, n.std, n.unit) == (88.55, 0.04, "%")
    assert n.source == {"table": "Table 2", "row": "ImageNet", "column": "Ours-JFT (ViT-H/14)"}


def test_number_without_match_lists_close_matches():
    with pytest.raises(LookupError) as exc:
        paper.number(table="Table 2", row="Imagenet", column="Ours-JFT (ViT-H14)")
    assert "Table 2 / ImageNet / Ours-JFT (ViT-H/14)" in str(exc.value)


def test_number_with_several_matches_lists_them():
    with pytest.raises(LookupError) as exc:
        paper.number(table="Table 6", model="ViT-L/16", column="exaFLOPs")
    assert "ViT-L/16 (7 epochs)" in str(exc.value) and "ViT-L/16 (14 epochs)" in str(exc.value)


def test_unknown_filter_field_is_a_type_error():
    with pytest.raises(TypeError, match="unknown filter"):
        paper.numbers(tabel="Table 1")


def test_numbers_filters_on_canonical_keys():
    jft5 = paper.numbers(table="Table 5", pretraining="jft300m")
    assert len(jft5) == 30 and all(n.pretraining == "jft300m" for n in jft5)


def test_parsed_files_are_cached():
    assert paper.numbers(table="Table 1")[0] is paper.numbers(table="Table 1")[0]


def test_paper_number_duck_types_the_plugin_paper_value():
    from pytest_claims import records  # the project's own plugin: a broken import fails, never skips
    pv = records.PaperValue.of(cell("Table 1", "ViT-Base", "Params"))
    assert (pv.value, pv.std, pv.unit, pv.source.row) == (86.0, None, "M", "ViT-Base")


def test_importing_paper_pulls_in_no_heavy_dependency():
    code = "import sys, paper; paper.numbers(); print(sorted(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- claims.toml

def test_catalog_has_the_required_claims_with_quoted_statements():
    entries = paper.claims()
    ids = [c["id"] for c in entries]
    assert len(ids) == len(set(ids))
    assert REQUIRED_CLAIMS <= set(ids)
    for c in entries:
        for k in ("id", "title", "statement", "source"):
            assert str(c.get(k, "")).strip(), f"claim {c.get('id')} lacks {k}"


def test_claim_tables_exist_in_numbers():
    tables = {n.table for n in paper.numbers()}
    for c in paper.claims():
        assert "tables" not in c, f"claim {c['id']}: tables belong under [claims.data], where the report never shows them"
        for t in c["data"]["tables"]:
            assert t in tables, f"claim {c['id']} names {t!r}, which numbers.csv does not hold"


def test_claim_lookup_and_its_error():
    assert paper.claim("claim3-hybrids")["source"].startswith("Section 4.4")
    with pytest.raises(LookupError, match="claim3-hybrids"):
        paper.claim("claim3-hybrid")


def test_catalog_appendix_files_exist():
    cat = paper.claim_catalog._catalog()
    files = [a["file"] for a in cat["appendix"]]
    assert paper.SEED_DISCREPANCIES_CSV.name in files and paper.INCONSISTENCIES_CSV.name in files
    for f in files:
        assert (paper.HERE / f).is_file(), f


def test_catalog_loads_in_the_plugin_with_data_and_alternates():
    from pytest_claims.catalog import load_catalog

    catalog = load_catalog(paper.CLAIMS_TOML)
    assert catalog.ids == tuple(c["id"] for c in paper.claims())
    by_id = {c.id: c for c in catalog.claims}
    assert by_id["table1-variants"].data["tables"] == ["Table 1"]
    for claim in catalog.claims:  # project data is never a note of the report
        assert not {"tables", "seed_files", "seed_statement", "data", "alternates"} & set(claim.notes), claim.id
    assert [t.title for t in catalog.appendix] == ["Seed discrepancies", "Internal inconsistencies of the paper"]


def test_seed_wordings_are_alternates_naming_their_seed_files():
    with_seed = 0
    for c in paper.claims():
        files = c["data"].get("seed_files", [])
        seed = [a for a in c.get("alternates", []) if a["source"].startswith("seed documents")]
        assert len(seed) == (1 if files else 0), c["id"]
        for f in files:
            assert SEED_FILE.match(f), (c["id"], f)
        if seed:
            with_seed += 1
            assert seed[0]["source"] == "seed documents: " + ", ".join(files)
            assert seed[0]["text"].strip()
    assert with_seed == 4


# ---------------------------------------------------------------- seed_discrepancies.csv

SEED_FILE = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")


def test_seed_discrepancies_are_well_formed():
    rows = paper.discrepancies()
    assert rows
    for r in rows:
        for f in r["seed_file"].split("; "):
            assert SEED_FILE.match(f), r
        assert r["location"] and r["seed_says"] and r["paper_says"] and r["note"], r


def test_seed_discrepancies_quote_the_paper_value_of_their_cell():
    for r in paper.discrepancies():
        if r["row"] and r["column"] and r["table"] in {n.table for n in paper.numbers()}:
            n = paper.number(table=r["table"], row=r["row"], column=r["column"])
            if NUMBER.match(r["paper_says"]):
                assert float(r["paper_says"]) == n.value, r
                assert float(r["seed_says"].split()[0]) != n.value, r
            else:
                assert f"{n.value:g}" in r["paper_says"], r


def test_every_printed_number_claimed_by_number_selectors_has_exactly_one_claim():
    """claims.toml alone maps printed numbers to claims where a table feeds several ([claims.data] numbers)."""
    selected = [n for n in paper.numbers() if any(paper.claim_catalog._selects(s, n) for c in paper.claims()
                                                   for s in c.get("data", {}).get("numbers", ()))]
    owners = {n.label: paper.claim_of_number(n) for n in selected}  # raises where two claims select one number
    assert owners["Table 6 / R50x1+ViT-B/32 (7 epochs) / ImageNet"] == "claim3-hybrids"
    assert owners["Table 6 / ViT-B/32 (7 epochs) / ImageNet"] == "compute-efficiency"
    assert owners["Table 2 / ImageNet / BiT-L (ResNet152x4)"] == "claim1-vit-vs-sota"
    for c in paper.claims():  # every selector names a table the claim lists
        for selector in c.get("data", {}).get("numbers", ()):
            assert selector["table"] in c["data"]["tables"], (c["id"], selector)


def test_a_number_two_claims_select_is_an_error(monkeypatch):
    n = paper.number(table="Table 5", row="JFT-300M / CIFAR-10", column="ViT-B/16")
    twice = [{"id": "a", "data": {"numbers": [{"table": "Table 5"}]}},
             {"id": "b", "data": {"numbers": [{"table": "Table 5", "column": "ViT-B/*"}]}}]
    monkeypatch.setattr(paper.claim_catalog, "claims", lambda: twice)
    with pytest.raises(LookupError, match=r"claims \['a', 'b'\]"):
        paper.claim_of_number(n)
    monkeypatch.setattr(paper.claim_catalog, "claims", lambda: twice[1:] + [{"id": "c", "data": {"numbers": [{"tabel": "x"}]}}])
    with pytest.raises(paper.PaperDataError, match="unknown fields"):
        paper.claim_of_number(n)


def test_a_csv_the_csv_module_cannot_parse_is_a_paper_data_error_naming_file_and_line(tmp_path):
    """The csv.Error branch of the loader (issue 18, item 2): e.g. a cell pasted with a whole page in it (beyond
    the csv module's field limit) is reported with the file and line, as a PaperDataError, not a bare csv.Error."""
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n1,2\n" + "x" * (csv.field_size_limit() + 1) + ",3\n", encoding="utf-8")
    with pytest.raises(paper.PaperDataError, match=rf"^{re.escape(str(path))}:3: not valid CSV: field larger than "
                                                   r"field limit"):
        paper.printed._read_csv(path, ("a", "b"))
