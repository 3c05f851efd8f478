"""``changegate new KIND NAME``: scaffold a document that validates, from a template."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from engine.documents.loader import load_text
from engine.documents.model import KINDS, identify, resolve_kind
from engine.errors import EXIT_OK, UsageError
from engine.paths import display_path
from engine.resources import bundled
from engine.time.instants import format_instant, in_zone
from engine.workspace import semantics
from engine.workspace.inventory import Workspace

HELP = "scaffold a document from a template"

# Names are unique per kind, so kinds sharing a folder of SPEC §1 get a subfolder each.
FOLDERS: Final = {
    "ReleasePlan": "releases",
    "ChangeRequest": "changes",
    "FreezeWindow": "freezes",
    "ChangeWindow": "freezes/windows",
    "Incident": "incidents",
    "Policy": "policies",
    "Waiver": "policies/waivers",
    "PolicyTest": "policies/tests",
}
_NAME: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?\Z")
_NUMBER: Final = r"(?:0|[1-9][0-9]*)"
_VERSION: Final = re.compile(rf"(?:^|[^0-9])v?({_NUMBER}\.{_NUMBER}\.{_NUMBER})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", metavar="KIND", help=", ".join(KINDS))
    parser.add_argument("name", metavar="NAME", help="metadata.name, e.g. CHG-2024-0151")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write (default: the kind's folder, e.g. changes/NAME.yaml; - for stdout)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace, now: datetime) -> int:
    kind = resolve_kind(args.kind)
    name: str = args.name
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid name: use letters, digits, '.', '_' and '-', starting "
            "and ending with a letter or digit (e.g. CHG-2024-0151)"
        )
    workspace = Workspace.open(repo=args.repo, config_file=args.config)
    target = _target(args.output, workspace.root, kind, name)
    where = target or _target(None, workspace.root, kind, name)
    shown = display_path(where) if where else "-"
    text = render(kind, name, workspace, now, shown)
    if target is None:
        sys.stdout.write(text)
        return EXIT_OK
    if target.exists() and not args.force:
        raise UsageError(f"{shown} already exists; pick another name or pass --force")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {shown}: {error.strerror or error}") from None
    print(f"created {shown}: fill it in, then run: changegate validate {shown}")
    return EXIT_OK


def _target(output: Path | None, root: Path, kind: str, name: str) -> Path | None:
    if output is not None:
        return None if str(output) == "-" else output
    if kind == "Config":
        return root / "changegate.yaml"
    return root / FOLDERS[kind] / f"{name}.yaml"


def render(kind: str, name: str, workspace: Workspace, now: Any, shown: str) -> str:
    """The filled template, checked to validate (a template that does not is a bug)."""
    import jinja2  # only this command needs it

    config = workspace.config
    today = in_zone(now, config.timezone).date()
    version = _VERSION.search(name)
    environments = config.environment_names
    protected = [e["name"] for e in config.spec["environments"] if e.get("protected")]
    values = {
        "name": name,
        "path": shown,
        "timezone": config.timezone,
        "environment": (protected or environments or ["production"])[0],
        "service": (config.service_names or ["my-service"])[0],
        "user": _login(),
        "team": "my-team",
        "version": version.group(1) if version else "1.0.0",
        "today": today.isoformat(),
        "now": format_instant(now),
        "start": f"{(today + timedelta(days=7)).isoformat()}T10:00",
        "target": (today + timedelta(days=14)).isoformat(),
        "end": (today + timedelta(days=16)).isoformat(),
        "go_no_go": (today + timedelta(days=13)).isoformat(),
        "retrospective": (today + timedelta(days=15)).isoformat(),
        "due": (today + timedelta(days=14)).isoformat(),
        "expires": (today + timedelta(days=30)).isoformat(),
    }
    source = bundled("templates", "new", f"{kind}.yaml.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(  # noqa: S701 - renders YAML, not HTML
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    text = environment.from_string(source).render(values)
    documents, findings = identify(load_text(text, Path(shown)))
    for document in documents:
        findings += workspace.schemas.check(document) + semantics.check(document, config)
    if findings:
        problems = "; ".join(f"{f.line}:{f.column} {f.message}" for f in findings)
        raise AssertionError(f"the {kind} template does not validate: {problems}")
    return text


def _login() -> str:
    """A placeholder that is a plausible GitHub login (the schema asks for a person)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        return "your-github-login"
    return user if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", user) else "your-github-login"
