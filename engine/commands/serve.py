"""``changegate serve``: the GitHub App for custom deployment protection rules (SPEC §9a).

Its server libraries are the optional extra ``app`` and are imported only when the command
runs, so that ``changegate --help`` and every other command stay fast without them.
"""

from __future__ import annotations

import argparse
import importlib
import os
from datetime import datetime

from engine.errors import UsageError

HELP = "the GitHub App for custom deployment protection rules"
EXTRA = ("starlette", "uvicorn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")


def run(args: argparse.Namespace, now: datetime) -> int:
    missing = [name for name in EXTRA if not _importable(name)]
    if missing:
        raise UsageError(
            f"changegate serve needs {', '.join(missing)}: install the App's extra, "
            "pip install 'changegate[app]'"
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port from 0 to 65535")
    from engine.github.app.settings import Settings
    from engine.github.client import check_app_key

    settings = Settings.from_env(os.environ)
    check_app_key(settings.app_id, settings.private_key)
    from engine.github.app import serving

    return serving.serve(settings, args.host, args.port)


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
