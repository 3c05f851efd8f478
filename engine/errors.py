"""User-facing errors and the one handler that maps them to exit codes.

Exit codes (SPEC §8): 0 allowed/passed, 1 denied, 2 usage or configuration error, 3 internal
error (a bug), 130 interrupted. Every error a person can act on derives from
:class:`ChangegateError` and says what to change; anything else is a bug, reported as one.
The command line and the GitHub Action share the handler; only where they say it differs.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Final, Protocol

EXIT_OK: Final = 0
EXIT_DENIED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERNAL: Final = 3
EXIT_INTERRUPTED: Final = 130


class ChangegateError(Exception):
    """A problem the user can fix. Its message says what to change; ``title`` heads it where
    a heading is shown (an Action annotation)."""

    exit_code: int = EXIT_USAGE
    title: str = "changegate"


class UsageError(ChangegateError):
    """A bad flag, argument or path."""


class ConfigError(ChangegateError):
    """An invalid changegate.yaml, policy or context file, or CEL that does not compile."""


class ExitRequest(Exception):
    """Raised by argparse handling to leave with a given code (help, version, bad flags)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class ExitStatus:
    """Holds the exit code chosen inside :func:`error_handler`."""

    code: int = EXIT_OK


class Reporter(Protocol):
    """Where the handler says what went wrong."""

    def user(self, error: ChangegateError) -> None: ...

    def internal(self, error: Exception, trace: str) -> None: ...


class Stderr:
    """The command line's reporter."""

    def user(self, error: ChangegateError) -> None:
        print(f"changegate: error: {error}", file=sys.stderr)

    def internal(self, error: Exception, trace: str) -> None:
        print(
            f"changegate: internal error (this is a bug, please report it with the lines "
            f"below): {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        sys.stderr.write(trace)


@contextlib.contextmanager
def error_handler(outcome: ExitStatus, reporter: Reporter | None = None) -> Iterator[None]:
    """Turn any exception into a message and an exit code in ``outcome``."""
    say = reporter or Stderr()
    try:
        yield
    except ExitRequest as request:
        outcome.code = request.code
    except ChangegateError as error:
        say.user(error)
        outcome.code = error.exit_code
    except KeyboardInterrupt:
        print("changegate: interrupted", file=sys.stderr)
        outcome.code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`changegate ... | head`); nothing more to say to it.
        with contextlib.suppress(OSError):
            sys.stderr.close()
        outcome.code = EXIT_OK
    except Exception as error:
        say.internal(error, traceback.format_exc())
        outcome.code = EXIT_INTERNAL
