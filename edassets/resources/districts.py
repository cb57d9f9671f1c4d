"""The district registry: which districts exist, which platforms each uses, and how.

A YAML file maintained by operations (or written by `edassets import` for a new district).
It holds credential *references* (`env:NAME`), never secrets. Partition dimensions are
derived from it: a district appears only on the platforms it uses.

Every entry is validated when it is read and before it is written. A bad entry read from
the file disables that district only (one warning naming it and the problem; an operation
on it fails with the same line): one typo must not stop every other district.
"""

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import yaml

from edassets.platforms import PLATFORMS

_DISALLOWED = re.compile(r"[^a-z0-9_-]+")
_CREDENTIAL_REFERENCE = re.compile(r"env:[A-Za-z_][A-Za-z0-9_]*")
_log = logging.getLogger(__name__)
# The registry is re-read on every resource call and sensor tick; say each problem once per process.
_reported: set[str] = set()


class RegistryError(ValueError):
    """The registry file is unreadable, an entry is invalid, or a district is not registered.

    A ValueError: like any other bad input value, the command line reports it in one line.
    """


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
        """The credentials the platform declares, each `env:NAME` reference read from the environment.

        Raises:
            RegistryError: a declared credential is not registered, or its variable is not
                set (one line naming the credential or the variable, never a value).
        """
        references = self.credentials.get(platform, {})
        problem = _credential_problem(platform, references)
        if problem:
            raise RegistryError(f"district {self.id}: {problem}")
        env = os.environ if environ is None else environ
        resolved = {}
        for name, reference in references.items():
            variable = reference.removeprefix("env:")
            if variable not in env:
                raise RegistryError(f"district {self.id}: {platform} credential {name} needs environment variable {variable}")
            resolved[name] = env[variable]
        return resolved

    @property
    def zone(self) -> ZoneInfo:
        """The district's time zone."""
        return ZoneInfo(self.timezone)


def validate_district(district: District) -> None:
    """Check an entry before it is used or written.

    Raises:
        RegistryError: `district <id>: <problem>` for the first problem found; the message
            never repeats a credential value (it may be a pasted secret).
    """
    problem = _problem(district)
    if problem:
        raise RegistryError(f"district {district.id}: {problem}")


