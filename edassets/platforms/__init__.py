"""Platform modules: one declarative spec each. Register a new platform in PLATFORMS (one line)."""

from edassets.adapters.spec import PlatformSpec
from edassets.platforms import clever, nwea_map, oneroster_csv, oneroster_rest, practice_app, renaissance_star

PLATFORMS: dict[str, PlatformSpec] = {
    spec.name: spec
    for spec in (
        oneroster_csv.SPEC,
        oneroster_rest.SPEC,
        clever.SPEC,
        nwea_map.SPEC,
        renaissance_star.SPEC,
        practice_app.SPEC,
    )
}


def platform(name: str) -> PlatformSpec:
    """The registered platform called `name`.

    Raises:
        KeyError: with the list of known platforms.
    """
    try:
        return PLATFORMS[name]
    except KeyError:
        raise KeyError(f"unknown platform {name!r}; known: {', '.join(sorted(PLATFORMS))}") from None
