"""The typed hand-offs: the ledger's equation, the file ledger, reports safe to open in a spreadsheet."""

import pandas as pd
import pytest

from edassets.handoffs import FeedLedger, FileOutcome, RawDrop, ReceivedFile, report_csv, spreadsheet_safe


def test_a_balanced_ledger_says_so_in_one_line() -> None:
    ledger = FeedLedger(received=10, passed=6, quarantined=2, duplicates=1, not_applicable=1)
    loaded = ledger.with_load(inserted=3, updated=1, unchanged=2, tombstones=1, deactivated_missing=4)

    assert ledger.imbalance() is None and loaded.imbalance() is None
    assert loaded.line() == ("received 10, loaded 6 (new 3, updated 1, unchanged 2), quarantined 2, duplicates 1, "
                             "not applicable 1, deactivated 5")


@pytest.mark.parametrize(
    ("ledger", "why"),
    [
        (FeedLedger(received=10, passed=6, quarantined=2, duplicates=1, not_applicable=0),
         "records received 10 != passed 6 + quarantined 2 + duplicates 1 + not applicable 0"),
        (FeedLedger(received=3, passed=3, quarantined=0, duplicates=0, not_applicable=0).with_load(
            inserted=2, updated=0, unchanged=0, tombstones=0, deactivated_missing=0),
         "records passed 3 != inserted 2 + updated 0 + unchanged 0"),
    ],
)
def test_a_record_that_vanishes_breaks_the_equation(ledger: FeedLedger, why: str) -> None:
    assert ledger.imbalance() == why
    assert ledger.line().endswith(f"LEDGER DOES NOT BALANCE: {why}")


def test_held_back_records_are_counted_not_lost() -> None:
    ledger = FeedLedger(received=7, passed=0, quarantined=0, duplicates=0, not_applicable=0, held_back=7)

    assert ledger.imbalance() is None
    assert ledger.line().startswith("received 7, held back 7")


def test_file_ledger() -> None:
    users = ReceivedFile("users.csv", b"a\n1\n")
    balanced = RawDrop(files=(users,), roles={"users.csv": ("users.csv",)},
                       inventory=(FileOutcome("users.csv", 4, read_by=("persons",)),
                                  FileOutcome("notes.txt", 3, reason="not a file this platform reads")))
    unexplained = RawDrop(files=(users,), roles={"users.csv": ("users.csv",)},
                          inventory=(FileOutcome("users.csv", 4, read_by=("persons",)), FileOutcome("x.txt", 1)))
    stray = RawDrop(files=(users,), roles={}, inventory=(FileOutcome("other.csv", 4, read_by=("persons",)),))

    assert balanced.file_imbalance() is None
    assert unexplained.file_imbalance() == "1 ignored files without a reason"
    assert stray.file_imbalance() == "1 files read but missing from the inventory"


def test_formula_cells_are_neutralised_and_plain_numbers_are_not() -> None:
    values = pd.Series(["=cmd|' /C calc'!A0", "+1+1", "-2+3+cmd|x", "@SUM(A1)", "\tx", "-12", "-1.5", "Ada", pd.NA])

    safe = spreadsheet_safe(values)

    assert safe.tolist()[:7] == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3+cmd|x", "'@SUM(A1)", "'\tx", "-12", "-1.5"]
    assert safe.iloc[7] == "Ada" and pd.isna(safe.iloc[8])


def test_report_csv_neutralises_values_and_rules() -> None:
    report = pd.DataFrame({"outcome": ["quarantined"], "lineage_archive_key": ["k"], "lineage_record_index": [3],
                           "field": ["role"], "rule": ["=bad"], "value": ["=HYPERLINK(\"x\")"]})

    assert report_csv(report).decode().splitlines()[1] == "quarantined,k,3,role,'=bad,\"'=HYPERLINK(\"\"x\"\")\""
