"""The one way to read data shipped with changegate: schemas, built-in policies, templates."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from engine.errors import ChangegateError

_PACKAGES = {
    "schemas": "engine.bundled.schemas",
    "policies": "engine.bundled.policies",
    "templates": "engine.templates",
}


class MissingResourceError(ChangegateError):
    """A file that should ship with changegate is absent: a broken install."""

    exit_code = 3


def bundled(area: str, *parts: str) -> Traversable:
    """A file or folder shipped in ``area`` (schemas, policies or templates)."""
    location = resources.files(_PACKAGES[area])
    for part in parts:
        location = location / part
    if not (location.is_file() or location.is_dir()):
        shown = "/".join((area, *parts))
        raise MissingResourceError(
            f"{shown} is missing from the changegate installation; reinstall it "
            "(pip install --force-reinstall changegate)"
        )
    return location
