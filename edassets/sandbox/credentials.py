"""Deterministic per-district credentials for the sandbox.

The sandbox and whoever talks to it (tests, the district registry, `edassets sandbox`)
derive the same secrets from (platform, district id, seed), so no secret is ever written to
a file or passed between processes. Which credentials a platform hands out, and how long
each is, its emulator says (`Emulator.credentials`). Every value is lower-case hex long
enough never to occur by chance, so a test can grep logs, archives and alerts for it to
prove no secret leaked.
"""

import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol

from edassets.sandbox.emulators import EMULATORS, emulator


class _HasDistrictId(Protocol):
    @property
    def district_id(self) -> str: ...


def _derive(district_id: str, seed: int, purpose: str, hex_chars: int) -> str:
    """A keyed hash of (seed, district, purpose): stable, unguessable without the seed, hex."""
    key = f"edassets-sandbox/{seed}".encode()
    digest = hmac.new(key, f"{district_id}/{purpose}".encode(), hashlib.sha256).hexdigest()
    while len(digest) < hex_chars:  # longer secrets chain the digest
        digest += hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()
    return digest[:hex_chars]


def sandbox_credentials(platform: str, district_id: str, seed: int) -> dict[str, str]:
    """The credentials a platform hands one district: name -> value.

    Args:
        platform: an emulated platform.
        district_id: the district id as the sandbox world names it.
        seed: the sandbox credential seed (`SandboxServer(seed=...)`).

    Returns:
        The same values for the same (platform, district, seed), different ones otherwise;
        empty for platforms that need none (file drops).
    """
    return {name: _derive(district_id, seed, f"{platform}_{name}", length)
            for name, length in emulator(platform).credentials.items()}


def env_var_name(district_id: str, platform: str, credential: str) -> str:
    """Environment variable a credential is published under, e.g. `SANDBOX_D_1_CLEVER_TOKEN`.

    Args:
        district_id: the district id (upper-cased, `-` becomes `_`).
        platform: the platform handing it out.
        credential: the credential's name.
    """
    return "_".join(("SANDBOX", district_id, platform, credential)).upper().replace("-", "_")


def env_vars(districts: Iterable[str | _HasDistrictId], seed: int) -> dict[str, str]:
    """Every district's credentials of every platform, as environment variables for `env:NAME` references.

    Args:
        districts: district ids, or objects with a `district_id` (the world's DistrictSpecs).
        seed: the sandbox credential seed.
    """
    variables: dict[str, str] = {}
    for district in districts:
        district_id = district if isinstance(district, str) else district.district_id
        for platform in EMULATORS:
            for name, value in sandbox_credentials(platform, district_id, seed).items():
                variables[env_var_name(district_id, platform, name)] = value
    return variables
