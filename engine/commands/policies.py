"""``changegate policies lock|verify``: pin the shared packs of changegate.yaml in
changegate.lock, and check the local cache (and the packs' refs) against it."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from engine.commands import common
from engine.errors import EXIT_OK, ConfigError, UsageError

HELP = "pin shared policy packs in changegate.lock (lock), or check them (verify)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("lock", "verify"),
        help="lock: resolve each pack's ref and write changegate.lock; verify: check that "
        "every pack is pinned, cached and hashes to its digest, and that its ref did not move",
    )


def run(args: argparse.Namespace, now: datetime) -> int:
    del now
    from engine.policy import packs
    from engine.policy.lock import LOCK_FILE, render

    workspace = common.workspace(args)
    origins = workspace.config.policy_sources
    cache = packs.Cache(packs.cache_root())
    path = workspace.root / LOCK_FILE
    if args.action == "verify":
        lock = packs.read_lock(workspace.root, workspace.boundary)
        problems = packs.verify(lock, origins, cache, remote=True)
        if problems:
            raise ConfigError("\n".join(problems))
        count = len(lock.pins) if lock is not None else 0
        print(f"✓ {common.plural(count, 'pack')} pinned, cached and matching {LOCK_FILE}")
        return EXIT_OK
    if path.is_symlink() or path.is_dir():
        raise UsageError(f"{path} is not a plain file: changegate does not write through it")
    try:
        old = packs.read_lock(workspace.root, workspace.boundary)
    except ConfigError as error:
        print(f"changegate: replacing an unreadable {LOCK_FILE}: {error}", file=sys.stderr)
        old = None
    pins, notes = packs.lock_packs(origins, old, cache)
    for note in notes:
        print(note)
    if not pins:
        if path.exists():
            path.unlink()
            print(f"removed {LOCK_FILE}: changegate.yaml names no shared pack")
        else:
            print("changegate.yaml names no shared pack (git+URL@REF#PATH): nothing to lock")
        return EXIT_OK
    temporary = path.with_name(f".{LOCK_FILE}.{os.getpid()}")
    temporary.write_text(render(pins), encoding="utf-8")
    temporary.replace(path)
    print(f"wrote {LOCK_FILE}: {common.plural(len(pins), 'pack')}")
    return EXIT_OK
