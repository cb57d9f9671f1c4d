"""The sandbox's emulators, one per platform: register a new one in EMULATORS.

Each platform module in `edassets.platforms` has an emulator here of the same name; the
contract suite checks the pairing. See `base.py` for what an emulator declares.
"""

from edassets.sandbox.emulators.base import ApiEmulator, Emulator, FileEmulator
from edassets.sandbox.emulators.clever import CleverEmulator
from edassets.sandbox.emulators.nwea_map import NweaMapEmulator
from edassets.sandbox.emulators.oneroster_csv import OneRosterCsvEmulator
from edassets.sandbox.emulators.oneroster_rest import OneRosterRestEmulator
from edassets.sandbox.emulators.practice_app import PracticeAppEmulator
from edassets.sandbox.emulators.renaissance_star import RenaissanceStarEmulator

EMULATORS: dict[str, type[Emulator]] = {
    emulator.platform: emulator
    for emulator in (
        OneRosterCsvEmulator,
        OneRosterRestEmulator,
        CleverEmulator,
        NweaMapEmulator,
        RenaissanceStarEmulator,
        PracticeAppEmulator,
    )
}

__all__ = ["EMULATORS", "ApiEmulator", "Emulator", "FileEmulator", "emulator", "roster_platforms"]


def emulator(platform: str) -> type[Emulator]:
    """The emulator of `platform`.

    Raises:
        ValueError: the sandbox does not emulate it (the message lists what it does).
    """
    try:
        return EMULATORS[platform]
    except KeyError:
        raise ValueError(f"the sandbox does not emulate platform {platform!r}; known: {sorted(EMULATORS)}") from None


def roster_platforms() -> tuple[str, ...]:
    """Platforms that can be a district's authoritative roster."""
    return tuple(name for name, emulator_class in EMULATORS.items() if emulator_class.roster)
