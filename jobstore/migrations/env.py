"""Alembic's entry point: runs the migrations on the connection :meth:`Database.migrate` hands over.

Our revisions live in their own version table: Optuna's studies share the database and keep theirs in
Alembic's default ``alembic_version``.
"""

from alembic import context

VERSION_TABLE = "addrop_schema_version"

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