def _problem(district: District) -> str | None:
    """The first thing wrong with an entry, in words that name no credential value; None if nothing."""
    if district.id != normalize_district_id(district.id):
        return f"id {district.id!r} is not normalised (it would be {normalize_district_id(district.id)!r})"
    try:
        ZoneInfo(district.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {district.timezone!r} (expected an IANA name such as America/Chicago)"
    unknown = [p for p in district.platforms if p not in PLATFORMS]
    if unknown:
        return f"unknown platform {', '.join(map(repr, unknown))} (known: {', '.join(sorted(PLATFORMS))})"
    if district.roster_source is not None and district.roster_source not in district.platforms:
        return f"roster_source {district.roster_source!r} is not one of its platforms ({', '.join(district.platforms) or 'none'})"
    for platform, references in district.credentials.items():
        for name, reference in references.items():
            if not _CREDENTIAL_REFERENCE.fullmatch(reference):
                return f"{platform} credential {name} must be a reference like env:NAME, not a secret"
        problem = _credential_problem(platform, references)
        if problem:
            return problem
    return None


def _credential_problem(platform: str, references: Mapping[str, str]) -> str | None:
    """What is wrong with a district's credential names for `platform`, against what it declares; None if nothing.

    The names come from the platform's `ApiSpec.credentials`, declared once; a missing one
    is refused here, before any request, rather than by the auth code mid-run.
    """
    spec = PLATFORMS.get(platform)
    api = spec.api if spec else None
    declared = api.credentials if api else ()
    unknown = sorted(set(references) - set(declared))
    if unknown:
        return f"{platform} takes no credential {unknown[0]} (it takes {', '.join(declared) or 'none'})"
    missing = api.missing_credentials(references) if api else ()
    if missing:
        return (f"{platform} credential {missing[0]} is not registered (it takes {', '.join(declared)}, "
                "each a reference like env:NAME)")
    return None


def _district(entry: object) -> District:
    """An entry as YAML gives it, type-checked and validated.

    Raises:
        RegistryError: the entry is malformed or invalid.
    """
    if not isinstance(entry, dict) or entry.get("id") is None:
        raise RegistryError("every registry entry needs an id")
    raw_id = str(entry["id"])
    district_id = normalize_district_id(raw_id)

    def typed(key: str, kind: type, default: Any) -> Any:
        value = entry.get(key)
        if value is None:
            return default
        if not isinstance(value, kind):
            raise RegistryError(f"district {district_id}: {key} must be a {_YAML_KINDS[kind]}")
        return value

    credentials = typed("credentials", dict, {})
    if any(not isinstance(refs, dict) for refs in credentials.values()):
        raise RegistryError(f"district {district_id}: credentials must map each platform to {{name: env:NAME}}")
    district = District(
        id=district_id,
        name=str(entry.get("name") or raw_id),
        timezone=str(typed("timezone", str, "UTC")),
        platforms=tuple(str(p) for p in typed("platforms", list, [])),
        roster_source=entry.get("roster_source"),
        source_id=str(entry.get("source_id") or raw_id),
        endpoints={str(k): str(v) for k, v in typed("endpoints", dict, {}).items()},
        credentials={str(platform): {str(k): str(v) for k, v in refs.items()} for platform, refs in credentials.items()},
        active=typed("active", bool, True),
    )
    validate_district(district)
    return district


_YAML_KINDS = {str: "string", list: "list", dict: "mapping", bool: "boolean (true or false)"}


def _entry(district: District) -> dict[str, object]:
    """The YAML form of an entry."""
    return {
        "id": district.id, "name": district.name, "timezone": district.timezone, "platforms": list(district.platforms),
        "roster_source": district.roster_source, "source_id": district.source_id, "endpoints": district.endpoints,
        "credentials": district.credentials, "active": district.active,
    }


@dataclass(frozen=True)
class RejectedEntry:
    """A registry entry that failed validation: never used, but written back as it was.

    Attributes:
        district_id: its normalised id, when it has a usable one.
        problem: one line naming the district and what is wrong, and that it is disabled.
        entry: the entry exactly as the YAML held it (saving the registry must not lose it).
    """

    district_id: str | None
    problem: str
    entry: object


@dataclass(frozen=True)
class DistrictRegistry:
    """All districts, keyed by normalised id.

    Attributes:
        districts: the valid entries: only these are ever used.
        rejected: entries of the file that failed validation (their districts are disabled).
    """

    districts: dict[str, District]
    rejected: tuple[RejectedEntry, ...] = ()

    @classmethod
    def load(cls, path: Path) -> "DistrictRegistry":
        """Read the registry; a missing file is an empty registry.

        An invalid entry disables its district only: it is logged once per process and kept
        in `rejected`; every other district stays usable.

        Raises:
            RegistryError: the file is not YAML, or not a `districts:` list (no district can be told apart).
        """
        if not path.exists():
            return cls({})
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            # The first line says where; the rest is a drawing of the offending line.
            raise RegistryError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
        entries = document.get("districts") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise RegistryError(f"{path} must hold a `districts:` list of entries")
        districts: dict[str, District] = {}
        rejected = []
        for index, entry in enumerate(entries, start=1):
            try:
                district = _district(entry)
            except RegistryError as error:
                raw_id = entry.get("id") if isinstance(entry, dict) else None
                district_id = _usable_id(raw_id)
                subject = "" if district_id else f"entry {index}: "
                problem = f"{subject}{error}; the district is disabled until its entry in {path} is fixed"
                rejected.append(RejectedEntry(district_id, problem, entry))
                if problem not in _reported:
                    _reported.add(problem)
                    _log.warning(problem)
            else:
                districts[district.id] = district
        return cls(districts, tuple(rejected))

    def save(self, path: Path) -> None:
        """Write the registry back (used when the command line onboards a district).

        Rejected entries are written back exactly as they were read, for an operator to fix.
        """
        entries = [_entry(d) for d in self.districts.values()] + [r.entry for r in self.rejected]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"districts": entries}, sort_keys=False), encoding="utf-8")

    def get(self, district_id: str) -> District | None:
        """The district with this (normalised) id, if registered.

        Raises:
            RegistryError: its entry is invalid, so the district is disabled (the line says why).
        """
        for rejected in self.rejected:
            if rejected.district_id == district_id:
                raise RegistryError(rejected.problem)
        return self.districts.get(district_id)

    def using(self, platform: str) -> list[District]:
        """Active districts that use `platform`: the platform's district partition dimension."""
        return [d for d in self.districts.values() if d.active and platform in d.platforms]

    def with_district(self, district: District) -> "DistrictRegistry":
        """A registry with `district` added or replaced (a rejected entry of the same id included).

        Raises:
            RegistryError: the entry is invalid (see `validate_district`).
        """
        validate_district(district)
        kept = tuple(r for r in self.rejected if r.district_id != district.id)
        return DistrictRegistry({**self.districts, district.id: district}, kept)


def _usable_id(raw_id: object) -> str | None:
    """The normalised form of an entry's id, if it has one worth naming."""
    try:
        return normalize_district_id(str(raw_id)) if raw_id is not None else None
    except RegistryError:
        return None


def onboarding_entry(district: District) -> str:
    """`district` as the `onboarding` YAML a run's registry resource carries."""
    return yaml.safe_dump(_entry(district), sort_keys=False)


class DistrictRegistryResource(dg.ConfigurableResource):
    """The registry as a Dagster resource (read fresh on every call: operators edit the file).

    Attributes:
        path: the registry file.
        onboarding: YAML of one entry a command-line run is onboarding: visible to that run
            (its time zone is needed to parse), written to the file only after the run did not fail.
    """

    path: str
    onboarding: str = ""

    @classmethod
    def onboarding_run(cls, path: Path, district: District) -> "DistrictRegistryResource":
        """The resource of a run onboarding `district`: the registry at `path` plus that entry."""
        return cls(path=str(path), onboarding=onboarding_entry(district))

    def registry(self) -> DistrictRegistry:
        """The registry as it is on disk now, plus the entry being onboarded."""
        registry = DistrictRegistry.load(Path(self.path))
        return registry.with_district(_district(yaml.safe_load(self.onboarding))) if self.onboarding else registry

    def district(self, district_id: str) -> District:
        """The district's entry; an unregistered partition gets a UTC default entry.

        Raises:
            RegistryError: the district's entry is invalid (it is disabled until fixed).
        """
        return self.registry().get(district_id) or District(id=district_id, name=district_id)
