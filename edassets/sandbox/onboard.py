"""Onboarding sandbox districts: registry entries, credentials and file drops for a running sandbox."""

from collections.abc import Iterable
from pathlib import Path

from edassets.resources.districts import District
from edassets.sandbox.credentials import env_var_name, env_vars
from edassets.sandbox.emulators import EMULATORS, ApiEmulator, FileEmulator
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import World


def platforms_of(world: World, district_id: str) -> tuple[str, ...]:
    """What a sandbox district uses: its roster source, then every platform that is not a roster."""
    others = tuple(name for name, emulator in EMULATORS.items() if not emulator.roster)
    return (world.spec(district_id).roster_source, *others)


def sandbox_districts(world: World, server: SandboxServer) -> list[District]:
    """Registry entries for every district of the world, pointing at the running sandbox.

    Credentials are `env:` references; `sandbox_environment` gives their values.
    """
    districts = []
    for spec in world.options.districts:
        platforms = platforms_of(world, spec.district_id)
        districts.append(District(
            id=spec.district_id, name=spec.name, timezone=spec.timezone, platforms=platforms,
            roster_source=spec.roster_source, source_id=spec.district_id,
            endpoints={p: server.base_url(p, spec.district_id) for p in platforms
                       if issubclass(EMULATORS[p], ApiEmulator)},
            credentials={p: {name: f"env:{env_var_name(spec.district_id, p, name)}" for name in EMULATORS[p].credentials}
                         for p in platforms if EMULATORS[p].credentials},
        ))
    return districts


def sandbox_environment(world: World, seed: int) -> dict[str, str]:
    """The credential environment variables the registry entries refer to."""
    return env_vars(world.options.districts, seed)


def write_file_drops(server: SandboxServer, world: World, district_ids: Iterable[str], root: Path
                     ) -> dict[tuple[str, str], Path]:
    """Write each district's file drops, as of the day the server serves, into folders.

    The drops are what the server hands out (`SandboxServer.drop_files`): persistent faults,
    bad records included, are applied.

    Returns:
        (district id, platform) -> folder holding that platform's files.
    """
    folders = {}
    for district_id in district_ids:
        for platform in platforms_of(world, district_id):
            if not issubclass(EMULATORS[platform], FileEmulator):
                continue
            folder = root / district_id / server.today.isoformat() / platform
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in server.drop_files(platform, district_id).items():
                (folder / name).write_bytes(data)
            folders[(district_id, platform)] = folder
    return folders
