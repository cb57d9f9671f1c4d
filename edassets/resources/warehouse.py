"""The warehouse: one SQLAlchemy engine (SQLite by default, PostgreSQL by URL) and its queries.

All SQL of the platform lives here, in `loader.py` and in `migrations/`.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from pydantic import PrivateAttr
from sqlalchemy.dialects import postgresql, sqlite

from edassets.resources.loader import LoadStats, SnapshotScope, deactivate_keys, upsert_frame
from edassets.schema.entities import ENTITIES_BY_NAME, PERSON_IDENTIFIER
from edassets.schema.model import LINEAGE_COLUMNS, Entity
from edassets.schema.tables import SYNC_CURSOR, table

_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
# Parameters per IN list: well below SQLite's and psycopg's limits.
_LOOKUP_CHUNK = 5_000
_STRING = pd.StringDtype("pyarrow")
# Small scopes may legitimately lose a few rows at once (a school closes a class or two).
_MASS_DEACTIVATION_FLOOR = 10


class MassDeactivationError(Exception):
    """A snapshot would deactivate a suspicious share of a district's records."""


@dataclass(frozen=True)
class CursorAdvance:
    """Move an incremental cursor, in the same transaction as the load of the data it covers."""

    platform: str
    feed: str
    district_id: str
    value: datetime
    run_id: str


def _advance_cursor(connection: sa.Connection, advance: CursorAdvance, now: datetime) -> None:
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(SYNC_CURSOR).values(
        platform=advance.platform, feed=advance.feed, district_id=advance.district_id,
        cursor_value=advance.value, run_id=advance.run_id, updated_at=now,
    )
    # A cursor never moves backwards, even when an older partition is re-materialized.
    statement = statement.on_conflict_do_update(
        index_elements=["platform", "feed", "district_id"],
        set_={"cursor_value": statement.excluded.cursor_value, "run_id": statement.excluded.run_id,
              "updated_at": statement.excluded.updated_at},
        where=SYNC_CURSOR.c.cursor_value < statement.excluded.cursor_value,
    )
    connection.execute(statement)


