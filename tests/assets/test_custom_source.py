"""A vendor that needs one function of code: a custom read through raw → parsed → validated → loaded.

The platform is built here, as a new vendor's module would be: a fixed-width export read
by a `Custom(read=...)` source, everything else declarative. The `run` fixture proves the
conservation ledger balances.
"""

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from edassets.adapters.sources import Custom, ParseContext
from edassets.adapters.spec import Const, FeedSpec, PlatformSpec, Thresholds, col
from edassets.platforms import PLATFORMS
from edassets.schema import entities as e
from edassets.settings import Settings

PLATFORM = "fixed_width_test"
# (column, first character, one past the last): the vendor's layout sheet.
LAYOUT = (("SchoolCode", 0, 6), ("SchoolName", 6, 28), ("Kind", 28, 38))


def read_fixed_width(data: bytes, context: ParseContext) -> pd.DataFrame:
    """One row per non-blank line, each field sliced and trimmed; a short line keeps what it has."""
    lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    return pd.DataFrame([{name: line[start:end].strip() for name, start, end in LAYOUT} for line in lines],
                        columns=[name for name, _, _ in LAYOUT])


SPEC = PlatformSpec(
    name=PLATFORM,
    title="Fixed-width test vendor",
    description="A school list exported in fixed-width columns.",
    feeds=(FeedSpec(
        name="schools",
        entity=e.SCHOOL,
        description="Schools from the fixed-width export.",
        source=Custom(name="schools.dat", read=read_fixed_width),
        fields=({"school_id": col("SchoolCode"), "name": col("SchoolName"), "org_type": col("Kind"),
                 "parent_id": Const(None)},),
    ),),
    # Half the test records are bad on purpose: the gate must let the good half through.
    thresholds=Thresholds(alert=0.9, block=0.9),
)


def _line(code: str, name: str, kind: str) -> str:
    return f"{code:<6}{name:<22}{kind:<10}\n"


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> PlatformSpec:
    monkeypatch.setitem(PLATFORMS, PLATFORM, SPEC)
    return SPEC


def test_a_custom_read_flows_through_every_stage_with_the_ledger_holding(platform, run, settings: Settings,
                                                                        tmp_path: Path) -> None:
    export = tmp_path / "drop" / "schools.dat"
    export.parent.mkdir()
    export.write_bytes((_line("S001", "Lincoln Elementary", "school") + _line("S002", "Washington Middle", "school")
                        + _line("S003", "Nowhere", "moonbase")  # not an org type
                        + "S004\n"  # cut short: no name, no kind
                        + _line("S005", "Nul\x00Academy", "school")).encode())

    outcome = run(PLATFORM, [export.parent], "fw")

    schools = outcome.feeds[0]
    assert outcome.failure is None and schools.status == "ok", schools.line()
    assert (schools.received, schools.loaded, schools.quarantined) == (5, 2, 3), schools.line()
    assert schools.notes == ("schools.dat: 5 records (read by read_fixed_width)",)
    rules = pd.read_csv(schools.report).groupby("lineage_record_index")["rule"].apply(set).to_dict()
    assert rules == {2: {"one of the allowed org_type codes"}, 3: {"required"}, 4: {"NUL byte in record"}}
    engine = sa.create_engine(settings.warehouse_url)
    with engine.connect() as connection:
        loaded = connection.execute(sa.text("SELECT school_id, name, lineage_record_index, lineage_archive_key "
                                            "FROM school ORDER BY school_id")).all()
    engine.dispose()
    assert [(r.school_id, r.name, r.lineage_record_index) for r in loaded] == [
        ("S001", "Lincoln Elementary", 0), ("S002", "Washington Middle", 1)]
    assert all(r.lineage_archive_key.endswith("schools.dat") for r in loaded)


def test_bytes_a_custom_read_cannot_read_fail_the_run_naming_the_file(platform, run, tmp_path: Path) -> None:
    export = tmp_path / "drop" / "schools.dat"
    export.parent.mkdir()
    export.write_bytes(b"S001  \xff\xfe not UTF-8\n")

    outcome = run(PLATFORM, [export.parent], "fw")

    assert outcome.failure is not None and "schools.dat cannot be read" in outcome.failure
