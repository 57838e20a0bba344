"""Alembic migrations of the app's tables (see :meth:`backend.database.Database.migrate`)."""
