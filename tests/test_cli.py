"""The `edassets` command line, run the way a user runs it (embedded defaults under a temp home)."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from edassets.cli import main
from edassets.settings import Settings
from tests.shared_fixtures import shared_fixture


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDASSETS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return tmp_path / "home"


def _count(home: Path, table: str) -> int:
    engine = sa.create_engine(f"sqlite:///{home / 'warehouse.db'}")
    with engine.connect() as connection:
        count = connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
    engine.dispose()
    return int(count)


def test_import_of_the_real_oneroster_sample_prints_one_line_per_feed(home: Path, capsys: pytest.CaptureFixture) -> None:
    bundle = shared_fixture("oneroster_csv/v1p1_edfi_lmstoolkit_grandbend")

    code = main(["import", "oneroster_csv", str(bundle), "--district", "Grand Bend ISD", "--date", "2026-03-02"])

    out = capsys.readouterr().out
    assert code == 0
    assert "oneroster_csv 2026-03-02|grand-bend-isd" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "received      10  loaded      10  quarantined      0" in lines["persons"]
    assert "received      24  loaded      24" in lines["enrollments"]
    assert _count(home, "enrollment") == 24
    assert "grand-bend-isd" in (home / "districts.yaml").read_text()


def test_bad_records_never_make_the_import_exit_non_zero(home: Path, capsys: pytest.CaptureFixture) -> None:
    # The real MAP sample's students are not in any roster here: all unmatched, gate blocks.
    sample = shared_fixture("assessment_vendor_exports/MAP_Growth/sample_anonymized_file.csv")

    code = main(["import", "nwea_map", str(sample), "--district", "gb", "--date", "2026-03-02"])

    out = capsys.readouterr().out
    assert code == 0
    assert "quarantined      7" in out and "BLOCKED by data quality gate" in out
    report = Path(out.split("report: ")[1].split()[0])
    assert report.read_text().count("unmatched person") == 7


def test_a_run_failure_exits_non_zero_with_a_one_line_reason(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty_drop"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an export")

    code = main(["import", "nwea_map", str(empty), "--district", "gb", "--date", "2026-03-02"])

    out = capsys.readouterr().out
    assert code == 1
    failure_lines = [line for line in out.splitlines() if "run failed" in line]
    assert failure_lines == ["  run failed: nwea_map/assessment_results: AssessmentResults.csv is not in the drop"]


def test_unknown_platform_is_a_clear_error(home: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["import", "no_such_platform", ".", "--district", "d1"])

    assert code == 2
    assert "unknown platform 'no_such_platform'" in capsys.readouterr().err


def test_db_upgrade_creates_the_warehouse(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["db", "upgrade"]) == 0
    assert _count(home, "person") == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_syncs_the_sandbox_and_prints_the_accuracy_table(home: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["demo", "--students", "500"])

    out = capsys.readouterr().out
    assert code == 0
    for district, platform in (("maple-usd", "oneroster_csv"), ("cedar-usd", "oneroster_rest"), ("birch-usd", "clever")):
        assert f"{platform} 2026-01-19|{district}" in out and f"nwea_map 2026-01-19|{district}" in out
    table = out.split("accuracy against the sandbox's ground truth")[1]
    assert "quarantined_correctly" in table and "make ui" in out
    assert _count(home, "person") > 1500
    assert Settings.from_env().archive_url in out
