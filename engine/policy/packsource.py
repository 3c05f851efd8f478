"""A shared policy pack named in changegate.yaml: ``git+URL@REF#PATH``.

The text is read strictly before git ever sees it: only https://, ssh://, scp-like
``git@host:path`` and ``file:///`` URLs; no credentials in the URL (a token in a config file
would be in every clone and every log); nothing that git could take for an option (a part
starting with ``-``) or a transport helper (``ext::``); a REF and a PATH in plain characters,
the PATH inside the pack's repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from engine.paths import normalise

SCHEME: Final = "git+"
EXAMPLE: Final = "git+https://github.com/acme/change-policies.git@v1.4.0#packs/payments"

_HOST: Final = r"(?P<user>[^/@]*@)?(?P<host>[A-Za-z0-9.-]+(:[0-9]+)?)/(?P<path>.+)"
_HTTPS: Final = re.compile("https://" + _HOST)
_SSH: Final = re.compile("ssh://" + _HOST)
_SCP: Final = re.compile(r"(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)")
_FILE: Final = re.compile(r"file://(?P<path>/.+)")
_URL_PATH: Final = re.compile(r"[A-Za-z0-9._~/+-]+")
_REF: Final = re.compile(r"[A-Za-z0-9._/+-]+")
_PACK_PATH: Final = re.compile(r"[A-Za-z0-9._/+-]*")
_CREDENTIALS: Final = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)


class SourceError(ValueError):
    """Why a ``git+`` source is refused (the message never repeats a credential)."""


@dataclass(frozen=True)
class PackSource:
    """A parsed ``git+URL@REF#PATH``: ``path`` is the pack's folder from the root of its
    repository ('' for the root)."""

    text: str
    url: str
    ref: str
    path: str

    @property
    def label(self) -> str:
        """A short name for messages and file paths: the repository's last name and the ref."""
        name = self.url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return f"{name}@{self.ref}"

    def file_label(self, relative: str) -> str:
        """How a file of the pack is named in findings: ``repo.git@v1.4.0:packs/x/a.yaml``."""
        return f"{self.label}:{relative}"


def is_pack(origin: str) -> bool:
    return origin.startswith(SCHEME)


def redact(text: str) -> str:
    """``text`` without the user part of a URL in it (where a token would be)."""
    return _CREDENTIALS.sub(r"\1", text.removeprefix(SCHEME))


def parse(origin: str) -> PackSource:
    """The source, or a SourceError saying what is wrong and how to write it."""
    if not is_pack(origin):
        raise SourceError(f"a shared pack is written git+URL@REF#PATH, e.g. {EXAMPLE}")
    if any(ord(c) < 33 or ord(c) == 127 for c in origin):
        raise SourceError("spaces and control characters are not allowed in a pack source")
    rest = origin.removeprefix(SCHEME)
    rest, _, path = rest.partition("#")
    url, at, ref = rest.rpartition("@")
    if not at or not url or (_SCP.fullmatch(rest) and "@" not in url):
        raise SourceError(
            f"{redact(origin)!r} names no ref: add @TAG (or @COMMIT) after the URL, e.g. {EXAMPLE}"
        )
    _check_url(url)
    _check_ref(ref)
    return PackSource(text=origin, url=url, ref=ref, path=_check_path(path))


def _check_url(url: str) -> None:
    shown = redact(url)
    if url.startswith("-") or "::" in url:
        raise SourceError(f"{shown!r} is not a URL git may fetch from (it reads as an option)")
    https, ssh, scp, file = (p.fullmatch(url) for p in (_HTTPS, _SSH, _SCP, _FILE))
    match = https or ssh or scp or file
    if match is None:
        raise SourceError(
            f"{shown!r} is not a supported URL: use https://HOST/PATH, ssh://HOST/PATH, "
            "git@HOST:PATH or file:///ABSOLUTE/PATH"
        )
    if https is not None and https["user"]:
        raise SourceError(
            f"{shown!r} carries credentials in its URL: remove them and give git a credential "
            "helper (in GitHub Actions, the token of actions/checkout or a url.insteadOf rule)"
        )
    if ssh is not None and ssh["user"] and ":" in ssh["user"]:
        raise SourceError(f"{shown!r} carries a password in its URL: use an SSH key instead")
    if (match.groupdict().get("host") or "").startswith(("-", ".")):
        raise SourceError(f"{shown!r}: a host name does not start with '-' or '.'")
    path = match["path"]
    if not _URL_PATH.fullmatch(path) or path.startswith("-"):
        raise SourceError(
            f"{shown!r}: a repository path holds only letters, digits and ._~/+- and does not "
            "start with '-'"
        )
    if ".." in path.split("/"):
        raise SourceError(f"{shown!r}: '..' is not allowed in the repository path")


def _check_ref(ref: str) -> None:
    if (
        not ref
        or not _REF.fullmatch(ref)
        or ref.startswith(("-", "/"))
        or ref.endswith(("/", ".lock", "."))
        or ".." in ref
        or "//" in ref
    ):
        raise SourceError(
            f"@{ref} is not a ref changegate fetches: name a tag, a branch or a commit in "
            "letters, digits and ._/+- (not starting with '-')"
        )


def _check_path(path: str) -> str:
    if path in {"", "/", "."}:
        return ""
    normal = normalise(path.strip("/")) if _PACK_PATH.fullmatch(path) else None
    if normal is None or path.startswith(("/", "-")):
        raise SourceError(
            f"#{path} is not a folder inside the pack's repository: write a relative path "
            "without '..', e.g. #packs/payments"
        )
    return normal
