"""The embedded default's broker: kombu's SQL transport on a SQLite file, safe for several processes at once.

kombu's SQL channel creates what is missing (its two tables, a queue's row) behind a lock of its own process
only. The API and the embedded workers open the broker and declare the job queue together when the server
starts: a process that lost the race to another got "table kombu_queue already exists" or "UNIQUE constraint
failed: kombu_queue.name", and a worker that lost it exited at start-up. Here the loser takes what the winner
created.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.transport import sqlalchemy as sql_transport
from sqlalchemy.exc import IntegrityError, OperationalError

EMBEDDED_PREFIX = "sqla+"
CREATE_ATTEMPTS = 3  # the two tables: each lost race leaves one fewer to create


class EmbeddedChannel(sql_transport.Channel):
    """kombu's SQL channel, which tolerates another process creating its tables or a queue's row first."""

    def _open(self) -> Any:
        for _ in range(CREATE_ATTEMPTS - 1):
            try:
                return super()._open()
            except OperationalError as error:  # the tables are checked, then created: another process came between
                if "already exists" not in str(error):
                    raise
        return super()._open()

    def _get_or_create(self, queue: str) -> Any:
        try:
            return super()._get_or_create(queue)
        except IntegrityError:  # another process added the queue's row between the lookup and the insert
            self.session.rollback()
            return super()._get_or_create(queue)


class EmbeddedTransport(sql_transport.Transport):
    """kombu's SQL transport on :class:`EmbeddedChannel`."""

    Channel = EmbeddedChannel


def use_embedded_transport(app: Celery) -> None:
    """Carry ``app``'s messages through :class:`EmbeddedTransport` when its broker is a SQLite file
    (``sqla+sqlite://``); any other broker is left alone."""
    url = app.conf.broker_url
    if url.startswith(EMBEDDED_PREFIX + "sqlite:"):
        # kombu reads a transport named in the URL's prefix by alias only, so the class goes in apart.
        app.conf.update(broker_url=url[len(EMBEDDED_PREFIX):], broker_transport=EmbeddedTransport)
