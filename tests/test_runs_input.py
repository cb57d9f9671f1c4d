"""What `run_platform` checks before anything runs, and when it writes the district registry."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import yaml

from edassets.assets.partitions import districts_partitions_name
from edassets.resources.districts import DistrictRegistry, DistrictRegistryResource, RegistryError
from edassets.runs import run_platform
from edassets.settings import Settings
from tests.world_drops import write_district_drop

BAD_ENTRY = {"id": "mars-base", "timezone": "Mars/Olympus", "platforms": ["oneroster_csv"]}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    return Settings(home=home, warehouse_url=f"sqlite:///{tmp_path / 'warehouse.db'}", archive_url=str(home / "archive"),
                    s3_endpoint_url=None, registry_path=home / "districts.yaml", drop_root=home / "dropbox",
                    go_live=date(2025, 7, 1))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def _registry_with(settings: Settings, *entries: dict) -> None:
    settings.registry_path.parent.mkdir(parents=True, exist_ok=True)
    settings.registry_path.write_text(yaml.safe_dump({"districts": list(entries)}), encoding="utf-8")


def test_a_bad_time_zone_is_refused_before_anything_is_written(settings: Settings, instance: dg.DagsterInstance) -> None:
    with pytest.raises(RegistryError, match="^district mars-base: unknown time zone 'Mars/Olympus'"):
        run_platform("nwea_map", "Mars Base", "2026-03-02", paths=["x.csv"], timezone="Mars/Olympus",
                     settings=settings, instance=instance)

    assert not settings.registry_path.exists()
    assert instance.get_dynamic_partitions(districts_partitions_name("nwea_map")) == []


@pytest.mark.parametrize(("entries", "missing"), [
    ((), "add an entry for it in"),
    (({"id": "cedar-usd", "platforms": ["oneroster_csv"]},), "add clever to its platforms in"),
])
def test_only_an_onboarding_run_may_add_a_district(settings: Settings, instance: dg.DagsterInstance,
                                                   entries: tuple[dict, ...], missing: str) -> None:
    _registry_with(settings, *entries)
    before = settings.registry_path.read_text()

    with pytest.raises(RegistryError) as refused:
        run_platform("clever", "cedar-usd", "2026-03-02", onboard=False, settings=settings, instance=instance)

    assert str(refused.value) == (f"district cedar-usd is not registered for clever: {missing} {settings.registry_path} "
                                  "(see README, 'The district registry'); only `edassets import` registers a district by itself")
    assert settings.registry_path.read_text() == before


def test_a_disabled_district_fails_with_its_line(settings: Settings, instance: dg.DagsterInstance) -> None:
    _registry_with(settings, BAD_ENTRY)

    with pytest.raises(RegistryError, match=f"^district mars-base: unknown time zone .* entry in {settings.registry_path} is fixed$"):
        run_platform("oneroster_csv", "mars-base", "2026-03-02", paths=["x"], settings=settings, instance=instance)


def test_a_bad_entry_leaves_other_districts_working_and_a_new_one_is_registered_after_its_run(
        settings: Settings, instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _registry_with(settings, BAD_ENTRY)
    files = write_district_drop(tmp_path / "drop", "aspen-usd")
    zones_seen = []
    district = DistrictRegistryResource.district

    def spy(self: DistrictRegistryResource, district_id: str):
        entry = district(self, district_id)
        zones_seen.append(entry.timezone)
        return entry

    monkeypatch.setattr(DistrictRegistryResource, "district", spy)

    # MAP alone: its students match no roster, so the gate blocks the load; that is not a failed run.
    outcome = run_platform("nwea_map", "Aspen USD", "2026-03-02", paths=[str(files.nwea_dir)],
                           timezone="America/Denver", settings=settings, instance=instance)

    assert outcome.failure is None, outcome.failure
    # The run read MAP's local test times in the new district's zone before the registry file had the district.
    assert zones_seen and set(zones_seen) == {"America/Denver"}
    registry = DistrictRegistry.load(settings.registry_path)
    assert registry.get("aspen-usd").platforms == ("nwea_map",)
    assert registry.get("aspen-usd").timezone == "America/Denver"
    assert [r.entry for r in registry.rejected] == [BAD_ENTRY]
