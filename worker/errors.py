"""peerpulse's own exceptions and the exit codes they map to.

Every error a user can cause or fix carries what they need to act: the file,
line and key for config and rules; the command to run for auth. The CLI turns
them into one clear message and an exit code (see README "Exit codes"); no
other module prints errors or calls ``sys.exit``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PARTIAL_FAILURE = 1  # some account failed, the others were done
    USAGE = 2  # bad command line, config or rules
    LOCKED = 75  # EX_TEMPFAIL: another run holds the lock


class PeerpulseError(Exception):
    """Base class; ``exit_code`` says how the CLI ends when this escapes."""

    exit_code = ExitCode.PARTIAL_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(PeerpulseError):
    """The config file (or an environment override) is invalid."""

    exit_code = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = file or "config"
        if line is not None:
            where += f":{line}"
        prefix = f"{where}: " + (f"{key}: " if key else "")
        super().__init__(prefix + message, hint)
        self.file, self.line, self.key = file, line, key


class RulesError(ConfigError):
    """A rules file is invalid; never leaves a half-applied rule set."""


class LockedError(PeerpulseError):
    exit_code = ExitCode.LOCKED


class StoreError(Exception):
    """A store backend (worker/store/) cannot open, migrate or reach its database.

    Defined here, not beside the backends, so the CLI can catch it without
    importing one: ``peerpulse --help`` loads no store and no connector module
    (tests/test_architecture.py). Callers that open a store turn it into a
    :class:`StateError`; ``main`` reports one that escapes with the same exit code."""


class StateError(PeerpulseError):
    """The state database is unusable (not ours, newer schema, disk full)."""

    exit_code = ExitCode.PARTIAL_FAILURE
