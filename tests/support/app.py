"""The deployment protection App under test: deliveries built and signed as GitHub sends them
(checked against GitHub's webhook description), the App served by uvicorn on 127.0.0.1 in a
thread with a pinned clock, the repositories it fetches as real bare git repositories, and an
RSA key for the App."""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import hmac
import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.fakegithub import GITHUB, Call, FakeGitHub
from tests.support.files import shared_or_skip
from tests.support.repos import GitRepo

# The repository the App's tests judge: a shop of two services, a hard holiday freeze on
# production and staging; staging lets a closed deploy wait.
CONFIG = """\
apiVersion: changegate/v1
kind: Config
metadata: {name: shop}
spec:
  timezone: Europe/Berlin
  environments:
    - {name: production, services: [checkout]}
    - {name: staging, services: [checkout, payments], onClosed: wait, maxWait: 20d}
    - {name: qa}
  services: [{name: checkout}, {name: payments}]
  roles:
    cab: {teams: [acme-shop/cab]}
"""
FREEZE = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: holiday-freeze}
spec:
  reason: Holiday peak traffic
  level: hard
  timezone: Europe/Berlin
  start: "2024-12-20T00:00"
  end: "2025-01-02T00:00"
  scope: {environments: [production, staging]}
"""
IN_FREEZE = datetime(2024, 12, 23, 10, 0, tzinfo=UTC)
BEFORE = datetime(2024, 12, 10, 10, 0, tzinfo=UTC)
LIFTS = datetime(2025, 1, 1, 23, 0, tzinfo=UTC)  # 2025-01-02T00:00 in Berlin

SECRET = "It's a Secret to Everybody"
APP_ID = "4242"
INSTALLATION = 99
EVENT = "deployment_protection_rule"


@functools.cache
def app_key() -> tuple[str, bytes]:
    """An RSA key for the App: the private key (PEM text) and the public key (PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


class Webhooks:
    """GitHub's webhook description: the headers and the body schema of each event."""

    def __init__(self) -> None:
        import jsonschema

        path = shared_or_skip("github", "webhooks-subset.json")
        self.data = json.loads(path.read_text(encoding="utf-8"))
        operation = self.data["webhooks"]["deployment-protection-rule-requested"]["post"]
        self.headers = [p["name"] for p in operation["parameters"] if p.get("required")]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        self.validator = jsonschema.Draft202012Validator({**self.data, **schema})

    def problems(self, body: dict[str, Any], headers: dict[str, str]) -> list[str]:
        found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                 for e in self.validator.iter_errors(body)]  # fmt: skip
        sent = {name.lower() for name in headers}
        found += [f"header {name} missing" for name in self.headers if name.lower() not in sent]
        return found


@functools.cache
def webhooks() -> Webhooks:
    return Webhooks()


