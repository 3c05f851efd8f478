"""One self-contained JSON Schema for editors (``changegate schema``): every schema file a
kind reaches is inlined under the top-level ``$defs`` and every ``$ref`` rewritten to a
pointer into that one document (``#/$defs/duration``).

Editors (yaml-language-server, VS Code's JSON service) load a schema by URL and resolve a
``$ref`` against that URL, not against an embedded resource's ``$id``: a bundle that keeps
``common.json#/$defs/...`` or relies on embedded ``$id`` bases leaves them unresolved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

DEFS: Final = "$defs"
_LITERAL_KEYS: Final = frozenset({"examples", "enum", "const", "default"})  # data, not schema


def file_of(reference: str) -> str:
    """The schema file a reference's URL part names (``common.json``, or a full ``$id``)."""
    return reference.split("#", 1)[0].rsplit("/", 1)[-1]


def flatten(
    files: Mapping[str, dict[str, Any]], root: str | None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The schema of ``root`` (a file name) with everything it reaches inlined; without a
    root, ``extra`` is the top of the schema and reaches the files its refs name."""
    top = copy.deepcopy(files[root]) if root is not None else dict(extra or {})
    reached = _reached(files, top, root)
    names = _names(files, reached, root)
    whole = {  # files referenced other than by a $def: inlined whole
        file_of(r) or file
        for file, schema in [(root or "", top), *((f, files[f]) for f in reached)]
        for r in _refs(schema)
        if not r.partition("#")[2].startswith(f"/{DEFS}/")
    }
    defs: dict[str, Any] = {}
    for file in reached:
        if file != root and file in whole:
            body = {k: v for k, v in files[file].items() if k not in {"$id", "$schema", DEFS}}
            defs[names[(file, "")]] = _rewrite(body, file, names)
        for name, schema in files[file].get(DEFS, {}).items():
            defs[names[(file, name)]] = _rewrite(schema, file, names)
    top.pop(DEFS, None)
    out: dict[str, Any] = _rewrite(top, root or "", names)
    out[DEFS] = dict(sorted(defs.items()))
    return out


def _reached(
    files: Mapping[str, dict[str, Any]], top: dict[str, Any], root: str | None
) -> list[str]:
    """The files ``top`` reaches through $ref, transitively (root first)."""
    found: list[str] = [root] if root is not None else []
    pending = [top]
    while pending:
        for reference in _refs(pending.pop()):
            file = file_of(reference)
            if file and file in files and file not in found:
                found.append(file)
                pending.append(files[file])
    return found


def _names(
    files: Mapping[str, dict[str, Any]], reached: list[str], root: str | None
) -> dict[tuple[str, str], str]:
    """(file, def name) -> its key in the bundle's $defs; (file, "") -> the whole file's.
    Plain names where they are unique; a clash keeps the file's stem as a prefix."""
    wanted: list[tuple[tuple[str, str], str]] = []
    for file in reached:
        stem = file.removesuffix(".json")
        if file != root:
            title = str(files[file].get("title", stem)).rsplit(" ", 1)[-1]
            wanted.append(((file, ""), title if title[:1].isupper() else stem))
        wanted += [((file, name), name) for name in files[file].get(DEFS, {})]
    counts: dict[str, int] = {}
    for _, name in wanted:
        counts[name] = counts.get(name, 0) + 1
    return {
        key: name if counts[name] == 1 else f"{key[0].removesuffix('.json')}.{name}"
        for key, name in wanted
    }


def _pointer(reference: str, here: str, names: Mapping[tuple[str, str], str]) -> str:
    file = file_of(reference) or here
    fragment = reference.split("#", 1)[1] if "#" in reference else ""
    prefix = f"/{DEFS}/"
    if fragment.startswith(prefix):
        name, _, rest = fragment.removeprefix(prefix).partition("/")
        key = names.get((file, name))
        if key is None:
            return reference
        return f"#/{DEFS}/{key}" + (f"/{rest}" if rest else "")
    whole = names.get((file, ""))
    base = f"#/{DEFS}/{whole}" if whole is not None else "#"
    return base + fragment.rstrip("/") if fragment.startswith("/") or not fragment else reference


def _rewrite(node: Any, here: str, names: Mapping[tuple[str, str], str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _pointer(value, here, names)
            elif key in _LITERAL_KEYS:
                out[key] = copy.deepcopy(value)
            else:
                out[key] = _rewrite(value, here, names)
        return out
    if isinstance(node, list):
        return [_rewrite(item, here, names) for item in node]
    return node


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            elif key not in _LITERAL_KEYS:
                found += _refs(value)
    elif isinstance(node, list):
        for item in node:
            found += _refs(item)
    return found
