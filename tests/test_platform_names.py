"""A platform is one module and one emulator: no other production file names it."""

import re
from pathlib import Path

import pytest

import edassets
from edassets.platforms import PLATFORMS
from edassets.sandbox.emulators import EMULATORS

PACKAGE = Path(edassets.__file__).parent
# The two registries import each module by name: one line per platform, by design.
REGISTRIES = {PACKAGE / "platforms" / "__init__.py", PACKAGE / "sandbox" / "emulators" / "__init__.py"}


def _owners(platform: str) -> set[Path]:
    return {PACKAGE / "platforms" / f"{platform}.py", PACKAGE / "sandbox" / "emulators" / f"{platform}.py"}


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_only_the_platform_module_and_its_emulator_name_the_platform(platform: str) -> None:
    # Word boundaries: `clever_id` (a world id scheme) is not the platform `clever`.
    name = re.compile(rf"(?<![\w.]){re.escape(platform)}(?!\w)")
    naming = sorted(
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
        if path not in _owners(platform) | REGISTRIES and name.search(path.read_text(encoding="utf-8"))
    )
    assert naming == [], f"{platform} is named outside its module and emulator: {naming}"


def test_every_platform_has_an_emulator_of_the_same_name() -> None:
    assert set(EMULATORS) == set(PLATFORMS)
    for platform in PLATFORMS:
        assert _owners(platform) <= set(PACKAGE.rglob("*.py")), f"{platform} needs both a module and an emulator"


@pytest.mark.parametrize("platform", sorted(EMULATORS))
def test_an_emulator_never_imports_the_platform_module(platform: str) -> None:
    # The emulator renders the vendor's wire format on its own; built from the mapping it
    # would agree with it by construction, and the accuracy it measures would prove nothing.
    source = (PACKAGE / "sandbox" / "emulators" / f"{platform}.py").read_text(encoding="utf-8")
    assert "edassets.platforms" not in source
    assert "edassets.adapters" not in source
