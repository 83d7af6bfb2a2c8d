"""What a second paper (examples/resnet, He et al. 2015) needed from the plugin, unit by unit: a shared loader of the
paper's numbers that keeps the digits printed, a tolerance in units of the last printed digit, orderings where lower
is better and of numbers that were computed rather than printed."""

from __future__ import annotations

import pytest

from pytest_claims import PaperValue
from pytest_claims.paper import NumbersError, decimals_of, load_numbers, read_rows
from pytest_claims.records import Source
from pytest_claims.rules import Tolerance, value_rule
from pytest_claims.summary import Summary, summary_ordering_rule

NUMBERS = """table,row,column,value,std,unit,checked_against
Table 6,ResNet-20,# params,0.27,,M,Table 6 column 2
Table 6,ResNet-110,# params,1.7,,M,Table 6 column 2
Table 6,ResNet-1202,# params,19.4,,M,Table 6 column 2
Table 6,ResNet-110,error (%),6.43,0.16,%,"Table 6, mean of 5 runs"
§3.3,plain / VGG-19,FLOPs ratio,18,,%,§3.3
"""


@pytest.fixture
def numbers(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text(NUMBERS, encoding="utf-8")
    return load_numbers(path)


@pytest.mark.parametrize("text, places", [("0.27", 2), ("19.4", 1), ("18", 0), ("0.270", 3), ("1.5e-3", 4),
                                          ("12e3", 0), (" 6.43 ", 2)])
def test_decimals_are_read_from_the_printed_text(text, places):
    assert decimals_of(text) == places


def test_a_cell_keeps_its_value_spread_unit_decimals_and_provenance(numbers):
    cell = numbers.number("Table 6", "ResNet-110", "error (%)")
    assert (cell.value, cell.std, cell.unit, cell.decimals) == (6.43, 0.16, "%", 2)
    assert cell.provenance == {"checked_against": "Table 6, mean of 5 runs"}
    assert numbers.number("Table 6", "ResNet-20", "# params").std is None and len(numbers) == 5
    paper = PaperValue.of(cell)  # what a check records
    assert paper.decimals == 2 and paper.to_json()["decimals"] == 2 and paper.source == Source(
        "Table 6", "ResNet-110", "error (%)")


def test_an_unknown_cell_names_the_closest_ones(numbers):
    with pytest.raises(NumbersError, match="no cell Table 6 / ResNet-1202 / # param; closest: Table 6 / "
                                           "ResNet-1202 / # params"):
        numbers.number("Table 6", "ResNet-1202", "# param")


@pytest.mark.parametrize("text, said", [
    ("table,row,value\nT,r,1\n", "lacks the column(s) ['column']"),
    ("table,row,column,value\nT,r,c,1\nT,r,c,2\n", "listed twice"),
    ("table,row,column,value\nT,r,c,n/a\n", "line 2: value 'n/a' is not a number"),
    ("table,row,column,value\nT,,c,1\n", "line 2: table, row, column and value must all be given"),
])
def test_a_malformed_numbers_file_says_where(tmp_path, text, said):
    (tmp_path / "n.csv").write_text(text, encoding="utf-8")
    with pytest.raises(NumbersError, match=said.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_numbers(tmp_path / "n.csv")


def test_a_digits_tolerance_is_half_a_unit_of_each_cells_last_printed_digit(numbers):
    half = Tolerance("printed", digits=0.5)
    cells = {name: numbers.number("Table 6", name, "# params") for name in ("ResNet-20", "ResNet-1202")}
    assert half.band(0.27, None, 2) == pytest.approx(0.005) and half.band(19.4, None, 1) == pytest.approx(0.05)
    assert half.band(18.0, None, 0) == pytest.approx(0.5)

    def verdict(measured: float, cell) -> str:
        return value_rule(measured, None, None, cell.value, cell.std, half, cell.decimals).verdict

    # 0.2749 rounds to 0.27 and 19.44 to 19.4: verified; 0.2751 rounds to 0.28 and 19.46 to 19.5: refuted. A band
    # of one fixed width for both cells (the mistake a hand-picked tolerance per cell invites) fails one pair.
    assert [verdict(v, cells["ResNet-20"]) for v in (0.2749, 0.2751)] == ["verified", "refuted"]
    assert [verdict(v, cells["ResNet-1202"]) for v in (19.44, 19.46)] == ["verified", "refuted"]
    with pytest.raises(ValueError, match="does not say how many decimals were printed"):
        half.band(19.4, None, None)
    assert "0.5·last printed digit" in value_rule(19.44, None, None, 19.4, None, half, 1).reason


def test_a_tolerance_without_digits_records_what_it_always_recorded():
    assert Tolerance("exact").to_dict() == {"name": "exact", "abs": 0.0, "rel": 0.0, "sigmas": 0.0}
    assert "decimals" not in PaperValue(1.0, None, "", Source("T", "r", "c")).to_json()


def test_lower_is_better_orders_errors_as_printed():
    # Table 2: plain-18 27.94 % top-1 error, plain-34 28.54 %: plain-18 is better (lower), by 0.60.
    lower = summary_ordering_rule(Summary(27.94), Summary(28.54), 0.05, a_label="plain-18", b_label="plain-34",
                                  higher_is_better=False)
    assert lower.verdict == "verified" and lower.rule["diff"] == pytest.approx(0.60)
    assert lower.rule["higher_is_better"] is False and lower.rule["a"]["mean"] == 27.94  # the numbers as given
    assert "plain-18 below plain-34" in lower.reason and "plain-34 − plain-18: lower is better" in lower.reason
    reverse = summary_ordering_rule(Summary(28.54), Summary(27.94), 0.05, a_label="plain-34", b_label="plain-18",
                                    higher_is_better=False)
    assert reverse.verdict == "refuted" and "plain-34 is not below plain-18" in reverse.reason
    # the default (higher is better) reads the same numbers the other way, and records no direction
    higher = summary_ordering_rule(Summary(27.94), Summary(28.54), 0.05)
    assert higher.verdict == "refuted" and "higher_is_better" not in higher.rule


def test_lower_is_better_with_spreads_is_the_higher_is_better_test_on_negated_means():
    a, b = Summary(6.43, 0.16, 5), Summary(6.61, 0.16, 5)
    lower = summary_ordering_rule(a, b, 0.05, margin=0.1, higher_is_better=False)
    negated = summary_ordering_rule(Summary(-6.43, 0.16, 5), Summary(-6.61, 0.16, 5), 0.05, margin=0.1)
    assert lower.verdict == negated.verdict
    for key in ("diff", "low", "high", "se", "df", "refute_p"):
        assert lower.rule[key] == pytest.approx(negated.rule[key])
    assert lower.rule["diff"] == pytest.approx(0.18)


def test_computed_numbers_are_not_called_printed():
    out = summary_ordering_rule(Summary(11.3, source="computed"), Summary(15.3, source="computed"), 0.05,
                                a_label="ResNet-152", b_label="VGG-16", higher_is_better=False)
    assert out.verdict == "verified" and "printed" not in out.reason + out.rule["method"]
    assert "no ± given" in out.reason and out.rule["method"].startswith("computed means compared as they stand")
    tie = summary_ordering_rule(Summary(1.0, source="computed"), Summary(1.0, source="computed"), 0.05)
    assert tie.verdict == "inconclusive" and "equal as given" in tie.reason


def test_a_file_that_is_not_utf8_or_not_csv_names_the_line_to_fix(tmp_path):
    path = tmp_path / "n.csv"
    path.write_bytes("table,row,column,value\nT,r,c,1\nT,r\xe9,c,2\n".encode("latin-1"))
    with pytest.raises(NumbersError, match=r"n\.csv:3: byte 0xe9 is not UTF-8"):
        load_numbers(path)
    path.write_text('table,row,column,value\nT,r,c,1\nT,"r' + "x" * 200_000 + '",c,2\n', encoding="utf-8")
    with pytest.raises(NumbersError, match=r"n\.csv:3: not valid CSV: field larger than field limit"):
        read_rows(path)
    with pytest.raises(NumbersError, match=r"cannot read .*absent\.csv"):
        read_rows(tmp_path / "absent.csv")


def test_read_rows_checks_the_header_in_order(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,é\n", encoding="utf-8")
    assert read_rows(path, ("a", "b")) == [{"a": "1", "b": "é"}] == read_rows(path)
    with pytest.raises(NumbersError, match=r"header is \['a', 'b'\], expected \['b', 'a'\]"):
        read_rows(path, ("b", "a"))
