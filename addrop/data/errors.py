"""The error every data problem raises, so that a tool can tell it from a bug and show its message."""

from __future__ import annotations


class DataError(ValueError):
    """The data cannot be used for the task; the message says what is wrong and where."""


class NoDataFiles(DataError):
    """A data directory holds no train file (or is not there): a server answers both alike."""
