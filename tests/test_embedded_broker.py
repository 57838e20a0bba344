"""The embedded SQLite broker is shared by several processes that start at once: the API and the embedded
workers all declare the job queue when they start, on a broker file nobody has created yet. kombu guards its
create-if-missing steps with a lock of its own process only; a worker that lost the race to another process
("UNIQUE constraint failed: kombu_queue.name") exited at start-up and was restarted by the server's
supervisor. Here eight processes create the broker and declare its queue at the same instant; each must
succeed, and each message must arrive exactly once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from jobstore.queue import make_celery, queued_messages
from jobstore.settings import StoreSettings

PROCESSES = 8
ROUNDS = 5

# Each process waits for the same wall-clock instant, then opens the broker (tables), declares the queue (its
# row) and sends one message. On a loaded machine a process can be descheduled between kombu's "is it there?"
# and its "create it"; the racers sleep at both points, so every round races, not one in a hundred.
RACER = textwrap.dedent("""
    import sys, time
    from kombu.transport.sqlalchemy import models
    from sqlalchemy import event
    from jobstore.queue import make_celery
    from jobstore.settings import StoreSettings

    event.listen(models.metadata, "before_create", lambda *args, **kwargs: time.sleep(0.3))
    app = make_celery(StoreSettings(data_dir=sys.argv[1]))
    queue = app.conf.task_default_queue
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
    with app.connection_for_write() as connection:
        new_row = connection.default_channel.queue_cls.__init__

        def slow_new_row(self, *args):
            time.sleep(0.3)
            new_row(self, *args)

        connection.default_channel.queue_cls.__init__ = slow_new_row
        connection.SimpleQueue(queue).put({"from": sys.argv[3]})
""")


def test_processes_that_start_together_all_declare_the_queue_and_send(tmp_path):
    for round_ in range(ROUNDS):
        data_dir = tmp_path / f"round-{round_}"
        data_dir.mkdir()
        start = time.time() + 3.0  # after every interpreter has imported Celery
        racers = [subprocess.Popen([sys.executable, "-c", RACER, str(data_dir), str(start), str(index)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for index in range(PROCESSES)]
        try:
            errors = [racer.communicate(timeout=120)[1] for racer in racers]
        finally:
            for racer in racers:
                racer.kill()
        failures = [error for racer, error in zip(racers, errors) if racer.returncode]
        assert not failures, f"round {round_}: {len(failures)} of {PROCESSES} failed:\n{failures[0][-3000:]}"
        assert queued_messages(make_celery(StoreSettings(data_dir=data_dir))) == PROCESSES
