"""Secondary indexes rebuilt after a load that outnumbers its table, instead of maintained row by row.

A btree fed one row at a time in random order (a person id, a class id) costs several
times what building it from sorted input costs: the 600,000-row crosswalk took 4 s more
with its (district, person) index in place than with the index built afterwards (1.3 s),
on SQLite and PostgreSQL alike. Rebuilding reads the whole table, so it only pays off
when the batch brings at least as many rows as the table already holds: a district's
first import into a young warehouse, not its nightly refresh.

Only plain secondary indexes are deferred; the primary key and unique indexes stay,
since ``ON CONFLICT`` needs them. Dropping and creating run inside the caller's
transaction: a load that fails rolls back to the very indexes it found. On PostgreSQL
``DROP INDEX`` takes an exclusive lock on the table until commit, so readers of that
table wait for the load; it happens only while the table is smaller than one batch.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from edassets.resources.staging import driver

# Below this many incoming rows, maintaining the indexes costs too little to matter.
DEFERRED_INDEX_MIN_ROWS = 20_000


@contextmanager
def indexes_rebuilt_after(connection: sa.Connection, table: sa.Table, incoming: int) -> Iterator[None]:
    """Inside the block, `table` lacks its secondary indexes when `incoming` rows outnumber it.

    Args:
        connection: the load's connection, inside its transaction.
        table: the target table.
        incoming: rows the block may insert.
    """
    deferred = _deferrable(connection, table, incoming)
    for index in deferred:
        index.drop(connection)
    yield
    for index in deferred:
        index.create(connection)


def _deferrable(connection: sa.Connection, table: sa.Table, incoming: int) -> list[sa.Index]:
    candidates = [index for index in table.indexes if not index.unique]
    if incoming < DEFERRED_INDEX_MIN_ROWS or not candidates or not _ddl_rolls_back(connection):
        return []
    # Counting stops at `incoming`: a big table is never scanned to find out it is big.
    held = sa.select(sa.literal(1)).select_from(table).limit(incoming).subquery()
    if connection.execute(sa.select(sa.func.count()).select_from(held)).scalar_one() >= incoming:
        return []
    # Only the indexes the database really has (a table may predate a migration).
    present = {index["name"] for index in sa.inspect(connection).get_indexes(table.name, schema=table.schema)}
    return [index for index in candidates if index.name in present]


def _ddl_rolls_back(connection: sa.Connection) -> bool:
    """Whether DDL run now would roll back with the caller's transaction.

    Python's sqlite3 opens its transaction at the first INSERT, not at SQLAlchemy's begin:
    a DROP INDEX before that would commit at once. The loader has staged rows by then.
    """
    return connection.dialect.name != "sqlite" or bool(driver(connection).in_transaction)
