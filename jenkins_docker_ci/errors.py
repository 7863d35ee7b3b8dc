"""User-facing errors and the exit codes they mean (DESIGN.md, "Exit codes")."""
from __future__ import annotations

EXIT_OK = 0
EXIT_NO = 1  # the work ran and said no: a check failed, the gate blocked, a ticket is missing
EXIT_USAGE = 2  # bad usage or configuration
EXIT_INTERNAL = 3  # a bug in jdci; the message names a log file
EXIT_SERVICE = 4  # registry, JIRA, GitHub, Jenkins or the Docker engine failed or stayed unreachable
EXIT_WAIT = 75  # gate/merge decided "wait" (EX_TEMPFAIL)
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class JdciError(Exception):
    """An error a user can act on. `kind` names it in --json output; `exit_code` is what the CLI returns."""

    exit_code = EXIT_NO
    kind = "failed"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def message(self) -> str:
        return str(self)


class UsageError(JdciError):
    exit_code = EXIT_USAGE
    kind = "usage"


class ConfigError(UsageError):
    kind = "config"


class TicketError(JdciError):
    kind = "ticket"


class BuildError(JdciError):
    kind = "build"


class PreprodError(JdciError):
    kind = "preprod"


class CheckFailed(JdciError):
    kind = "check"


class GateBlocked(JdciError):
    kind = "gate"


class MergeError(JdciError):
    kind = "merge"


class ServiceError(JdciError):
    """An external service failed or stayed unreachable after retries."""

    exit_code = EXIT_SERVICE
    kind = "service"

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service


class Interrupted(JdciError):
    kind = "interrupted"

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"interrupted by {signal.Signals(signum).name}; cleaned up what this run had started")
        self.exit_code = 128 + signum
