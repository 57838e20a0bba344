"""Alembic migrations of the app's tables (see :meth:`jobstore.database.Database.migrate`)."""