def protection_body(
    repository: str = "acme-shop/shop",
    *,
    run_id: int = 4242,
    environment: str = "production",
    payload: Any = None,
    installation: int = INSTALLATION,
    default_branch: str = "main",
    sender: str = "alice",
    sha: str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
) -> dict[str, Any]:
    """A ``deployment_protection_rule.requested`` body, made from GitHub's own example of a
    deployment event and checked against the webhook's schema."""
    example = json.loads(
        shared_or_skip("github", "events", "deployment.created.json").read_text(encoding="utf-8")
    )
    deployment = copy.deepcopy(example["deployment"])
    deployment.update(sha=sha, ref=default_branch, environment=environment,
                      original_environment=environment, payload=payload or {})  # fmt: skip
    owner, name = repository.split("/")
    repo = copy.deepcopy(example["repository"])
    repo.update(full_name=repository, name=name, default_branch=default_branch)
    repo["owner"]["login"] = owner
    sender_user = dict(example["sender"], login=sender)
    return {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "deployment_callback_url": (
            f"{GITHUB}/repos/{repository}/actions/runs/{run_id}/deployment_protection_rule"
        ),
        "deployment": deployment,
        "pull_requests": [],
        "repository": repo,
        "sender": sender_user,
        "installation": {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTk="},
    }


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(body: bytes, *, event: str = EVENT, delivery: str | None = None,
                     secret: str = SECRET) -> dict[str, str]:  # fmt: skip
    return {
        "User-Agent": "GitHub-Hookshot/a1b2c3d",
        "X-GitHub-Hook-ID": "123123",
        "X-GitHub-Event": event,
        "X-GitHub-Hook-Installation-Target-ID": APP_ID,
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
    }


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


def post(url: str, body: bytes, headers: dict[str, str] | list[tuple[str, str]]) -> Answer:
    """POST over real HTTP (a header may come twice); any status is an answer."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        connection.putrequest("POST", parts.path)
        for name, value in headers.items() if isinstance(headers, dict) else headers:
            connection.putheader(name, value)
        if not any(n.lower() == "content-length" for n, _ in _pairs(headers)):
            connection.putheader("Content-Length", str(len(body)))
        # the server may answer before reading it all (a body over the cap)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, json.loads(response.read() or b"{}"))
    finally:
        connection.close()


def _pairs(headers: dict[str, str] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


class Clock:
    """The App's clock, pinned; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Origin:
    """A repository as GitHub hosts it: a working repository, and the bare repository the App
    fetches (``<folder>/<owner>/<repo>.git``) that ``push`` updates."""

    def __init__(self, folder: Path, repository: str = "acme-shop/shop") -> None:
        self.folder = folder
        self.work = GitRepo(folder / "work" / repository)
        self.bare = folder / "origin" / f"{repository}.git"

    @property
    def template(self) -> str:
        return f"file://{self.folder / 'origin'}/{{owner}}/{{repo}}.git"

    def push(self, message: str = "update") -> str:
        sha = self.work.commit(message)
        if not self.bare.exists():
            self.bare.parent.mkdir(parents=True, exist_ok=True)
            self.work.repo.git.init("--bare", "--quiet", str(self.bare))
        self.work.repo.git.push("--quiet", str(self.bare), "main:main")
        return sha


@dataclass
class Running:
    """The App served over HTTP on 127.0.0.1 by uvicorn, in a thread."""

    url: str
    app: Any
    stop: Callable[[], None]

    def deliver(self, body: dict[str, Any], **headers: Any) -> tuple[Answer, str]:
        raw = json.dumps(body).encode()
        sent = delivery_headers(raw, **headers)
        assert webhooks().problems(body, sent) == []
        return post(f"{self.url}/webhook", raw, sent), sent["X-GitHub-Delivery"]


def settings_for(github: FakeGitHub, origin: Origin, state: Path, **changes: Any) -> Any:
    from engine.github.app.settings import Settings

    values: dict[str, Any] = {
        "app_id": APP_ID,
        "private_key": app_key()[0],
        "webhook_secret": SECRET.encode(),
        "api_url": github.url,
        "state": state,
        "git_url": origin.template,
    }
    return Settings(**{**values, **changes})


def quick(connect: Callable[..., Any]) -> Callable[..., Any]:
    """A client factory whose retries do not sleep (GitHub's 5xx wait 2, 4 and 8 s)."""
    return functools.partial(connect, sleep=lambda seconds: None)


def as_app(github: FakeGitHub) -> FakeGitHub:
    """The fake GitHub knows the App and its installation."""
    github.app_id = APP_ID
    github.app_public_key = app_key()[1]
    github.installations.add(INSTALLATION)
    return github


@contextlib.contextmanager
def serving(settings: Any, clock: Clock, *, tick: float = 0.02, **worker: Any) -> Iterator[Running]:
    """The App on a free port of 127.0.0.1, served by uvicorn in a thread, until the block
    ends (or ``stop()``): a graceful stop, as on SIGTERM."""
    from engine.github.app import serving as process
    from engine.github.app.server import create_app
    from engine.github.app.worker import Worker

    application = create_app(Worker(settings, clock=clock, tick=tick, **worker))
    sock = process.listen("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    server = process.server(application, grace=5)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the App did not start"
        assert time.monotonic() < deadline, "the App did not start in time"
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive(), "the App did not stop"

    running = Running(f"http://{host}:{port}", server.config.app, stop)
    try:
        yield running
    finally:
        if thread.is_alive():
            stop()


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Until ``condition()`` holds; the App decides on its own threads."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def answers(github: FakeGitHub) -> list[Call]:
    """The App's answers GitHub took (204), oldest first."""
    return [c for c in github.protection_reviews if c.status == 204]


def decisions(records: list[Any]) -> list[dict[str, Any]]:
    """The decision lines among captured log records (``caplog.records``)."""
    return [r.fields for r in records if r.getMessage().startswith("decision")]
