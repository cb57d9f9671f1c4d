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


def table(entity: Entity) -> sa.Table:
    """The warehouse table of `entity`."""
    return TABLES[entity.name]
