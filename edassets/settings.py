"""Where things live, from the environment, with embedded defaults (ARCHITECTURE decision 8).

With nothing set, everything lives under `./.edassets`: a SQLite warehouse, a local archive
folder, the district registry and Dagster's own SQLite storage. Production sets URLs.
"""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Locations and defaults of one edassets installation.

    Attributes:
        home: base folder of the embedded defaults (EDASSETS_HOME, default ./.edassets).
        warehouse_url: SQLAlchemy URL of the warehouse (EDASSETS_WAREHOUSE_URL).
        archive_url: archive location, a folder or s3://bucket/prefix (EDASSETS_ARCHIVE_URL).
        s3_endpoint_url: S3-compatible endpoint for the archive (EDASSETS_S3_ENDPOINT_URL).
        registry_path: the district registry YAML (EDASSETS_DISTRICTS).
        drop_root: where districts' files wait when no paths are given (EDASSETS_DROP_ROOT).
        go_live: first day of the daily partitions (EDASSETS_GO_LIVE): partitions are
            delivery days, so they start when the platform went live, not years back.
    """

    home: Path
    warehouse_url: str
    archive_url: str
    s3_endpoint_url: str | None
    registry_path: Path
    drop_root: Path
    go_live: date

    @property
    def dagster_home(self) -> Path:
        """DAGSTER_HOME used by the command line when none is set."""
        return self.home / "dagster"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        """Read settings from `environ` (default: os.environ).

        Raises:
            ValueError: EDASSETS_GO_LIVE is not a YYYY-MM-DD date (the message names the variable).
        """
        env = os.environ if environ is None else environ
        go_live = env.get("EDASSETS_GO_LIVE", "2025-07-01")
        try:
            first_day = date.fromisoformat(go_live)
        except ValueError:
            raise ValueError(f"EDASSETS_GO_LIVE must be a date YYYY-MM-DD, not {go_live!r}") from None
        home = Path(env.get("EDASSETS_HOME", ".edassets")).resolve()
        return cls(
            home=home,
            warehouse_url=env.get("EDASSETS_WAREHOUSE_URL", f"sqlite:///{home / 'warehouse.db'}"),
            archive_url=env.get("EDASSETS_ARCHIVE_URL", str(home / "archive")),
            s3_endpoint_url=env.get("EDASSETS_S3_ENDPOINT_URL") or None,
            registry_path=Path(env.get("EDASSETS_DISTRICTS", str(home / "districts.yaml"))),
            drop_root=Path(env.get("EDASSETS_DROP_ROOT", str(home / "dropbox"))),
            go_live=first_day,
        )

    def as_env(self) -> dict[str, str]:
        """The environment `from_env` reads these settings back from (to rebuild them elsewhere)."""
        env = {
            "EDASSETS_HOME": str(self.home),
            "EDASSETS_WAREHOUSE_URL": self.warehouse_url,
            "EDASSETS_ARCHIVE_URL": self.archive_url,
            "EDASSETS_DISTRICTS": str(self.registry_path),
            "EDASSETS_DROP_ROOT": str(self.drop_root),
            "EDASSETS_GO_LIVE": self.go_live.isoformat(),
        }
        if self.s3_endpoint_url:
            env["EDASSETS_S3_ENDPOINT_URL"] = self.s3_endpoint_url
        return env