def upgrade_schema(url: str) -> None:
    """Apply every Alembic migration to the warehouse at `url` (idempotent)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # The embedded default lives in a folder that may not exist on a fresh machine.
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _LOOKUP_CHUNK):
        yield values[start : start + _LOOKUP_CHUNK]


class WarehouseResource(dg.ConfigurableResource):
    """The shared warehouse every platform loads into."""

    url: str
    _engine: sa.Engine | None = PrivateAttr(default=None)

    def engine(self) -> sa.Engine:
        """The engine, created once per resource instance."""
        if self._engine is None:
            self._engine = sa.create_engine(self.url)
        return self._engine

    def load(
        self,
        entity: Entity,
        frame: pd.DataFrame,
        *,
        snapshot_of: dict[str, str] | None,
        now: datetime,
        quarantined: pd.DataFrame | None = None,
        max_deactivated_share: float = 1.0,
        cursor: CursorAdvance | None = None,
        tombstones: pd.DataFrame | None = None,
    ) -> LoadStats:
        """Upsert one validated batch in one transaction.

        Args:
            entity: the target entity.
            frame: validated rows.
            snapshot_of: when the batch is a complete snapshot, the scope it covers
                (district and platform): active rows of that scope missing from it are deactivated.
            now: load time (UTC): stamped as lineage_loaded_at and deactivated_at.
            quarantined: rows of the same snapshot held back by validation; a student
                quarantined for a typo is still enrolled, so their rows stay active.
            max_deactivated_share: refuse (roll back) a snapshot that would deactivate more
                than this share of the scope's active rows.
            cursor: incremental cursor to advance when (and only if) this load commits.
            tombstones: keys (and lineage) of delta deletions to deactivate by key alone;
                counted as updated when they deactivate an active row, else unchanged.

        Raises:
            MassDeactivationError: the snapshot would deactivate too much; nothing was written.
        """
        rows = frame.assign(lineage_loaded_at=pd.Timestamp(now))
        target = table(entity)
        with self.engine().begin() as connection:
            active_before = 0
            if snapshot_of:
                scope = [target.c[column] == value for column, value in snapshot_of.items()]
                active_before = connection.scalar(sa.select(sa.func.count()).where(*scope, target.c.active)) or 0
            stats = upsert_frame(
                connection,
                target,
                rows,
                key=entity.key,
                lineage=LINEAGE_COLUMNS,
                snapshot=SnapshotScope(snapshot_of, retained=quarantined) if snapshot_of else None,
                now=now,
            )
            # Raising inside the transaction rolls the whole load back.
            if stats.deactivated > _MASS_DEACTIVATION_FLOOR and stats.deactivated > max_deactivated_share * active_before:
                raise MassDeactivationError(
                    f"{entity.name}: this snapshot would deactivate {stats.deactivated} of {active_before} active rows "
                    f"(more than {max_deactivated_share:.0%}); nothing was loaded. A truncated export looks like this; "
                    "if the district really dropped them, raise the platform's max_deactivation threshold for one run"
                )
            if tombstones is not None and len(tombstones):
                gone = deactivate_keys(connection, target, tombstones, key=entity.key, now=now)
                stats = replace(stats, received=stats.received + len(tombstones), updated=stats.updated + gone,
                                unchanged=stats.unchanged + len(tombstones) - gone)
            if cursor is not None:
                _advance_cursor(connection, cursor, now)
            return stats

    def district_rows(self, entity_name: str, district_id: str) -> pd.DataFrame:
        """Every row of an entity for one district, as stored (for audits and accuracy checks)."""
        target = table(ENTITIES_BY_NAME[entity_name])
        with self.engine().connect() as connection:
            return pd.read_sql(sa.select(target).where(target.c.district_id == district_id), connection)

    def cursor(self, platform: str, feed: str, district_id: str) -> datetime | None:
        """The committed incremental cursor of a platform feed for a district, if any."""
        query = sa.select(SYNC_CURSOR.c.cursor_value).where(
            SYNC_CURSOR.c.platform == platform, SYNC_CURSOR.c.feed == feed, SYNC_CURSOR.c.district_id == district_id
        )
        with self.engine().connect() as connection:
            value = connection.scalar(query)
        # SQLite hands back naive datetimes; the column is UTC by construction.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def existing_ids(self, entity_name: str, district_id: str, ids: Iterable[str], *, column: str | None = None) -> set[str]:
        """Which of `ids` name rows of `entity_name` in the district (active or not).

        An inactive row still resolves a reference: a withdrawn student's old results stay true.

        Args:
            entity_name: the referenced entity.
            district_id: the district.
            ids: values to look for.
            column: the column they must appear in (default: the entity's own id).
        """
        entity = ENTITIES_BY_NAME[entity_name]
        target = table(entity)
        id_column = target.c[column or entity.id_column]
        found: set[str] = set()
        with self.engine().connect() as connection:
            for chunk in _chunks(sorted(set(ids))):
                query = sa.select(id_column).where(target.c.district_id == district_id, id_column.in_(chunk))
                found.update(connection.scalars(query))
        return found

    def person_ids(self, district_id: str, external_ids: pd.Series, id_types: tuple[str, ...]) -> pd.Series:
        """Canonical person ids for a platform's person ids, through the crosswalk.

        An id matches as written first. A numeric id the crosswalk lacks then matches the
        same number written with or without leading zeros: SIS numbers are numbers to many
        vendors, which write `0012345` as `12345` (K12_FORMATS §3 #20), while a roster keeps
        the zeros (and the world's or a district's SIS may pad). Only a number naming one
        person that way matches; two crosswalk rows of different persons leave it unmatched.

        Args:
            district_id: the district.
            external_ids: the platform's ids (NA allowed).
            id_types: crosswalk id types to try, in order of trust.

        Returns:
            Person ids aligned with `external_ids`, NA where no crosswalk row matches.
        """
        crosswalk = table(PERSON_IDENTIFIER)
        wanted = sorted(set(external_ids.dropna()))
        numbers = sorted(set(_unpadded(pd.Series(wanted, dtype=_STRING)).dropna()))
        resolved = pd.Series(pd.NA, index=external_ids.index, dtype=_STRING)
        with self.engine().connect() as connection:
            for id_type in id_types:
                scope = sa.select(crosswalk.c.external_id, crosswalk.c.person_id, crosswalk.c.active).where(
                    crosswalk.c.district_id == district_id, crosswalk.c.id_type == id_type)
                if len(wanted) + len(numbers) > _LOOKUP_CHUNK:
                    # The key leads with (district, platform), so `external_id IN (…)` without
                    # the platform scans the district's identifiers once per chunk. Reading
                    # them once and matching here took a 200,000-row MAP file's validation
                    # on SQLite from 29 s to 5.5 s.
                    rows = connection.execute(scope).all()
                else:
                    # ltrim finds every padding of the numbers; `_unpadded` below decides.
                    rows = connection.execute(scope.where(sa.or_(
                        crosswalk.c.external_id.in_(wanted), sa.func.ltrim(crosswalk.c.external_id, "0").in_(numbers)))).all()
                # An active identifier wins; a withdrawn student's inactive one still names them,
                # so their earlier results keep resolving after they leave.
                found = pd.DataFrame(rows, columns=["external_id", "person_id", "active"])
                found = found.sort_values("active", ascending=False, kind="stable")
                exact = found.drop_duplicates("external_id")
                matches = dict(zip(exact["external_id"], exact["person_id"], strict=True))
                resolved = resolved.fillna(external_ids.map(matches).astype(_STRING))
                number = _unpadded(found["external_id"].astype(_STRING))
                persons = found.assign(number=number).dropna(subset="number").drop_duplicates(["number", "person_id"])
                single = persons.drop_duplicates("number", keep=False)
                by_number = dict(zip(single["number"], single["person_id"], strict=True))
                resolved = resolved.fillna(_unpadded(external_ids.astype(_STRING)).map(by_number).astype(_STRING))
        return resolved


def _unpadded(ids: pd.Series) -> pd.Series:
    """All-digit ids without leading zeros ("0042" -> "42", "000" -> ""); NA for any other id."""
    digits = ids.str.fullmatch(r"\d+").fillna(False).astype(bool)
    return ids.str.lstrip("0").where(digits)
