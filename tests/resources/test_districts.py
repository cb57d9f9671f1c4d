"""The district registry: entries are validated on the way in and out; a bad one disables only its district."""

import logging
from pathlib import Path

import pytest
import yaml

from edassets.resources.districts import (
    District,
    DistrictRegistry,
    DistrictRegistryResource,
    RegistryError,
    validate_district,
)

GOOD = {"id": "grand-bend-isd", "name": "Grand Bend ISD", "timezone": "America/Chicago",
        "platforms": ["oneroster_csv", "nwea_map"], "roster_source": "oneroster_csv",
        "credentials": {"clever": {"token": "env:GB_CLEVER_TOKEN"}}}


def _write(path: Path, *entries: object) -> Path:
    path.write_text(yaml.safe_dump({"districts": list(entries)}, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "problem"), [
    ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"timezone": "../etc/passwd"}, "unknown time zone"),
    ({"id": "Grand Bend ISD"}, "is not normalised (it would be 'grand-bend-isd')"),
    ({"platforms": ("oneroster_csv", "powerschool")}, "unknown platform 'powerschool' (known: "),
    ({"roster_source": "clever"}, "roster_source 'clever' is not one of its platforms (oneroster_csv, nwea_map)"),
    ({"credentials": {"clever": {"token": "env:"}}}, "clever credential token must be a reference like env:NAME"),
    # Credential names are the ones the platform's ApiSpec declares, and only those.
    ({"credentials": {"oneroster_rest": {"client_id": "env:GB_ID"}}},
     "oneroster_rest credential client_secret is not registered (it takes client_id, client_secret"),
    ({"credentials": {"clever": {"tokn": "env:GB_CLEVER_TOKEN"}}}, "clever takes no credential tokn (it takes token)"),
])
def test_an_invalid_entry_is_refused_in_one_line_naming_the_district(change: dict, problem: str) -> None:
    district = District(**{**GOOD, "platforms": tuple(GOOD["platforms"]), **change})

    with pytest.raises(RegistryError) as refused:
        validate_district(district)

    message = str(refused.value)
    assert message.startswith(f"district {district.id}: ") and problem in message
    assert "\n" not in message


def test_a_declared_credential_missing_at_run_time_fails_in_one_line_naming_it() -> None:
    district = District(**{**GOOD, "platforms": ("clever",), "roster_source": "clever", "credentials": {}})

    with pytest.raises(RegistryError) as refused:
        district.resolve_credentials("clever", environ={})

    assert str(refused.value) == ("district grand-bend-isd: clever credential token is not registered "
                                  "(it takes token, each a reference like env:NAME)")


def test_only_declared_credentials_are_resolved_and_values_never_named() -> None:
    district = District(**GOOD)

    assert district.resolve_credentials("clever", environ={"GB_CLEVER_TOKEN": "sk_live_abc123"}) == {
        "token": "sk_live_abc123"}
    with pytest.raises(RegistryError) as refused:
        district.resolve_credentials("clever", environ={})
    assert "GB_CLEVER_TOKEN" in str(refused.value) and "sk_live" not in str(refused.value)


def test_a_pasted_secret_is_refused_without_being_repeated() -> None:
    district = District(**{**GOOD, "platforms": tuple(GOOD["platforms"]),
                           "credentials": {"clever": {"token": "sk_live_abc123"}}})

    with pytest.raises(RegistryError, match="not a secret") as refused:
        validate_district(district)

    assert "sk_live_abc123" not in str(refused.value)


def test_a_valid_entry_passes_and_round_trips(tmp_path: Path) -> None:
    path = _write(tmp_path / "districts.yaml", GOOD)

    registry = DistrictRegistry.load(path)
    registry.save(path)

    assert DistrictRegistry.load(path) == registry
    assert registry.get("grand-bend-isd").zone.key == "America/Chicago"


def test_a_new_entry_is_validated_before_it_can_be_written(tmp_path: Path) -> None:
    path = _write(tmp_path / "districts.yaml", GOOD)

    with pytest.raises(RegistryError, match="district mars-base: unknown time zone 'Mars/Olympus'"):
        DistrictRegistry.load(path).with_district(District(id="mars-base", name="Mars", timezone="Mars/Olympus"))

    assert "mars-base" not in path.read_text()


