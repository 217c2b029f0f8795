"""Alembic environment: maild passes its own connection, so nothing here reads a file.

Developers create a revision with ``alembic`` by pointing ``script_location``
at this folder; maild itself runs the revisions through ``maild.store.schema``.
"""

from alembic import context
from sqlmodel import SQLModel

import maild.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
