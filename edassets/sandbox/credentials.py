"""Deterministic per-district credentials for the sandbox.

The sandbox and whoever talks to it (tests, the district registry, `edassets sandbox`)
derive the same secrets from (district id, seed), so no secret is ever written to a file
or passed between processes. Every value is lower-case hex long enough never to occur by
chance, so a test can grep logs, archives and alerts for it to prove no secret leaked.
"""

import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal, NamedTuple, Protocol

CredentialName = Literal["ONEROSTER_CLIENT_ID", "ONEROSTER_CLIENT_SECRET", "CLEVER_TOKEN"]
CREDENTIAL_NAMES: tuple[CredentialName, ...] = ("ONEROSTER_CLIENT_ID", "ONEROSTER_CLIENT_SECRET", "CLEVER_TOKEN")


class _HasDistrictId(Protocol):
    @property
    def district_id(self) -> str: ...


def _derive(district_id: str, seed: int, purpose: str, hex_chars: int) -> str:
    """A keyed hash of (seed, district, purpose): stable, unguessable without the seed, hex."""
    key = f"edassets-sandbox/{seed}".encode()
    digest = hmac.new(key, f"{district_id}/{purpose}".encode(), hashlib.sha256).hexdigest()
    return digest[:hex_chars]


class SandboxCredentials(NamedTuple):
    """The credentials one district's vendors hand out in the sandbox.

    Attributes:
        oneroster_client_id: OAuth 2 client id for the district's OneRoster REST server.
        oneroster_client_secret: the matching client secret.
        clever_token: the Clever district-app bearer token (K12_FORMATS §1.2: one token per
            district; it is what tells Clever which district a request is for).
    """

    oneroster_client_id: str
    oneroster_client_secret: str
    clever_token: str

    @classmethod
    def for_district(cls, district_id: str, seed: int) -> "SandboxCredentials":
        """Derive a district's credentials.

        Args:
            district_id: the district id as the sandbox world names it.
            seed: the sandbox credential seed (`SandboxServer(seed=...)`).

        Returns:
            The same three values for the same (district, seed), different ones otherwise.
        """
        return cls(
            oneroster_client_id=_derive(district_id, seed, "oneroster_client_id", 32),
            oneroster_client_secret=_derive(district_id, seed, "oneroster_client_secret", 64),
            # Real Clever district tokens are 40 hex characters.
            clever_token=_derive(district_id, seed, "clever_token", 40),
        )


def env_var_name(district_id: str, credential: CredentialName) -> str:
    """Environment variable a credential is published under, e.g. `SANDBOX_D_1_CLEVER_TOKEN`.

    Args:
        district_id: the district id (upper-cased, `-` becomes `_`).
        credential: which credential.
    """
    return f"SANDBOX_{district_id.upper().replace('-', '_')}_{credential}"


def env_vars(districts: Iterable[str | _HasDistrictId], seed: int) -> dict[str, str]:
    """Every district's credentials as environment variables, for `env:NAME` registry references.

    Args:
        districts: district ids, or objects with a `district_id` (the world's DistrictSpecs).
        seed: the sandbox credential seed.

    Returns:
        `SANDBOX_<DISTRICT>_ONEROSTER_CLIENT_ID`, `..._ONEROSTER_CLIENT_SECRET` and
        `..._CLEVER_TOKEN` for each district.
    """
    variables: dict[str, str] = {}
    for district in districts:
        district_id = district if isinstance(district, str) else district.district_id
        values = SandboxCredentials.for_district(district_id, seed)
        for name, value in zip(CREDENTIAL_NAMES, values, strict=True):
            variables[env_var_name(district_id, name)] = value
    return variables
