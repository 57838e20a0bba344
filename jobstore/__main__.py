"""``python -m jobstore migrate``: bring the database named by the settings to the newest schema (run once
before the API and the workers start; they also migrate, under a lock, when they find it behind)."""

from __future__ import annotations

import argparse

from jobstore.database import Database
from jobstore.settings import get_store_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m jobstore", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args()
    settings = get_store_settings()
    database = Database(settings.resolved_database_url, pooled=False)
    database.migrate()
    print(f"the database is at the newest schema ({database.schema_revision()})")


if __name__ == "__main__":
    main()
