"""``changegate new KIND NAME``: scaffold a document that validates, from a template."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from engine.documents.loader import load_text
from engine.documents.model import KINDS, identify, resolve_kind
from engine.errors import EXIT_OK, UsageError
from engine.gitrepo import GitRepo
from engine.judging import scaffold
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
    parser.add_argument(
        "--type",
        metavar="TYPE",
        help="ChangeRequest: standard, normal (default), expedited or emergency; ReleasePlan: "
        "major, minor (default) or patch; FreezeWindow: hard (default) or soft",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--at", metavar="TIME", help="what 'now' is for dates (default: the clock)")


def run(args: argparse.Namespace, now: datetime) -> int:
    kind = resolve_kind(args.kind)
    name: str = args.name
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid name: use letters, digits, '.', '_' and '-', starting "
            "and ending with a letter or digit (e.g. CHG-2024-0151)"
        )
    kind_type = scaffold.chosen_type(kind, args.type)
    workspace = Workspace.open(repo=args.repo, config_file=args.config)
    target = _target(args.output, workspace.root, kind, name)
    where = target or _target(None, workspace.root, kind, name)
    shown = display_path(where) if where else "-"
    schema_file = scaffold.schema_path(workspace.root, KINDS[kind])
    modeline = _modeline(schema_file, where)
    text = render(kind, name, workspace, now, shown, kind_type=kind_type, modeline=modeline)
    if target is None:
        sys.stdout.write(text)
        return EXIT_OK
    if target.exists() and not args.force:
        raise UsageError(f"{shown} already exists; pick another name or pass --force")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        wrote_schema = _write_schema(schema_file, workspace, kind)
    except OSError as error:
        raise UsageError(f"cannot write {shown}: {error.strerror or error}") from None
    left = len(_placeholders(text, shown))
    todo = f"replace its {left} [bracketed] placeholders" if left else "check it"
    print(f"created {shown}: {todo}, then run: changegate validate {shown}")
    if wrote_schema:
        print(f"  and {display_path(schema_file)}, the schema its first line gives your editor")
    return EXIT_OK


def _placeholders(text: str, shown: str) -> list[tuple[str, str]]:
    from engine.documents import placeholders

    documents, _ = identify(load_text(text, Path(shown)))
    return [found for d in documents for found in placeholders.find(d.body)]


def _modeline(schema_file: Path, document: Path | None) -> str:
    """yaml-language-server's schema line, relative to the document (editors resolve it so)."""
    if document is None:
        return f"# yaml-language-server: $schema={schema_file.as_posix()}"
    relative = os.path.relpath(schema_file, document.resolve().parent)
    return f"# yaml-language-server: $schema={Path(relative).as_posix()}"


def _write_schema(path: Path, workspace: Workspace, kind: str) -> bool:
    """The kind's bundled schema (``changegate schema KIND``) where the modeline points,
    written when missing or outdated; whether it was written."""
    text = json.dumps(workspace.schemas.bundle(kind), indent=2, ensure_ascii=False) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _target(output: Path | None, root: Path, kind: str, name: str) -> Path | None:
    if output is not None:
        return None if str(output) == "-" else output
    if kind == "Config":
        return root / "changegate.yaml"
    return root / FOLDERS[kind] / f"{name}.yaml"


def render(
    kind: str,
    name: str,
    workspace: Workspace,
    now: Any,
    shown: str,
    *,
    kind_type: str = "",
    modeline: str = "",
) -> str:
    """The filled template, checked to validate (a template that does not is a bug)."""
    import jinja2  # only this command needs it

    config = workspace.config
    source = bundled("templates", "new", f"{kind}.yaml.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(  # noqa: S701 - renders YAML, not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["q"] = lambda text: json.dumps(str(text), ensure_ascii=False)
    values = _values(kind, name, workspace, now, kind_type)
    text = environment.from_string(source).render(
        values, name=name, path=shown, modeline=modeline, type=kind_type
    )
    documents, findings = identify(load_text(text, Path(shown)))
    for document in documents:
        findings += workspace.schemas.check(document) + semantics.check(document, config)
    if findings:
        problems = "; ".join(f"{f.line}:{f.column} {f.message}" for f in findings)
        raise AssertionError(f"the {kind} template does not validate: {problems}")
    return text


def _values(kind: str, name: str, workspace: Workspace, now: Any, kind_type: str) -> dict[str, Any]:
    config = workspace.config
    git = GitRepo.find(workspace.root)
    try:
        today = in_zone(now, config.timezone).date()
        version = _VERSION.search(name)
        environments = config.environment_names
        protected = [e["name"] for e in config.spec["environments"] if e.get("protected")]
        service = (config.service_names or ["my-service"])[0]
        environment = (protected or environments or ["production"])[0]
        owners = [s.get("owners", []) for s in config.spec["services"] if s["name"] == service]
        values: dict[str, Any] = {
            "timezone": config.timezone,
            "environment": environment,
            "service": service,
            "person": scaffold.person(os.environ, git),
            "team": owners[0][0].split("/")[-1] if owners and owners[0] else "[Team]",
            "org": scaffold.organisation(os.environ, git),
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
            "next_year": today.year + 1,
        }
        if kind == "ChangeRequest":
            values.update(_change(workspace, now, kind_type, environment, service))
        return values
    finally:
        if git is not None:
            git.close()


def _change(
    workspace: Workspace, now: Any, change_type: str, environment: str, service: str
) -> dict[str, Any]:
    """What a change request of this type needs: approvals, risk, template, schedule."""
    config = workspace.config
    needs, post_review = scaffold.approvals_needed(config, change_type)
    templates = config.spec["changeTemplates"]
    risk = {"emergency": "high", "standard": "low"}.get(change_type, "medium")
    if change_type == "standard" and templates:
        risk = templates[0].get("maxRisk", "low")
    try:  # the windows a schedule must respect, in a repository that has documents yet
        documents = list(workspace.load(repository=True).valid)
    except UsageError:
        documents = []
    slot = scaffold.schedule(
        config, documents, now, change_type=change_type, environment=environment,
        service=service,
    )  # fmt: skip
    return {
        "needs": needs,
        "post_review": post_review,
        "risk": risk,
        "template": templates[0]["name"] if change_type == "standard" and templates else "",
        "start": scaffold.local_text(slot.start, config.timezone),
        "duration": slot.duration,
        "slot_note": slot.note,
    }
