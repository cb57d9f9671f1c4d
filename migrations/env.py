"""Alembic environment: migrations are generated from the tables built out of edassets.schema."""

from alembic import context
from sqlalchemy import create_engine

from edassets.schema.tables import metadata
from edassets.settings import Settings

url = context.config.get_main_option("sqlalchemy.url") or Settings.from_env().warehouse_url


def run_migrations_offline() -> None:
    """Emit SQL without a connection (`alembic upgrade --sql`)."""
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations over a connection."""
    engine = create_engine(url)
    with engine.connect() as connection:
        # render_as_batch lets later ALTERs work on SQLite, the embedded default.
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
