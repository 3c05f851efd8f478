"""``changegate record [COMMIT]``: judge a merged commit and keep the decision as a git note."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.commands import common
from engine.commands.common import add_output, plural
from engine.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from engine.gitrepo import GitRepo

HELP = "record the decision on a merged commit as a git note (refs/notes/changegate)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("commit", nargs="?", default="HEAD", help="the merge commit (HEAD)")
    parser.add_argument("--context", type=Path, metavar="FILE", help="request context (YAML/JSON)")
    parser.add_argument(
        "--at", metavar="TIME", help="judge as of this RFC 3339 time (when the commit was merged)"
    )
    parser.add_argument(
        "--policies-from",
        metavar="REF",
        help="the policy revision (default: the commit's first parent, the branch before it)",
    )
    parser.add_argument("--push", metavar="REMOTE", help="push the notes to REMOTE (retrying)")
    parser.add_argument(
        "--replace", action="store_true", help="replace a different record already on the commit"
    )
    add_output(parser, ("text", "json"))


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.documents.schemas import SchemaSet
    from engine.request.context import load_context
    from engine.time.instants import format_instant
    from engine.trail import replay
    from engine.trail.notes import NOTES_REF

    repo, root = common.locate(args.repo)
    commit = repo.resolve(args.commit)
    policies = args.policies_from or replay.first_parent(repo, commit) or commit
    context: dict[str, Any] = {"event": "merge"}
    if args.context is not None:  # schema-checked and parsed: a valid context
        context = dict(load_context(args.context, SchemaSet().context_errors).raw)
    at = now if args.at else replay.merged_at(repo, commit)
    recorded = replay.record_commit(
        repo, commit, root=root, context=context, at=at, policies_from=policies,
        config_file=_relative(repo, args.config), replace=args.replace, remote=args.push,
    )  # fmt: skip
    record = recorded.record
    with common.opened(args) as out:
        if args.format == "json":
            json.dump(record, out, indent=2, sort_keys=True)
            out.write("\n")
        else:
            out.write(
                f"{recorded.outcome} the decision on {commit[:12]}: {record['decision']} "
                f"({plural(len(record['rules']), 'rule outcome')}, "
                f"{plural(len(record['documents']), 'document')}, "
                f"{plural(len(record['approvals']), 'approval')}; policies of {policies[:12]}, "
                f"judged at {format_instant(at)}) under {NOTES_REF}"
                + _pushed(args.push, recorded.attempts)
                + "\n"
            )
    return EXIT_OK


def _pushed(remote: str | None, attempts: int) -> str:
    if not remote:
        return ""
    return f", pushed to {remote}" + (f" after {attempts} tries" if attempts > 1 else "")


def _relative(repo: GitRepo, config: Path | None) -> str | None:
    if config is None:
        return None
    relative = repo.relative(config)
    if relative is None:
        raise UsageError(f"--config {config} is outside the git repository")
    return str(relative)
