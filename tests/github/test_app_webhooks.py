"""Deliveries are checked before anything else: the signature (every way it can be wrong), the
size, the event, the delivery id; nothing GitHub did not sign reaches a decision, and a
delivery is taken once however often and however fast it comes."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest

from engine.github.app.webhooks import MAX_BODY, read_delivery, signed
from tests.support.app import (
    BEFORE,
    SECRET,
    Clock,
    Running,
    answers,
    delivery_headers,
    post,
    protection_body,
    wait_for,
)
from tests.support.fakegithub import FakeGitHub


def hexdigest(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _payload() -> bytes:
    """A real delivery's body; where the shared payloads are absent, any bytes do for the
    signature checks (the tests that send it to the App skip there, with the App)."""
    try:
        return json.dumps(protection_body()).encode()
    except pytest.skip.Exception:
        return b'{"action": "requested"}'


BODY = _payload()
GOOD = "sha256=" + hexdigest(BODY)


@pytest.mark.parametrize(
    "signatures",
    [
        [],
        ["sha256=" + hexdigest(BODY, "another secret")],
        ["sha1=" + hexdigest(BODY)],
        ["SHA256=" + hexdigest(BODY)],
        [hexdigest(BODY)],
        [GOOD[:-1]],
        [GOOD + "0"],
        [GOOD.upper()],
        ["sha256=" + "z" * 64],
        ["sha256=" + "é" * 64],
        [GOOD + " "],
        [" " + GOOD],
        [GOOD, GOOD],
        ["sha256=" + hexdigest(BODY + b" ")],
    ],
    ids=[
        "missing", "other-secret", "sha1-prefix", "upper-prefix", "no-prefix", "shorter",
        "longer", "upper-hex", "non-hex", "non-ascii", "trailing-space", "leading-space",
        "twice", "other-body",
    ],
)  # fmt: skip
def test_only_the_hmac_of_the_raw_body_with_the_secret_is_a_signature(
    signatures: list[str],
) -> None:
    assert not signed(SECRET.encode(), BODY, signatures)
    reply = read_delivery(
        SECRET.encode(), BODY, signatures=signatures, event="deployment_protection_rule",
        delivery="d-1",
    )  # fmt: skip
    assert (reply.status, reply.request) == (401, None)


def test_a_signed_body_over_the_cap_is_refused() -> None:
    assert signed(SECRET.encode(), BODY, [GOOD])
    too_big = b" " * (MAX_BODY + 1)
    reply = read_delivery(
        SECRET.encode(), too_big, signatures=["sha256=" + hexdigest(too_big)],
        event="deployment_protection_rule", delivery="d-1",
    )  # fmt: skip
    assert reply.status == 413


@pytest.mark.parametrize(
    ("event", "body", "status", "message"),
    [
        ("push", BODY, 202, "ignored: event 'push' is not deployment_protection_rule"),
        ("deployment_protection_rule", b"{", 400, "the body is not JSON"),
        ("deployment_protection_rule", b"[]", 202, "ignored"),
        ("deployment_protection_rule", b'{"action": "completed"}', 202, "ignored"),
        ("deployment_protection_rule", b'{"action": "requested"}', 400, "repository.full_name"),
    ],
)
def test_signed_deliveries_that_ask_nothing_are_acknowledged_or_refused(
    event: str, body: bytes, status: int, message: str
) -> None:
    reply = read_delivery(
        SECRET.encode(), body, signatures=["sha256=" + hexdigest(body)], event=event,
        delivery="d-1",
    )  # fmt: skip
    assert (reply.status, reply.request) == (status, None)
    assert message in reply.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deployment_callback_url": "https://api.github.com/repos/other/repo/actions/runs/1/"
          "deployment_protection_rule"}, "deployment_callback_url"),
        ({"deployment_callback_url": "https://evil.example/steal"}, "deployment_callback_url"),
        ({"installation": None}, "installation.id is missing"),
        ({"environment": " "}, "environment is missing"),
    ],
)  # fmt: skip
def test_a_request_that_cannot_be_answered_is_refused(
    change: dict[str, object], message: str
) -> None:
    body = json.dumps({**protection_body(), **change}).encode()
    reply = read_delivery(
        SECRET.encode(), body, signatures=["sha256=" + hexdigest(body)],
        event="deployment_protection_rule", delivery="d-1",
    )  # fmt: skip
    assert reply.status == 400
    assert message in reply.message


def test_a_signed_delivery_without_a_delivery_id_is_refused() -> None:
    reply = read_delivery(
        SECRET.encode(), BODY, signatures=[GOOD], event="deployment_protection_rule", delivery=None
    )
    assert (reply.status, reply.message) == (400, "missing or malformed X-GitHub-Delivery")


def test_a_repository_name_that_would_leave_the_mirrors_is_refused() -> None:
    body = protection_body()
    body["repository"]["full_name"] = "../etc"
    raw = json.dumps(body).encode()
    reply = read_delivery(
        SECRET.encode(), raw, signatures=["sha256=" + hexdigest(raw)],
        event="deployment_protection_rule", delivery="d-1",
    )  # fmt: skip
    assert reply.status == 400


# --- over HTTP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "sha256=zz"])
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_evaluated(
    app: Running, app_github: FakeGitHub, signature: str | None
) -> None:
    headers = delivery_headers(BODY)
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    answer = post(f"{app.url}/webhook", BODY, headers)
    assert (answer.status, answer.body) == (
        401,
        {"message": "missing or wrong X-Hub-Signature-256"},
    )
    assert app_github.calls == []
    assert app.app.state.worker.store.counts() == {}


def test_two_signature_headers_are_refused(app: Running, app_github: FakeGitHub) -> None:
    headers = list(delivery_headers(BODY).items())
    headers.append(("X-Hub-Signature-256", GOOD))
    assert post(f"{app.url}/webhook", BODY, headers).status == 401
    assert app_github.calls == []


def test_a_body_over_25_mb_is_refused_unread(app: Running, app_github: FakeGitHub) -> None:
    big = b" " * (MAX_BODY + 1)
    answer = post(f"{app.url}/webhook", big, delivery_headers(big))
    assert answer.status == 413
    # and one that says nothing of its length, sent in chunks
    parts = urlsplit(app.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    headers = delivery_headers(big)
    chunks = (b" " * (1 << 20) for _ in range(26))
    try:
        connection.request("POST", "/webhook", body=chunks, headers=headers, encode_chunked=True)
        status = connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        status = 413  # answered before the last chunk went out
    finally:
        connection.close()
    assert status == 413
    assert app_github.calls == []


def test_a_replayed_delivery_is_acknowledged_once(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    body = protection_body()
    first, delivery = app.deliver(body)
    wait_for(lambda: len(answers(app_github)) == 1)
    again, _ = app.deliver(body, delivery=delivery)
    assert (first.status, again.status) == (202, 200)
    assert again.body == {"message": "duplicate delivery: already taken"}
    assert len(answers(app_github)) == 1
    # a new delivery of the same request is a new question, and is answered
    app.deliver(body)
    wait_for(lambda: len(answers(app_github)) == 2)


def test_concurrent_duplicate_deliveries_are_taken_once(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    raw = json.dumps(protection_body()).encode()
    headers = delivery_headers(raw, delivery="0b989ba4-242f-11e5-81e1-c7b6966d2516")
    statuses: list[int] = []

    def send() -> None:
        statuses.append(post(f"{app.url}/webhook", raw, headers).status)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 9 + [202]
    wait_for(lambda: app.app.state.worker.store.counts() == {"approved": 1})
    assert len(answers(app_github)) == 1


def test_healthz_answers(app: Running) -> None:
    parts = urlsplit(app.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())) == (200, {"status": "ok"})
    connection.close()