def test_a_bad_entry_in_the_file_disables_that_district_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "districts.yaml", GOOD, {"id": "Mars Base", "timezone": "Mars/Olympus", "platforms": ["nwea_map"]})

    with caplog.at_level(logging.WARNING, logger="edassets.resources.districts"):
        registry = DistrictRegistry.load(path)
        DistrictRegistry.load(path)  # read again, as the resource does on every call: said once

    line = (f"district mars-base: unknown time zone 'Mars/Olympus' (expected an IANA name such as America/Chicago); "
            f"the district is disabled until its entry in {path} is fixed")
    assert [r.getMessage() for r in caplog.records] == [line]
    assert registry.get("grand-bend-isd") is not None
    assert [d.id for d in registry.using("nwea_map")] == ["grand-bend-isd"]
    with pytest.raises(RegistryError) as refused:
        registry.get("mars-base")
    assert str(refused.value) == line


def test_saving_keeps_a_rejected_entry_as_it_was_written(tmp_path: Path) -> None:
    bad = {"id": "mars-base", "timezone": "Mars/Olympus", "note": "kept as written"}
    path = _write(tmp_path / "districts.yaml", GOOD, bad)

    DistrictRegistry.load(path).with_district(District(id="birch-usd", name="Birch")).save(path)

    entries = yaml.safe_load(path.read_text())["districts"]
    assert [e["id"] for e in entries] == ["grand-bend-isd", "birch-usd", "mars-base"]
    assert entries[-1] == bad


def test_a_fixed_entry_replaces_the_rejected_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "districts.yaml", {"id": "mars-base", "timezone": "Mars/Olympus"})

    fixed = DistrictRegistry.load(path).with_district(District(id="mars-base", name="Mars", timezone="UTC"))

    assert fixed.rejected == () and fixed.get("mars-base").timezone == "UTC"


@pytest.mark.parametrize(("entry", "problem"), [
    ({"name": "no id"}, "entry 1: every registry entry needs an id"),
    ("just-a-string", "entry 1: every registry entry needs an id"),
    ({"id": "!!!"}, "entry 1: a district id needs at least one letter or digit"),
    ({"id": "d1", "platforms": "nwea_map"}, "district d1: platforms must be a list"),
    ({"id": "d1", "active": "no"}, "district d1: active must be a boolean (true or false)"),
    ({"id": "d1", "endpoints": ["https://x"]}, "district d1: endpoints must be a mapping"),
    ({"id": "d1", "credentials": {"clever": "env:T"}}, "district d1: credentials must map each platform"),
])
def test_a_malformed_entry_is_rejected_not_a_traceback(tmp_path: Path, entry: object, problem: str) -> None:
    registry = DistrictRegistry.load(_write(tmp_path / "districts.yaml", entry, GOOD))

    assert [r.problem.startswith(problem) for r in registry.rejected] == [True], registry.rejected
    assert list(registry.districts) == ["grand-bend-isd"]


def test_a_file_that_is_not_a_registry_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "districts.yaml"
    path.write_text("districts: {id: d1\n")
    with pytest.raises(RegistryError, match="is not valid YAML: "):
        DistrictRegistry.load(path)

    path.write_text("- id: d1\n")
    with pytest.raises(RegistryError, match="must hold a `districts:` list"):
        DistrictRegistry.load(path)


def test_the_resource_refuses_a_disabled_district_and_sees_the_one_being_onboarded(tmp_path: Path) -> None:
    path = _write(tmp_path / "districts.yaml", {"id": "mars-base", "timezone": "Mars/Olympus"})
    onboarding = District(id="new-isd", name="New ISD", timezone="America/Denver", platforms=("nwea_map",), source_id="New ISD")

    resource = DistrictRegistryResource.onboarding_run(path, onboarding)

    assert resource.district("new-isd") == onboarding
    assert [d.id for d in resource.registry().using("nwea_map")] == ["new-isd"]
    assert "new-isd" not in path.read_text()
    with pytest.raises(RegistryError, match="district mars-base: unknown time zone"):
        resource.district("mars-base")
    assert DistrictRegistryResource(path=str(path)).district("other").timezone == "UTC"
