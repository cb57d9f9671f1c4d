"""The `edassets` command line, run the way a user runs it (embedded defaults under a temp home).

Bad inputs are checked through the validation functions or refused before any run: only
the first three tests pay for a Dagster run.
"""

import csv
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from edassets import cli
from edassets.cli import UsageError, delivery_day, error_line, main
from edassets.platforms import PLATFORMS
from edassets.settings import Settings
from tests.shared_fixtures import shared_fixture

GO_LIVE = date(2025, 7, 1)
TODAY = date(2026, 3, 2)


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
    assert re.search(r"received\s+10,?\s+loaded\s+10\b.*quarantined\s+0\b", lines["persons"])
    assert re.search(r"received\s+24,?\s+loaded\s+24\b", lines["enrollments"])
    assert _count(home, "enrollment") == 24
    assert "grand-bend-isd" in (home / "districts.yaml").read_text()


def test_bad_records_never_make_the_import_exit_non_zero(home: Path, capsys: pytest.CaptureFixture) -> None:
    # The real MAP sample's students are not in any roster here: all unmatched, gate blocks.
    sample = shared_fixture("assessment_vendor_exports/MAP_Growth/sample_anonymized_file.csv")

    code = main(["import", "nwea_map", str(sample), "--district", "gb", "--date", "2026-03-02"])

    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"quarantined\s+7\b", out) and "BLOCKED by data quality gate" in out
    report = Path(out.split("report: ")[1].split()[0])
    assert len(list(csv.DictReader(report.open(newline="")))) == 7


def test_a_run_failure_exits_non_zero_with_a_one_line_reason(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty_drop"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an export")

    code = main(["import", "nwea_map", str(empty), "--district", "gb", "--date", "2026-03-02"])

    out = capsys.readouterr().out
    assert code == 1
    failure_lines = [line for line in out.splitlines() if "run failed" in line]
    assert len(failure_lines) == 1 and failure_lines[0].startswith("  run failed: nwea_map/assessment_results: ")
    # The district's first run failed: it is not registered (its partition may stay).
    assert not (home / "districts.yaml").exists()


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
    # Every registered platform takes part: each roster is one district's, the others every district's.
    for platform in PLATFORMS:
        assert f"{platform} 2026-01-19|" in out
    table = out.split("accuracy against the sandbox's ground truth")[1]
    assert "quarantined_correctly" in table and "make ui" in out
    assert "quarantine reports of the 2026-01-19 sync" in out  # the demo's bad records show
    assert _count(home, "person") > 1500
    assert Settings.from_env().archive_url in out


def test_the_command_line_answers_without_importing_dagster_or_pandas() -> None:
    # A fresh interpreter: this test process has long imported both.
    probe = (
        "import sys\n"
        "from edassets.cli import main\n"
        "for argv in (['--help'], ['import', '--help'], ['import', 'nwea_map']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert main(['import', 'nwea_map', 'x.csv', '--district', 'd', '--date', '03/02/2026']) == 2\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'pandas', 'sqlalchemy', 'requests'}),"
        " sorted(m for m in sys.modules if m.startswith(('edassets.platforms', 'edassets.sandbox'))))\n"
    )

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.splitlines()[-1] == "[] []"


@pytest.mark.parametrize("text", ["03/02/2026", "2026-3-2", "20260302", "2026-W10-1", "2026-02-30", "today", ""])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused_with_the_format_and_the_range(text: str) -> None:
    with pytest.raises(UsageError) as refused:
        delivery_day(text, GO_LIVE, today=TODAY)

    assert str(refused.value) == f"--date {text!r} is not a date: expected YYYY-MM-DD from 2025-07-01 (go-live) to 2026-03-02 (today, UTC)"


@pytest.mark.parametrize("text", ["2025-06-30", "2026-03-03", "2031-01-01"])
def test_a_day_without_a_partition_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match=f"^--date {text} has no partition: expected YYYY-MM-DD from 2025-07-01 .* to 2026-03-02"):
        delivery_day(text, GO_LIVE, today=TODAY)


def test_days_from_go_live_to_today_are_accepted_and_today_is_the_default() -> None:
    assert delivery_day("2025-07-01", GO_LIVE, today=TODAY) == "2025-07-01"
    assert delivery_day("2026-03-02", GO_LIVE, today=TODAY) == "2026-03-02"
    assert delivery_day(None, GO_LIVE, today=TODAY) == "2026-03-02"


def test_an_unexpected_error_is_one_line_with_its_type_and_no_secret(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture) -> None:
    def crash(_: object) -> int:
        raise RuntimeError("cannot reach postgresql+psycopg://etl:hunter2@db/warehouse with token=abc123\nsecond line")

    monkeypatch.setattr(cli, "_cmd_db_upgrade", crash)
    monkeypatch.delenv("EDASSETS_DEBUG", raising=False)

    code = main(["db", "upgrade"])

    assert code == 1
    assert capsys.readouterr().err == "edassets: RuntimeError: cannot reach postgresql+psycopg://etl:***@db/warehouse with token=***\n"


def test_edassets_debug_keeps_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(_: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_cmd_db_upgrade", crash)
    monkeypatch.setenv("EDASSETS_DEBUG", "1")

    with pytest.raises(RuntimeError, match="boom"):
        main(["db", "upgrade"])


def test_input_errors_are_one_line_without_their_type() -> None:
    assert error_line(KeyError("unknown platform 'x'; known: clever")) == "unknown platform 'x'; known: clever"
    assert error_line(FileNotFoundError(2, "No such file or directory", "drop.zip")) == "[Errno 2] No such file or directory: 'drop.zip'"
    assert error_line(RuntimeError()) == "RuntimeError"


def test_a_bad_time_zone_is_refused_and_not_registered(home: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["import", "nwea_map", "x.csv", "--district", "Mars Base", "--date", "2026-03-02", "--timezone", "Mars/Olympus"])

    assert code == 2
    assert capsys.readouterr().err == ("edassets: district mars-base: unknown time zone 'Mars/Olympus' "
                                       "(expected an IANA name such as America/Chicago)\n")
    assert not (home / "districts.yaml").exists()


@pytest.mark.parametrize("command", ["sync", "replay"])
def test_sync_and_replay_refuse_an_unknown_district(home: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                                    command: str) -> None:
    home.mkdir(parents=True)
    (home / "districts.yaml").write_text(yaml.safe_dump({"districts": [{"id": "mars-base", "timezone": "Mars/Olympus"}]}))

    code = main([command, "clever", "--district", "nowhere-usd", "--date", "2026-03-02"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.endswith(f"edassets: district nowhere-usd is not registered for clever: add an entry for it in {home / 'districts.yaml'} "
                        "(see README, 'The district registry'); only `edassets import` registers a district by itself\n")
    # The bad entry of another district is reported once, and left as it was.
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["district mars-base: unknown time zone 'Mars/Olympus'"]
    assert "nowhere-usd" not in (home / "districts.yaml").read_text()
