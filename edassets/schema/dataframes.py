"""pandera schemas generated from the entity declarations."""

from collections.abc import Mapping

import pandas as pd
import pandera.pandas as pa

from edassets.schema.model import Entity, Field

# Set at load time, after validation: a validated frame does not carry it yet.
LOAD_TIME_COLUMNS: frozenset[str] = frozenset({"lineage_loaded_at"})


def _checks(field: Field, bounds: tuple[float, float] | None) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if field.choices is not None:
        checks.append(pa.Check.isin(list(field.choices), error=f"one of the allowed {field.name} codes"))
    low, high = bounds if bounds is not None else (field.minimum, field.maximum)
    if low is not None:
        checks.append(pa.Check.ge(low))
    if high is not None:
        checks.append(pa.Check.le(high))
    if field.pattern is not None:
        checks.append(pa.Check.str_matches(f"^(?:{field.pattern})$"))
    if field.not_future:
        checks.append(pa.Check(_not_future, error="not in the future"))
    return checks


def _not_future(values: pd.Series) -> pd.Series:
    # A day of slack: a test taken this evening in Hawaii is already tomorrow in UTC.
    limit = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
    return values <= (limit if values.dt.tz is not None else limit.tz_localize(None))


def dataframe_schema(entity: Entity, bounds: Mapping[str, tuple[float, float]] | None = None) -> pa.DataFrameSchema:
    """The pandera schema a batch of `entity` rows must pass before it may be loaded.

    Args:
        entity: the entity declaration.
        bounds: per-feed tighter numeric ranges (a RIT score is 100–350, a Star score is
            not), overriding the entity's own minimum/maximum for those columns.

    Returns:
        A schema that is strict about columns, coerces dtypes and reports every failure
        lazily; duplicate natural keys fail on every occurrence after the first.
    """
    bounds = bounds or {}
    columns = {
        f.name: pa.Column(
            f.kind.pandas_dtype,
            checks=_checks(f, bounds.get(f.name)),
            nullable=not f.required,
            coerce=True,
            description=f.description,
        )
        for f in entity.all_fields
        if f.name not in LOAD_TIME_COLUMNS
    }
    return pa.DataFrameSchema(
        columns,
        name=entity.name,
        strict=True,
        unique=list(entity.key),
        report_duplicates="exclude_first",
        description=entity.description,
    )
