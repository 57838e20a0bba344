"""The job queue: the Celery app both sides use, configured for long GPU jobs (one job at a time per worker,
nothing prefetched, a fresh process for every job, late acknowledgement of idempotent tasks). The API sends
a job by task name and needs none of the worker's code."""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import ChannelError

from jobstore.broker import EmbeddedTransport, use_embedded_transport
from jobstore.settings import StoreSettings

RUN_JOB = "addrop.run_job"


def make_celery(settings: StoreSettings) -> Celery:
    """A Celery app on ``settings``' broker (Redis in deployment, a SQLite file in the embedded default)."""
    app = Celery("addrop", broker=settings.resolved_broker_url)
    use_embedded_transport(app)
    # kombu's SQL transport hands its options to create_engine and has no visibility timeout.
    embedded = app.conf.broker_transport is EmbeddedTransport
    transport_options = {} if embedded else {"visibility_timeout": settings.broker_visibility_timeout}
    app.conf.update(
        task_default_queue=settings.job_queue,
        task_routes={RUN_JOB: {"queue": settings.job_queue}},
        # The database holds job state and results; Celery only carries the job id.
        task_ignore_result=True,
        result_backend=None,
        # Ack after the run so a message is never lost before a worker has claimed its job. Redelivery is
        # harmless: the task claims the job row atomically and does nothing when it is not queued.
        task_acks_late=True,
        # A job whose worker process died is failed (through the task_failure signal), not run again.
        task_reject_on_worker_lost=False,
        # A job runs for hours: the broker must not hand its message to another worker meanwhile.
        broker_transport_options=transport_options,
        worker_prefetch_multiplier=1,
        # The last resort behind the progress watchdog (worker/runner.py): a job past it is killed.
        task_time_limit=settings.job_time_limit_seconds,
        worker_concurrency=1,
        # A fresh process per job releases all GPU memory and any state a run leaves behind.
        worker_max_tasks_per_child=1,
        # The pool child imports torch and transformers when it starts; allow for a slow disk.
        worker_proc_alive_timeout=120,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    )
    return app


def queued_messages(app: Celery) -> int:
    """How many job messages wait in the broker's queue (not counting ones a worker has taken)."""
    with app.connection_for_read() as connection:
        try:
            return connection.default_channel.queue_declare(queue=app.conf.task_default_queue, passive=True).message_count
        except ChannelError:  # the broker drops an empty queue (Redis deletes an empty list)
            return 0


def send_job(app: Celery, job_id: int) -> None:
    """Put job ``job_id`` on the queue (by task name: the sender needs none of the worker's code)."""
    app.send_task(RUN_JOB, args=[job_id], queue=app.conf.task_default_queue)
