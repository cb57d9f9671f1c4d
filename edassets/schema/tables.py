"""SQLAlchemy tables generated from the entity declarations (the only place tables come from)."""

import sqlalchemy as sa

from edassets.schema.entities import ENTITIES
from edassets.schema.model import Entity

# Deterministic constraint names keep Alembic autogenerate diffs stable across dialects.
metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


def _table_for(entity: Entity) -> sa.Table:
    columns = [
        sa.Column(
            f.name,
            f.kind.sql_type,
            nullable=not f.required,
            comment=f.description,
        )
        for f in entity.all_fields
    ]
    indexes = [sa.Index(None, "district_id", r.field) for r in entity.references]
    return sa.Table(
        entity.name,
        metadata,
        *columns,
        sa.PrimaryKeyConstraint(*entity.key),
        *indexes,
        comment=entity.description,
    )


TABLES: dict[str, sa.Table] = {entity.name: _table_for(entity) for entity in ENTITIES}

# Operational, not part of the unified schema: the incremental high-water mark of each
# platform × feed × district. It moves only in the transaction that commits the load of
# the data fetched with it, so a failed load refetches the same window.
SYNC_CURSOR = sa.Table(
    "sync_cursor",
    metadata,
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("feed", sa.Text, nullable=False),
    sa.Column("district_id", sa.Text, nullable=False),
    sa.Column("cursor_value", sa.DateTime(timezone=True), nullable=False, comment="Latest modification time loaded (UTC)"),
    sa.Column("run_id", sa.Text, nullable=False, comment="Run whose load moved the cursor"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("platform", "feed", "district_id"),
    comment="Incremental fetch cursors; advanced only with a committed load.",
)


def table(entity: Entity) -> sa.Table:
    """The warehouse table of `entity`."""
    return TABLES[entity.name]
