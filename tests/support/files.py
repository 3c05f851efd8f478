"""Files and folders for tests: the repository's own paths, the shared reference data beside
it, example copies, and documents written into tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.documents.model import Document

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"
# the teams of examples/acme-shop, as GitHub would list their members
TEAMS = {
    "acme-shop/cab": ["bob", "carol"],
    "acme-shop/engineering-managers": ["dana"],
    "acme-shop/on-call": ["frank"],
    "acme-shop/platform": ["grace"],
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared reference data lives beside the repository")
    return path


def copy_example(target: Path, name: str = "acme-shop") -> Path:
    """A copy of an example repository without its context files."""
    shutil.copytree(EXAMPLES / name, target, dirs_exist_ok=True)
    shutil.rmtree(target / "contexts", ignore_errors=True)
    return target


def window_document(kind: str = "FreezeWindow", name: str = "w", **spec: object) -> Document:
    """A schema-valid FreezeWindow or ChangeWindow (hard, UTC unless given)."""
    import yaml

    from engine.documents.loader import load_text
    from engine.documents.model import identify
    from engine.documents.schemas import SchemaSet

    if kind == "FreezeWindow":
        spec.setdefault("level", "hard")
    spec.setdefault("timezone", "UTC")
    body = {"apiVersion": "changegate/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    [document], problems = identify(load_text(yaml.safe_dump(body), Path(f"{name}.yaml")))
    assert problems == []
    assert SchemaSet().check(document) == []
    return document
