"""What the commands share: their flags, where reports go and whether they are coloured, and
the inputs of a run (the workspace, the request context) built from the flags."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import stat
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from engine.errors import UsageError

Period = tuple[datetime | None, datetime | None]

if TYPE_CHECKING:
    from engine.documents.loader import LoadedFile
    from engine.gitrepo import GitRepo
    from engine.judging.judge import Judge, Options
    from engine.request.context import RequestContext
    from engine.trail.history import Trail
    from engine.workspace.inventory import Workspace


def add_output(parser: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    parser.add_argument("--format", choices=formats, default=formats[0], help="report format")
    parser.add_argument("--output", type=Path, help="write the report to FILE instead of stdout")


def _stdout_to_nowhere() -> None:
    """Send what is left in stdout's buffer, and anything later, to the null device, so that
    no later flush fails again (as Python's documentation advises for a closed pipe)."""
    with contextlib.suppress(OSError, ValueError):
        nowhere = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nowhere, sys.stdout.fileno())
        os.close(nowhere)


@contextlib.contextmanager
def opened(args: argparse.Namespace) -> Iterator[TextIO]:
    """Where the report goes: stdout, or ``--output``, opened first (a bad path fails before
    the work) and written at the end; a full disk or an unwritable device is a usage error
    naming the path, never a traceback."""
    target: Path | None = getattr(args, "output", None)
    if target is None:
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (changegate check | head): the rest of the report has
            # nowhere to go, but the exit code is still the verdict's (a deny stays 1).
            _stdout_to_nowhere()
        except OSError as error:  # a full disk under a redirection, say
            raise UsageError(
                f"cannot write the report to standard output: {error.strerror or error}"
            ) from None
        return
    if target.exists() and stat.S_ISFIFO(target.stat().st_mode):
        raise UsageError(f"--output {target}: a pipe would wait for a reader; write to a file")
    try:
        stream = target.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        raise UsageError(f"--output {target}: {error.strerror or error}") from None
    buffer = io.StringIO()
    try:
        yield buffer
        stream.write(buffer.getvalue())
        stream.close()
    except OSError as error:
        raise UsageError(f"--output {target}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def use_color(args: argparse.Namespace, stream: TextIO) -> bool:
    choice = getattr(args, "color", "auto")
    if choice != "auto":
        return bool(choice == "always")
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


# --- judging ---------------------------------------------------------------------------------


def add_judging(parser: argparse.ArgumentParser, *, event: bool = True) -> None:
    """The flags every judging command shares (check, and gate, which is always a deploy)."""
    from engine.cel import BACKENDS
    from engine.request.context import EVENTS

    if event:
        parser.add_argument("--event", choices=EVENTS, help="the event (default: the context's)")
    parser.add_argument(
        "--at", metavar="TIME", help="judge as of this RFC 3339 time (default: now)"
    )
    parser.add_argument("--context", type=Path, metavar="FILE", help="request context (YAML/JSON)")
    parser.add_argument(
        "--policies-from",
        metavar="REF",
        help="read config, policies and waivers from this git ref (a pull request's base)",
    )
    parser.add_argument(
        "--cel-backend",
        choices=("auto", *BACKENDS),
        help="CEL runtime (default: $CHANGEGATE_CEL_BACKEND, else the fastest installed)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes for large repositories (default: one per core, from 2,000 files)",
    )


def backend(args: argparse.Namespace) -> str | None:
    choice: str | None = getattr(args, "cel_backend", None)
    return None if choice in {None, "auto"} else choice


def workspace(args: argparse.Namespace) -> Workspace:
    """The repository a command reads (``--repo``, ``--config``, its paths, and the ref of
    ``--policies-from`` when the command has it)."""
    from engine.workspace.inventory import Workspace

    return Workspace.open(
        repo=args.repo,
        config_file=args.config,
        paths=tuple(getattr(args, "paths", ()) or ()),
        policies_from=getattr(args, "policies_from", None),
    )


def request_context(args: argparse.Namespace, space: Workspace) -> RequestContext:
    """The request context of ``--context`` (or an empty one), with ``--event`` applied."""
    from engine.request.context import RequestContext, load_context

    context = (
        load_context(args.context, space.schemas.context_errors)
        if getattr(args, "context", None) is not None
        else RequestContext()
    )
    return context.with_event(getattr(args, "event", None))


def judging(args: argparse.Namespace) -> Options:
    from engine.judging.judge import Options

    return Options(
        paths=tuple(getattr(args, "paths", ()) or ()), backend=backend(args), jobs=args.jobs
    )


def pack_reader(space: Workspace) -> Callable[[str], list[LoadedFile]]:
    """Reads the config's shared packs as the working tree's changegate.lock pins them."""
    from engine.policy.packs import reader_for

    return reader_for(
        space.config.policy_sources,
        root=space.root,
        boundary=space.boundary,
        ref=None,
        git=None,
        prefix="",
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# --- the trail -------------------------------------------------------------------------------


def add_period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="T", help="from this date or time (RFC 3339)")
    parser.add_argument("--until", metavar="T", help="up to this date or time (RFC 3339)")
    parser.add_argument("--at", metavar="TIME", help="what 'now' is (default: the clock)")
    parser.add_argument("--ref", default="HEAD", help="the branch to walk (HEAD)")


def locate(repo_flag: Path | None) -> tuple[GitRepo, str]:
    """The git repository and changegate's root folder inside it (relative, POSIX)."""
    from engine.gitrepo import GitRepo
    from engine.workspace.inventory import Workspace

    start = repo_flag or Path.cwd()
    repo = GitRepo.find(start)
    if repo is None:
        raise UsageError(f"{start} is not inside a git repository: records are git notes")
    root = Workspace.open(repo=repo_flag, config_file=None, paths=()).root
    relative = repo.relative(root)
    if relative is None:
        raise UsageError(f"changegate's root {root} is outside the git repository {repo.root}")
    return repo, relative or "."


def history(args: argparse.Namespace, now: datetime) -> tuple[Judge, Trail, Period]:
    """The judge (documents now), the trail, and the period (read in the config's zone) of
    ``audit`` and ``metrics``; the trail's warnings go to stderr."""
    from engine.judging.judge import Judge
    from engine.request.context import RequestContext
    from engine.trail.audit import governed_trail
    from engine.trail.history import parse_period
    from engine.workspace.inventory import Workspace

    repo, root = locate(args.repo)
    workspace = Workspace.open(repo=args.repo, config_file=args.config)
    judge = Judge(workspace, RequestContext(), now)
    try:
        try:
            period = parse_period(
                args.since, args.until, judge.config.timezone, ("--since", "--until")
            )
        except ValueError as error:
            raise UsageError(str(error)) from None
        trail = governed_trail(judge, repo, root, ref=args.ref)
    except BaseException:
        judge.close()
        raise
    for warning in trail.warnings:
        print(f"changegate: warning: {warning}", file=sys.stderr)
    return judge, trail, period
