"""Fixtures for running whole platform graphs through Dagster on throwaway installations."""

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from edassets.runs import ImportOutcome, run_platform
from edassets.settings import Settings
from tests.world_drops import DistrictDrop, write_district_drop

DAY = "2026-03-02"


def make_settings(home: Path, **overrides: object) -> Settings:
    """Settings of an installation living entirely under `home` (SQLite + local archive)."""
    values: dict[str, object] = {
        "home": home,
        "warehouse_url": f"sqlite:///{home / 'warehouse.db'}",
        "archive_url": str(home / "archive"),
        "s3_endpoint_url": None,
        "registry_path": home / "districts.yaml",
        "drop_root": home / "dropbox",
        "go_live": date(2025, 7, 1),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    # In-memory storage: the same event log and check records as SQLite, minus the disk I/O.
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


Importer = Callable[..., ImportOutcome]


def assert_ledgers_balance(outcome: ImportOutcome) -> None:
    """Every pipeline a test runs proves its conservation equation, whatever else it asserts."""
    unbalanced = {f.feed: f.ledger.imbalance() for f in outcome.feeds if f.ledger.imbalance()}
    assert not unbalanced, unbalanced
    assert outcome.failure is None or "does not balance" not in outcome.failure, outcome.failure


@pytest.fixture
def run(settings: Settings, instance: dg.DagsterInstance) -> Importer:
    """`run(platform, paths, district, day=DAY)` imports through the real job on the test instance."""

    def _run(platform: str, paths: list[Path], district: str, day: str = DAY, **kwargs: object) -> ImportOutcome:
        outcome = run_platform(platform, district, day, paths=[str(p) for p in paths], timezone="America/Chicago",
                               settings=kwargs.pop("settings", settings), instance=instance, **kwargs)
        assert_ledgers_balance(outcome)
        return outcome

    return _run


@pytest.fixture
def district_files(tmp_path: Path) -> Callable[..., DistrictDrop]:
    """Write the smallest district of the sandbox world (`district_files(name, **options)`)."""

    def _write(name: str, **options: object) -> DistrictDrop:
        return write_district_drop(tmp_path / "drops" / name, name, **options)  # type: ignore[arg-type]

    return _write
