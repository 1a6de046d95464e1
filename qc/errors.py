"""Typed errors raised by the library; the CLI alone turns them into exit codes."""

from __future__ import annotations

__all__ = [
    "one_line",
    "QCError",
    "ConfigError",
    "DecodeError",
    "StoreError",
    "RootError",
    "ReportError",
    "SchedulerError",
]


class QCError(Exception):
    """Base class of every error qc raises on purpose."""

    #: the process exit status the CLI uses for this kind of error
    exit_code: int = 1


class ConfigError(QCError, ValueError):
    """A configuration file, flag or option is invalid."""

    exit_code = 2


class DecodeError(QCError):
    """A take cannot be decoded: not a video, corrupt, truncated, empty, unreadable."""

    exit_code = 3


class StoreError(QCError):
    """The SQLite store cannot be opened, read or written."""

    exit_code = 1


class RootError(QCError):
    """The folder to scan does not exist or cannot be read."""

    exit_code = 3


class ReportError(QCError):
    """A report file cannot be read or does not follow the report schema."""

    exit_code = 1


class SchedulerError(QCError):
    """The Dask scheduler given with ``--scheduler`` cannot be reached or used."""

    exit_code = 1


def one_line(message: object, *, limit: int = 300) -> str:
    """A message cut to its first line and at most ``limit`` characters, for a person.

    Examples
    --------
    >>> one_line("bad thing\\n  at line 3")
    'bad thing'
    """
    text = str(message).strip().splitlines()[0] if str(message).strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."
