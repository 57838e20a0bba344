"""The job's log as the worker writes it: log records copied into the database, as plain text."""

from __future__ import annotations

import logging
import re

from jobstore.transitions import JobRecorder

# transformers colours some warnings for terminals; the log is shown as plain text.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class DatabaseLogHandler(logging.Handler):
    """Copies log records (the runner's, and warnings from transformers) into the job's log."""

    def __init__(self, recorder: JobRecorder, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.recorder.log(ANSI_ESCAPE.sub("", self.format(record)), record.levelname)
        except Exception:  # a log line must never break the run it describes
            self.handleError(record)
