"""``changegate record [COMMIT]``: judge a merged commit and keep the decision as a git note."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.commands.common import add_output, opened
from engine.errors import EXIT_OK, UsageError

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


def run(args: argparse.Namespace) -> int:
    from engine.documents.schemas import SchemaSet
    from engine.request.context import load_context, parse_context
    from engine.time.instants import format_instant
    from engine.trail import notes as records

    repo, root = locate(args.repo)
    commit = repo.resolve(args.commit)
    policies = args.policies_from or records.first_parent(repo, commit) or commit
    context: dict[str, Any] = {"event": "merge"}
    if args.context is not None:
        context = dict(load_context(args.context, SchemaSet().context_errors).raw)
    parse_context(context)  # schema-checked above; a value now
    at = args.now if args.at else records.merged_at(repo, commit)
    if args.push:
        records.fetch(repo, args.push)
    record = records.judge_commit(
        repo,
        commit,
        root=root,
        context=context,
        at=at,
        policies_from=policies,
        config_file=_relative(repo, args.config),
    )
    outcome = records.write(repo, commit, record, replace=args.replace)
    attempts = records.push(repo, args.push) if args.push else 0
    with opened(args) as out:
        if args.format == "json":
            json.dump(record, out, indent=2, sort_keys=True)
            out.write("\n")
        else:
            out.write(
                f"{outcome} the decision on {commit[:12]}: {record['decision']} "
                f"({plural(len(record['rules']), 'rule outcome')}, "
                f"{plural(len(record['documents']), 'document')}, "
                f"{plural(len(record['approvals']), 'approval')}; policies of {policies[:12]}, "
                f"judged at {format_instant(at)}) under {records.NOTES_REF}"
                + _pushed(args.push, attempts)
                + "\n"
            )
    return EXIT_OK


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _pushed(remote: str | None, attempts: int) -> str:
    if not remote:
        return ""
    return f", pushed to {remote}" + (f" after {attempts} tries" if attempts > 1 else "")


def locate(repo_flag: Path | None) -> tuple[Any, str]:
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


def _relative(repo: Any, config: Path | None) -> str | None:
    if config is None:
        return None
    relative = repo.relative(config)
    if relative is None:
        raise UsageError(f"--config {config} is outside the git repository")
    return str(relative)
