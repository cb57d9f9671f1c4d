"""Onboarding sandbox districts: registry entries, credentials and file drops for a running sandbox."""

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from edassets.resources.districts import District
from edassets.sandbox import render
from edassets.sandbox.credentials import CredentialName, env_var_name, env_vars
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import World

FILE_PLATFORMS = ("oneroster_csv", "nwea_map")


def platforms_of(world: World, district_id: str) -> tuple[str, ...]:
    """What a sandbox district uses: its roster source, then MAP Growth."""
    return (world.spec(district_id).roster_source, "nwea_map")


def sandbox_districts(world: World, server: SandboxServer) -> list[District]:
    """Registry entries for every district of the world, pointing at the running sandbox.

    Credentials are `env:` references; `sandbox_environment` gives their values.
    """
    districts = []
    for spec in world.options.districts:
        def ref(name: CredentialName, district_id: str = spec.district_id) -> str:
            return f"env:{env_var_name(district_id, name)}"

        roster = spec.roster_source
        endpoints = {roster: server.base_url(roster, spec.district_id)} if roster not in FILE_PLATFORMS else {}
        credentials = {
            "oneroster_rest": {"client_id": ref("ONEROSTER_CLIENT_ID"), "client_secret": ref("ONEROSTER_CLIENT_SECRET")},
            "clever": {"token": ref("CLEVER_TOKEN")},
        }
        districts.append(District(
            id=spec.district_id, name=spec.name, timezone=spec.timezone, platforms=platforms_of(world, spec.district_id),
            roster_source=roster, source_id=spec.district_id, endpoints=endpoints,
            credentials={p: c for p, c in credentials.items() if p == roster},
        ))
    return districts


def sandbox_environment(world: World, seed: int) -> dict[str, str]:
    """The credential environment variables the registry entries refer to."""
    return env_vars(world.options.districts, seed)


def write_file_drops(world: World, district_ids: Iterable[str], as_of: date, root: Path) -> dict[tuple[str, str], Path]:
    """Write each district's OneRoster CSV bundle and MAP export as of a day.

    Returns:
        (district id, platform) -> folder holding that platform's files.
    """
    folders = {}
    for district_id in district_ids:
        state = world.state(district_id, as_of)
        for platform, files in (("oneroster_csv", render.oneroster_csv_files(state)), ("nwea_map", render.nwea_map_files(state))):
            folder = root / district_id / as_of.isoformat() / platform
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (folder / name).write_bytes(data)
            folders[(district_id, platform)] = folder
    return folders
