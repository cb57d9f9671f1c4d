"""The vocabulary the unified schema is declared in: field kinds, fields, references, entities.

Each entity is declared once (in `entities.py`) with these typed objects; the pandera schema
(`validation.py`) and the SQLAlchemy table (`tables.py`) are both generated from it, so the
two can never drift apart (PUDL's field dictionary, without the giant dict literals).
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa


class Kind(enum.Enum):
    """The storage kind of a field: one pandas dtype and one SQL type each."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"

    @property
    def pandas_dtype(self) -> object:
        """The pandas dtype frames carry for this kind (Arrow-backed strings, nullable numbers)."""
        return _PANDAS_DTYPES[self]

    @property
    def sql_type(self) -> sa.types.TypeEngine:
        """The SQLAlchemy column type for this kind (timestamps are always UTC timestamptz)."""
        return _SQL_TYPES[self]()


_PANDAS_DTYPES: dict[Kind, object] = {
    Kind.STRING: pd.StringDtype("pyarrow"),
    Kind.INTEGER: pd.Int64Dtype(),
    Kind.FLOAT: pd.Float64Dtype(),
    Kind.BOOLEAN: pd.BooleanDtype(),
    # Dates travel as midnight timestamps because pandas has no nullable date dtype;
    # the warehouse column is a real DATE.
    Kind.DATE: "datetime64[ns]",
    Kind.TIMESTAMP: pd.DatetimeTZDtype(unit="ns", tz="UTC"),
}

_SQL_TYPES: dict[Kind, Callable[[], sa.types.TypeEngine]] = {
    Kind.STRING: sa.Text,
    Kind.INTEGER: sa.BigInteger,
    Kind.FLOAT: sa.Double,
    Kind.BOOLEAN: sa.Boolean,
    Kind.DATE: sa.Date,
    Kind.TIMESTAMP: lambda: sa.DateTime(timezone=True),
}


@dataclass(frozen=True)
class Field:
    """One column of an entity.

    Attributes:
        name: snake_case column name, the same in frames and in the warehouse.
        kind: storage kind.
        description: what the value means, shown in the Dagster UI and the docs.
        required: a row without a value is invalid.
        choices: the only values allowed (for codes such as CEDS grade levels).
        minimum: smallest allowed value (numbers).
        maximum: largest allowed value (numbers).
        pattern: regular expression a string value must fully match.
        not_future: a date or time after tomorrow is impossible (a birth date, a test taken).
    """

    name: str
    kind: Kind
    description: str
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    not_future: bool = False


@dataclass(frozen=True)
class Reference:
    """A field that must name an existing row of another entity in the same district.

    Attributes:
        field: the referencing column.
        entity: name of the referenced entity; its natural key is (district_id, <its id>).
        also: other (entity, column) pairs a value may name instead, e.g. a person's primary
            org is a school, or for district staff the district org itself.
    """

    field: str
    entity: str
    also: tuple[tuple[str, str], ...] = ()

    @property
    def targets(self) -> tuple[tuple[str, str | None], ...]:
        """(entity, column) pairs that satisfy the reference; None = the entity's own id."""
        return ((self.entity, None), *self.also)


@dataclass(frozen=True)
class Entity:
    """A table of the unified schema.

    Attributes:
        name: singular noun, also the warehouse table name.
        description: one sentence for the UI and the docs.
        key: natural key columns; loads upsert on them.
        fields: business columns, in order (lineage columns are added by `lineage_fields`).
        references: columns that must resolve to rows of other entities.
        soft_delete: the entity has `active` + `deactivated_at` and is never deleted.
    """

    name: str
    description: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    references: tuple[Reference, ...] = ()
    soft_delete: bool = False
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.all_fields}
        if len(by_name) != len(self.all_fields):
            raise ValueError(f"entity {self.name} declares a column twice")
        missing = [k for k in self.key if k not in by_name]
        if missing:
            raise ValueError(f"entity {self.name}: key columns {missing} are not fields")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """Business fields, then the soft-delete pair, then the lineage columns."""
        soft = SOFT_DELETE_FIELDS if self.soft_delete else ()
        return self.fields + soft + LINEAGE_FIELDS

    @property
    def column_names(self) -> list[str]:
        """All column names in declaration order."""
        return [f.name for f in self.all_fields]

    def field(self, name: str) -> Field:
        """The field called `name` (KeyError if the entity has none)."""
        return self._by_name[name]

    def has(self, name: str) -> bool:
        """Whether the entity has a column called `name`."""
        return name in self._by_name

    @property
    def id_column(self) -> str:
        """The entity's own id: the last natural-key column (the first is the district)."""
        return self.key[-1]

    @property
    def tombstone_required(self) -> tuple[str, ...]:
        """Columns a tombstone must still carry; empty for entities that are never deactivated.

        A tombstone is a row with ``active`` False in an incremental batch: the source says
        the record is gone (OneRoster ``status=tobedeleted`` in a delta file, K12_FORMATS
        §1.1). It names its record by the natural key and nothing else is promised: a delta
        deletion row may leave role, names and dates empty. It deactivates the warehouse row
        with that key, so it needs exactly the key and the lineage that says which archived
        record asked for it (``lineage_loaded_at`` is stamped by the load, not carried).

        Returns:
            The natural-key columns, then the lineage columns a parsed row always has.
        """
        if not self.soft_delete:
            return ()
        lineage = tuple(f.name for f in LINEAGE_FIELDS if f.required)
        return tuple(dict.fromkeys((*self.key, *lineage)))

    def tombstones(self, frame: pd.DataFrame) -> pd.Series:
        """Which rows of `frame` say their record is gone: ``active`` is False.

        NA (a status that did not parse) is not a deletion; it is quarantined for its status.
        Which batches may carry tombstones (incremental ones) is the validation stage's call.

        Args:
            frame: rows of this entity.

        Returns:
            Boolean mask aligned with `frame`; all False when the entity has no ``active``.
        """
        if not self.soft_delete or "active" not in frame.columns:
            return pd.Series(False, index=frame.index)
        return frame["active"].eq(False).fillna(False).astype(bool)


SOFT_DELETE_FIELDS: tuple[Field, ...] = (
    Field("active", Kind.BOOLEAN, "False once the source deleted the record or left it out of a snapshot", required=True),
    Field("deactivated_at", Kind.TIMESTAMP, "When the warehouse first saw the record gone (UTC)"),
)

# Decision 6: every loaded row knows where it came from, down to the raw bytes.
LINEAGE_FIELDS: tuple[Field, ...] = (
    Field("lineage_archive_key", Kind.STRING, "Archive object holding the raw bytes this row was parsed from", required=True),
    Field("lineage_record_index", Kind.INTEGER, "0-based record number inside that object (CSV: data line - 2)", required=True, minimum=0),
    Field("lineage_run_id", Kind.STRING, "Dagster run that parsed the row; also the correlation id of the fetch", required=True),
    Field("lineage_loaded_at", Kind.TIMESTAMP, "When the row was last written to the warehouse (UTC)"),
)

LINEAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in LINEAGE_FIELDS)


def district_field() -> Field:
    """The district column every entity starts with (the registry's normalised id)."""
    return Field("district_id", Kind.STRING, "District registry id, normalised to [a-z0-9_-]", required=True, pattern=r"[a-z0-9_-]+")


def source_platform_field() -> Field:
    """Which platform wrote the row; snapshot deactivation is scoped by it."""
    return Field("source_platform", Kind.STRING, "Platform the row came from", required=True)
