"""The district registry: which districts exist, which platforms each uses, and how.

A YAML file maintained by operations (or written by `edassets import` for a new district).
It holds credential *references* (`env:NAME`), never secrets. Partition dimensions are
derived from it: a district appears only on the platforms it uses.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import yaml

_DISALLOWED = re.compile(r"[^a-z0-9_-]+")


class RegistryError(Exception):
    """The registry file is unreadable or an entry is invalid."""


def normalize_district_id(source_id: str) -> str:
    """Make a district id safe for multi-partition keys, archive keys and URLs.

    Dagster multi-partition keys are `<date>|<district>` and a `|` or `,` in a district id
    breaks keys, UI selection and backfills (DAGSTER_NOTES 4), so ids are `[a-z0-9_-]`.

    Raises:
        RegistryError: nothing usable is left.
    """
    normalized = _DISALLOWED.sub("-", source_id.strip().lower()).strip("-")
    if not normalized:
        raise RegistryError("a district id needs at least one letter or digit")
    return normalized


@dataclass(frozen=True)
class District:
    """One registry entry.

    Attributes:
        id: normalised id, the partition key.
        name: display name.
        timezone: IANA zone the district's local times are in.
        platforms: platforms the district uses.
        roster_source: the platform that is its authoritative roster.
        source_id: the id as the district or its vendor writes it, before normalising.
        endpoints: platform -> base URL of the district's API (API platforms).
        credentials: platform -> {name: reference}, e.g. {"token": "env:CLEVER_TOKEN_D1"}:
            references only, resolved from the environment at run time.
        active: False once offboarded (partitions with history are never deleted).
    """

    id: str
    name: str
    timezone: str = "UTC"
    platforms: tuple[str, ...] = ()
    roster_source: str | None = None
    source_id: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    active: bool = True

    def resolve_credentials(self, platform: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The platform's credentials with every `env:NAME` reference read from the environment.

        Raises:
            RegistryError: a referenced variable is not set (the message names the variable, never a value).
        """
        env = os.environ if environ is None else environ
        resolved = {}
        for name, reference in self.credentials.get(platform, {}).items():
            variable = reference.removeprefix("env:")
            if variable not in env:
                raise RegistryError(f"district {self.id}: {platform} credential {name} needs environment variable {variable}")
            resolved[name] = env[variable]
        return resolved

    @property
    def zone(self) -> ZoneInfo:
        """The district's time zone."""
        return ZoneInfo(self.timezone)


def _district(entry: dict) -> District:
    try:
        raw_id = str(entry["id"])
    except KeyError:
        raise RegistryError("every registry entry needs an id") from None
    district = District(
        id=normalize_district_id(raw_id),
        name=str(entry.get("name", raw_id)),
        timezone=str(entry.get("timezone", "UTC")),
        platforms=tuple(entry.get("platforms", ())),
        roster_source=entry.get("roster_source"),
        source_id=str(entry.get("source_id", raw_id)),
        endpoints={str(k): str(v) for k, v in (entry.get("endpoints") or {}).items()},
        credentials={
            str(platform): {str(k): str(v) for k, v in (refs or {}).items()}
            for platform, refs in (entry.get("credentials") or {}).items()
        },
        active=bool(entry.get("active", True)),
    )
    try:
        ZoneInfo(district.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RegistryError(f"district {district.id}: unknown time zone {district.timezone!r}") from None
    if any(not ref.startswith("env:") for refs in district.credentials.values() for ref in refs.values()):
        raise RegistryError(f"district {district.id}: credentials must be references like env:NAME, not secrets")
    return district


@dataclass(frozen=True)
class DistrictRegistry:
    """All districts, keyed by normalised id."""

    districts: dict[str, District]

    @classmethod
    def load(cls, path: Path) -> "DistrictRegistry":
        """Read the registry; a missing file is an empty registry."""
        if not path.exists():
            return cls({})
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise RegistryError(f"{path} is not valid YAML: {error}") from None
        districts = [_district(entry) for entry in document.get("districts", [])]
        return cls({d.id: d for d in districts})

    def save(self, path: Path) -> None:
        """Write the registry back (used when the command line onboards a district)."""
        entries = [
            {
                "id": d.id, "name": d.name, "timezone": d.timezone, "platforms": list(d.platforms),
                "roster_source": d.roster_source, "source_id": d.source_id, "endpoints": d.endpoints,
                "credentials": d.credentials,
                "active": d.active,
            }
            for d in self.districts.values()
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"districts": entries}, sort_keys=False), encoding="utf-8")

    def get(self, district_id: str) -> District | None:
        """The district with this (normalised) id, if registered."""
        return self.districts.get(district_id)

    def using(self, platform: str) -> list[District]:
        """Active districts that use `platform`: the platform's district partition dimension."""
        return [d for d in self.districts.values() if d.active and platform in d.platforms]

    def with_district(self, district: District) -> "DistrictRegistry":
        """A registry with `district` added or replaced."""
        return DistrictRegistry({**self.districts, district.id: district})


class DistrictRegistryResource(dg.ConfigurableResource):
    """The registry as a Dagster resource (read fresh on every call: operators edit the file)."""

    path: str

    def registry(self) -> DistrictRegistry:
        """The registry as it is on disk now."""
        return DistrictRegistry.load(Path(self.path))

    def district(self, district_id: str) -> District:
        """The district's entry; an unregistered partition gets a UTC default entry."""
        return self.registry().get(district_id) or District(id=district_id, name=district_id)
