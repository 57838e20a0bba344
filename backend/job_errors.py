"""The errors the job and sweep services raise for a request they refuse, each with the HTTP status that says why
(the routes answer ``status_code`` with the message)."""

from __future__ import annotations


class JobError(Exception):
    """A request the service refuses; ``status_code`` is the HTTP status that says why."""

    status_code = 400


class InvalidJob(JobError):
    status_code = 422


class JobNotFound(JobError):
    status_code = 404


class JobConflict(JobError):
    status_code = 409


class QueueUnavailable(JobError):
    status_code = 503
