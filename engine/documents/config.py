"""``changegate.yaml`` (kind Config) merged over the defaults of SPEC §2.

Everything in the file is optional: a repository without one is governed by the defaults.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from engine.documents.loader import LoadedFile, load_file
from engine.documents.model import Document, identify
from engine.errors import ConfigError
from engine.findings import Finding
from engine.globs import match_any_path
from engine.paths import display_path, inner_folder

CONFIG_FILE: Final = "changegate.yaml"

DEFAULT_INCLUDE: Final = (
    "changegate.yaml",
    "releases/**.{yaml,yml}",
    "changes/**.{yaml,yml}",
    "freezes/**.{yaml,yml}",
    "incidents/**.{yaml,yml}",
    "policies/**.{yaml,yml}",
)

# The change types of the domain notes (000): standard pre-approved via a template; normal
# with CAB and 5 days; expedited with a manager and 24 hours; emergency with on-call now and a
# CAB review within 48 hours.
DEFAULT_CHANGE_TYPES: Final[dict[str, dict[str, Any]]] = {
    "standard": {"leadTime": "0s", "approvals": [], "requiresTemplate": True},
    "normal": {"leadTime": "5d", "approvals": [{"role": "cab", "count": 1}]},
    "expedited": {"leadTime": "24h", "approvals": [{"role": "manager", "count": 1}]},
    "emergency": {
        "leadTime": "0s",
        "approvals": [{"role": "on-call", "count": 1}],
        "postReview": {"role": "cab", "within": "48h"},
    },
}

DEFAULTS: Final[dict[str, Any]] = {
    "documents": {"include": list(DEFAULT_INCLUDE), "exclude": []},
    "policies": ["builtin:recommended", "./policies"],
    "timezone": "UTC",
    "environments": [],
    "services": [],
    "roles": {},
    "changeTypes": DEFAULT_CHANGE_TYPES,
    "changeTemplates": [],
    "holidays": [],
    "bots": [],
}


class Selection(NamedTuple):
    """Which files are governed documents: ``include`` unless ``exclude``, and ``always``
    whatever ``exclude`` says (paths from changegate's root)."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]
    always: tuple[str, ...] = ()

    def governs(self, relative: str) -> bool:
        if match_any_path(self.always, relative):
            return True
        return match_any_path(self.include, relative) and not match_any_path(self.exclude, relative)

    def excludes(self, relative: str) -> bool:
        """Whether ``exclude`` removes ``relative`` (never one of the ``always`` files)."""
        return match_any_path(self.exclude, relative) and not match_any_path(self.always, relative)


@dataclass(frozen=True)
class Config:
    """The effective settings. ``spec`` is what CEL policies see as ``config``."""

    path: Path | None
    spec: dict[str, Any]
    document: Document | None = None

    @property
    def include(self) -> list[str]:
        """The governed files: ``documents.include``, and always the config file and the
        repository's policy folders (changing them changes the gate)."""
        patterns = list(self.spec["documents"]["include"])
        patterns += [p for p in self.always if p not in patterns]
        return patterns

    @property
    def always(self) -> list[str]:
        """What is governed whatever ``documents.exclude`` says: the config file and the
        repository's policy folders."""
        return [CONFIG_FILE, *(f"{f}/**.{{yaml,yml}}" for f in self.policy_folders)]

    @property
    def selection(self) -> Selection:
        return Selection(tuple(self.include), tuple(self.exclude), tuple(self.always))

    @property
    def policy_folders(self) -> list[str]:
        """The repository folders among the policy sources, as paths from the root."""
        folders = []
        for origin in self.policy_sources:
            if ":" in origin.split("/", 1)[0]:
                continue  # builtin:..., or another scheme
            folder = inner_folder(origin)
            if folder:  # the root, or a folder outside (refused when policies are read)
                folders.append(folder)
        return folders

    @property
    def exclude(self) -> list[str]:
        return list(self.spec["documents"].get("exclude", []))

    @property
    def timezone(self) -> str:
        return str(self.spec["timezone"])

    @property
    def environment_names(self) -> list[str]:
        return [e["name"] for e in self.spec["environments"]]

    @property
    def service_names(self) -> list[str]:
        return [s["name"] for s in self.spec["services"]]

    def environment(self, name: str) -> dict[str, Any]:
        """The settings of environment ``name`` (names compare as GitHub's do, ignoring case);
        empty when the config does not list it."""
        for entry in self.spec["environments"]:
            if str(entry["name"]).casefold() == name.casefold():
                return dict(entry)
        return {}

    @property
    def policy_sources(self) -> list[str]:
        return list(self.spec["policies"])

    def change_type(self, name: str) -> dict[str, Any]:
        return dict(self.spec["changeTypes"].get(name, {}))


def effective(spec: dict[str, Any] | None, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The user's spec over the defaults (or over ``base``, an effective spec such as the
    repository's, for a policy test's ``spec.config``): top-level keys replace, except that
    ``documents`` and each change type merge field by field, and approval counts default
    to 1."""
    merged = copy.deepcopy(DEFAULTS if base is None else base)
    for key, value in (spec or {}).items():
        if key == "documents":
            merged["documents"].update(value)
        elif key == "changeTypes":
            for change_type, settings in value.items():
                merged["changeTypes"].setdefault(change_type, {}).update(settings)
        else:
            merged[key] = copy.deepcopy(value)
    for settings in merged["changeTypes"].values():
        settings["approvals"] = [
            {"role": a["role"], "count": a.get("count", 1)} for a in settings.get("approvals", [])
        ]
        settings.setdefault("vetoes", True)  # a role holder's requested changes block
    return merged


def defaults() -> Config:
    return Config(path=None, spec=effective(None))


def load_config(path: Path, check: Any) -> Config:
    """Read ``path``; ``check`` returns the findings of a document (schema and semantics).
    Any problem is a ConfigError (exit 2) listing every finding."""
    return config_from(load_file(path), check)


def config_from(loaded: LoadedFile, check: Any) -> Config:
    """The Config of an already loaded file (from disk or from a git ref)."""
    path = loaded.path
    documents, findings = identify(loaded)
    configs = [d for d in documents if d.kind == "Config"]
    for document in documents:
        if document.kind != "Config":
            findings.append(
                document.finding(
                    "schema/Config",
                    f"{path.name} holds a {document.kind}; it may only hold the Config document",
                )
            )
    if len(configs) > 1:
        findings.append(
            configs[1].finding("schema/Config", "a second Config document: keep exactly one")
        )
    if configs:
        findings.extend(check(configs[0]))
    if findings:
        raise ConfigError(_describe(path, findings))
    if not configs:
        raise ConfigError(f"{path} holds no Config document (kind: Config)")
    document = configs[0]
    spec = document.body.get("spec")
    return Config(
        path=path, spec=effective(spec if isinstance(spec, dict) else None), document=document
    )


def _describe(path: Path, findings: list[Finding]) -> str:
    lines = [f"invalid configuration in {display_path(path)}:"]
    for finding in sorted(findings, key=lambda f: f.sort_key):
        where = f"{display_path(finding.path)}:{finding.line}:{finding.column}"
        lines.append(f"  {where}: {finding.message}")
    return "\n".join(lines)
