"""The database connection (SQLite file by default, PostgreSQL via ``DATABASE_URL``) and sessions.

Shared by the API and the workers: the database is the source of truth for jobs and their metrics.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "addrop_schema_version"  # also named in migrations/env.py; Optuna owns "alembic_version"
FIRST_REVISION = "0001"  # the schema that create_all made before there were migrations
_MIGRATION_LOCK_KEY = 0x616464726F70  # PostgreSQL advisory lock: "addrop"


class Database:
    """An engine and a session factory for one URL."""

    def __init__(self, url: str, pooled: bool = True) -> None:
        """``pooled=False`` closes every connection after use: a process that forks (the worker's parent) must
        not hand a live connection, or its locks, to a child."""
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        pool = {} if pooled else {"poolclass": NullPool}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # The API and the worker are separate processes writing the same file.
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif pooled:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        else:
            self.engine = create_engine(url, **pool)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest migration. A database made before migrations existed (it has the
        tables but no version) is stamped with the first revision first. Several processes starting at once
        take turns: a lock file beside a SQLite database, an advisory lock on PostgreSQL."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._migration_lock(), self.engine.connect() as connection:
            config.attributes["connection"] = connection
            tables = set(inspect(connection).get_table_names())
            if "jobs" in tables and VERSION_TABLE not in tables:
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, "head")
            connection.commit()

    def schema_revision(self) -> str | None:
        """The migration the database is at (None before the first)."""
        with self.engine.connect() as connection:
            if VERSION_TABLE not in inspect(connection).get_table_names():
                return None
            return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.is_sqlite:
            database = make_url(self.url).database
            if not database or database == ":memory:":
                yield
                return
            with open(f"{database}.migrate-lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                connection.commit()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close pooled connections (e.g. in a process that was forked)."""
        self.engine.dispose()


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    # WAL lets the API read while a worker writes metric points.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
