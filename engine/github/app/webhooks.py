"""A delivery checked before anything else is done with it: its size, its signature
(``X-Hub-Signature-256``, an HMAC-SHA256 of the raw body, compared in constant time), its
event, and then the fields of a ``deployment_protection_rule.requested`` payload the App
needs, as a :class:`ProtectionRequest`."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, NamedTuple

MAX_BODY: Final = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
EVENT: Final = "deployment_protection_rule"
_DELIVERY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}\Z")
_PART: Final = r"[A-Za-z0-9_.-]+"
_REPOSITORY: Final = re.compile(rf"({_PART})/({_PART})\Z")
_CALLBACK: Final = re.compile(
    rf"/repos/({_PART}/{_PART})/actions/runs/([0-9]{{1,19}})/deployment_protection_rule\Z"
)


class Reply(NamedTuple):
    """What to answer a delivery; ``request`` when it asks for a decision."""

    status: int
    message: str
    request: ProtectionRequest | None = None


@dataclass(frozen=True)
class ProtectionRequest:
    """What GitHub asks: may the run's job that targets ``environment`` start? ``service``,
    ``version`` and ``change`` are the deployment payload's, unchecked (the decision checks
    them against the config)."""

    delivery: str
    repository: str  # owner/name
    default_branch: str
    installation: int
    run_id: int
    environment: str  # as GitHub spells it: the answer must name it so
    sha: str | None = None
    actor: str | None = None
    service: Any = None
    version: Any = None
    change: Any = None

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProtectionRequest:
        return cls(**json.loads(text))


def signed(secret: bytes, body: bytes, signatures: Sequence[str]) -> bool:
    """Whether exactly one ``X-Hub-Signature-256`` header is ``sha256=`` and the HMAC of the
    body. Compared as bytes in constant time (hmac.compare_digest refuses non-ASCII text)."""
    if len(signatures) != 1:
        return False
    expected = b"sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    received = signatures[0].encode("latin-1", errors="replace")
    return hmac.compare_digest(expected, received)


def read_delivery(
    secret: bytes,
    body: bytes,
    *,
    signatures: Sequence[str],
    event: str | None,
    delivery: str | None,
) -> Reply:
    """Check a delivery in order: size, signature, then what it is. Nothing is parsed before
    the signature is verified."""
    if len(body) > MAX_BODY:
        return Reply(413, "the body is larger than GitHub's 25 MB cap")
    if not signed(secret, body, signatures):
        return Reply(401, "missing or wrong X-Hub-Signature-256")
    if delivery is None or not _DELIVERY.match(delivery):
        return Reply(400, "missing or malformed X-GitHub-Delivery")
    if event != EVENT:
        return Reply(202, f"ignored: event {str(event)[:60]!r} is not {EVENT}")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return Reply(400, "the body is not JSON")
    if not isinstance(payload, dict) or payload.get("action") != "requested":
        return Reply(202, f"ignored: {EVENT} without action requested")
    try:
        return Reply(202, "accepted", protection_request(delivery, payload))
    except ValueError as error:
        return Reply(400, f"cannot act on this delivery: {error}")


def protection_request(delivery: str, payload: dict[str, Any]) -> ProtectionRequest:
    """The fields of a ``deployment_protection_rule.requested`` payload the App uses; a
    ValueError says which one is missing or malformed."""
    repository = _field(payload, "repository", "full_name")
    if not isinstance(repository, str) or not _REPOSITORY.match(repository):
        raise ValueError("repository.full_name is missing or not owner/name")
    if any(part in {".", ".."} for part in repository.split("/")):
        raise ValueError("repository.full_name is not owner/name")
    callback = payload.get("deployment_callback_url")
    found = _CALLBACK.search(callback) if isinstance(callback, str) else None
    if found is None or found[1].casefold() != repository.casefold():
        raise ValueError(
            "deployment_callback_url is missing or is not this repository's "
            "/actions/runs/ID/deployment_protection_rule"
        )
    installation = _field(payload, "installation", "id")
    if not isinstance(installation, int) or isinstance(installation, bool) or installation <= 0:
        raise ValueError("installation.id is missing: the delivery is not a GitHub App's")
    environment = payload.get("environment")
    if not isinstance(environment, str) or not environment.strip():
        raise ValueError("environment is missing")
    branch = _field(payload, "repository", "default_branch")
    if not isinstance(branch, str) or not branch:
        raise ValueError("repository.default_branch is missing")
    deployment = payload.get("deployment")
    deployment = deployment if isinstance(deployment, dict) else {}
    extra = _deployment_payload(deployment.get("payload"))
    sha, actor = deployment.get("sha"), _field(payload, "sender", "login")
    return ProtectionRequest(
        delivery=delivery,
        repository=repository,
        default_branch=branch,
        installation=installation,
        run_id=int(found[2]),
        environment=environment,
        sha=sha if isinstance(sha, str) else None,
        actor=actor if isinstance(actor, str) else None,
        service=_kept(extra.get("service")),
        version=_kept(extra.get("version")),
        change=_kept(extra.get("change")),
    )


def _field(payload: dict[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _kept(value: Any) -> Any:
    """A payload value as the state file keeps it: a short text as it is, anything else as a
    note of what it was (the decision rejects it, and nothing large is stored)."""
    if value is None or (isinstance(value, str) and len(value) <= 200):
        return value
    if isinstance(value, str):
        return {"invalid": f"a text of {len(value)} characters"}
    return {"invalid": f"a JSON {type(value).__name__}, not a text"}


def _deployment_payload(value: Any) -> dict[str, Any]:
    """A deployment's payload is an object, or a JSON string of one (the API takes both)."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
