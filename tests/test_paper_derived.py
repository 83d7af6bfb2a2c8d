"""Integrity of paper/derived.csv: values the paper implies, each with its provenance and derivation.

Like numbers.csv: one row per (table, row, column), stored values as printed numbers; beyond it, every
arithmetic row is recomputed from the printed cells it cites, and a row whose value or inputs drift
from numbers.csv is refused on load.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

import paper

NUMBER = re.compile(r"^\d+(\.\d+)?$")
UNITS = {"", "rows", "tokens", "relative RMS", "x"}


def raw_rows() -> list[dict[str, str]]:
    with paper.DERIVED_CSV.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_header_is_numbers_csv_plus_the_derivation():
    with paper.DERIVED_CSV.open(encoding="utf-8") as fh:
        assert fh.readline().strip() == ",".join(paper.DERIVED_COLUMNS)
    assert paper.DERIVED_COLUMNS[: len(paper.NUMBER_COLUMNS)] == paper.NUMBER_COLUMNS


def test_provenance_is_unique_and_never_a_printed_cell():
    triples = [(r["table"], r["row"], r["column"]) for r in raw_rows()]
    assert all(all(t) for t in triples)
    assert not [t for t, n in Counter(triples).items() if n > 1]
    printed = {(n.table, n.row, n.column) for n in paper.numbers()}
    assert not set(triples) & printed  # a derived value never poses as a printed one


def test_values_are_plain_numbers_and_keys_canonical():
    for r in raw_rows():
        assert NUMBER.match(r["value"]) and not r["std"], r
        assert r["unit"] in UNITS, r
        assert not r["model"] or r["model"] in paper.MODELS
        assert not r["pretraining"] or r["pretraining"] in paper.PRETRAININGS
        assert r["note"].strip() and r["derivation"].strip(), r


def test_every_arithmetic_row_is_its_formula_of_the_printed_numbers_it_cites():
    arithmetic = [d for d in paper.derived_numbers() if d.formula]
    assert len(arithmetic) >= 3
    for d in arithmetic:
        cited = {name: paper.number(table=t, row=r, column=c) for name, (t, r, c) in d.inputs}
        assert paper.evaluate_formula(d.formula, {k: n.value for k, n in cited.items()}) == d.value, d.label
        assert d.recompute() == d.value


def test_a_statement_row_quotes_the_sentence_it_follows_from():
    for d in paper.derived_numbers():
        if not d.formula:
            assert d.derivation.startswith('"') and "§" in d.derivation, d.label


def test_the_claims_expectations_keep_their_values():
    # The values the claim modules built by hand before they became rows of derived.csv.
    row = "ViT-B/16 fine-tuned at higher resolution"
    assert paper.derived(table="Section 3.2", row=row, column="class-token change").value == 0
    assert paper.derived(table="Appendix B.1.1", row=row, column="position embeddings").value == (384 // 16) ** 2 + 1
    assert paper.derived(table="Section 3.2", row=row, column="patch tokens in the forward pass").value == (384 // 16) ** 2
    assert paper.derived(table="Section 3.2", row=row, column="grid error at corresponding positions").value == 0
    midpoint = paper.derived(table="Section 4.4", column="compute factor (2–4, midpoint)")
    assert (midpoint.value, midpoint.unit, midpoint.row) == (3, "x", "ViT vs ResNet, same performance")


def test_a_derived_number_passes_as_a_paper_value():
    from pytest_claims import records  # the project's own plugin: a broken import fails, never skips
    pv = records.PaperValue.of(paper.derived(table="Section 4.4", column="compute factor (2–4, midpoint)"))
    assert (pv.value, pv.std, pv.unit, pv.source.column) == (3.0, None, "x", "compute factor (2–4, midpoint)")


def _write(tmp_path: Path, **changes: str) -> Path:
    rows = raw_rows()
    rows[1] = {**rows[1], **changes}  # the "position embeddings" row: (resolution / 16) ** 2 + 1
    path = tmp_path / "derived.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=paper.DERIVED_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("changes, message", [
    ({"value": "576"}, "gives 577"),                                               # value drifted from its formula
    ({"inputs": "resolution=Appendix B.1|all models|pre-training resolution"}, "gives 197"),  # cites another cell
    ({"inputs": "resolution=Appendix B.1.1|all models|fine-tuning size"}, "not one printed cell"),
    ({"formula": "(resolution / patch) ** 2 + 1"}, "do not bind"),
    ({"formula": "__import__('os').getcwd()"}, "not plain arithmetic"),
    ({"inputs": ""}, "needs the printed cells"),
    ({"derivation": " "}, "says nothing"),
])
def test_a_wrong_row_is_refused_on_load(tmp_path, changes, message):
    assert paper.load_derived(_write(tmp_path))  # the unchanged rows load
    with pytest.raises(paper.PaperDataError, match=message):
        paper.load_derived(_write(tmp_path, **changes))


def test_derived_lookup_names_close_matches():
    with pytest.raises(LookupError, match="class-token change"):
        paper.derived(table="Section 3.2", column="class token change")
    with pytest.raises(TypeError, match="unknown filter"):
        paper.derived_numbers(section="3.2")
