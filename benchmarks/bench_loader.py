"""Throughput of `upsert_frame` on PostgreSQL: a first load and an identical re-load.

Not a test (pytest never collects it). Run from the repository root::

    .venv/bin/python -m benchmarks.bench_loader [--rows 200000]

The server comes from ``EDASSETS_BENCH_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); the benchmark creates its own
uniquely named table there and drops it afterwards.
"""

import argparse
import os
import time
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from edassets.resources.loader import LoadStats, SnapshotScope, upsert_frame

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KEY = ("district_id", "person_id")
LINEAGE = ("lineage_archive_key", "lineage_record_index", "lineage_run_id", "lineage_loaded_at")


def bench_table(name: str) -> sa.Table:
    """A people table with the warehouse's column types, soft-delete pair and lineage."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("given_name", sa.Text),
        sa.Column("family_name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("grade_level", sa.BigInteger),
        sa.Column("gpa", sa.Double),
        sa.Column("birth_date", sa.Date),
        sa.Column("enrolled_at", sa.DateTime(timezone=True)),
        sa.Column("is_staff", sa.Boolean),
        sa.Column("source_platform", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True)),
        sa.Column("lineage_archive_key", sa.Text, nullable=False),
        sa.Column("lineage_record_index", sa.BigInteger, nullable=False),
        sa.Column("lineage_run_id", sa.Text, nullable=False),
        sa.Column("lineage_loaded_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint(*KEY),
    )


def synthetic_people(rows: int, run_id: str, loaded_at: datetime) -> pd.DataFrame:
    """`rows` made-up people of one district, typed like the platform's frames."""
    rng = np.random.default_rng(42)
    index = np.arange(rows)
    ids = pd.Series(index.astype(str), dtype=pd.StringDtype("pyarrow"))
    text = pd.StringDtype("pyarrow")
    return pd.DataFrame(
        {
            "district_id": pd.Series(["d1"] * rows, dtype=text),
            "person_id": "p" + ids,
            "given_name": "Given" + ids,
            "family_name": "Family" + ids,
            "email": "person" + ids + "@example.org",
            "grade_level": pd.array(rng.integers(-1, 13, rows), dtype="Int64"),
            "gpa": pd.array(rng.uniform(0, 4, rows).round(2), dtype="Float64"),
            "birth_date": pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3650, rows), unit="D"),
            "enrolled_at": pd.Timestamp("2024-08-15", tz="UTC") + pd.to_timedelta(index, unit="s"),
            "is_staff": pd.array(index % 20 == 0, dtype="boolean"),
            "source_platform": pd.Series(["oneroster_csv"] * rows, dtype=text),
            "active": pd.array(np.ones(rows, dtype=bool), dtype="boolean"),
            "lineage_archive_key": pd.Series([f"raw/{run_id}/users.csv"] * rows, dtype=text),
            "lineage_record_index": pd.array(index, dtype="Int64"),
            "lineage_run_id": pd.Series([run_id] * rows, dtype=text),
            "lineage_loaded_at": pd.Series([pd.Timestamp(loaded_at)] * rows, dtype="datetime64[ns, UTC]"),
        }
    )


def timed_load(engine: sa.Engine, table: sa.Table, frame: pd.DataFrame) -> tuple[LoadStats, float]:
    """One snapshot load of `frame` in its own transaction; returns its stats and wall seconds."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    with engine.begin() as connection:
        stats = upsert_frame(
            connection,
            table,
            frame,
            key=KEY,
            lineage=LINEAGE,
            snapshot=SnapshotScope({"district_id": "d1", "source_platform": "oneroster_csv"}),
            now=now,
        )
    return stats, time.perf_counter() - started


def main() -> None:
    """Load the synthetic frame twice and print rows per second for each load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    rows = parser.parse_args().rows

    engine = sa.create_engine(os.environ.get("EDASSETS_BENCH_PG_URL", DEFAULT_PG_URL))
    table = bench_table(f"bench_people_{uuid.uuid4().hex[:10]}")
    table.metadata.create_all(engine)
    try:
        first_frame = synthetic_people(rows, "run-1", datetime.now(UTC))
        again_frame = synthetic_people(rows, "run-2", datetime.now(UTC))
        for label, frame in (("first load", first_frame), ("identical re-load", again_frame)):
            stats, seconds = timed_load(engine, table, frame)
            print(f"{label:>18}: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s  {stats}")
    finally:
        table.metadata.drop_all(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
