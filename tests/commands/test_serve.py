"""``changegate serve`` as a person runs it: its settings refused with every problem at once,
its extra missing said how to install, and the real process: JSON lines, /healthz, a signed
delivery, and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.app import APP_ID, SECRET, app_key, delivery_headers, post, protection_body

ENV_KEYS = (
    "CHANGEGATE_APP_ID", "CHANGEGATE_APP_PRIVATE_KEY", "CHANGEGATE_APP_PRIVATE_KEY_FILE",
    "CHANGEGATE_WEBHOOK_SECRET", "GITHUB_API_URL", "CHANGEGATE_STATE", "CHANGEGATE_GIT_URL",
)  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_key()[0])
    values = {
        "CHANGEGATE_APP_ID": APP_ID,
        "CHANGEGATE_APP_PRIVATE_KEY_FILE": str(key_file),
        "CHANGEGATE_WEBHOOK_SECRET": SECRET,
        "CHANGEGATE_STATE": str(tmp_path / "state" / "app.sqlite3"),
        "GITHUB_API_URL": "http://127.0.0.1:9",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_missing_settings_are_all_said_and_exit_2(cli, env: dict[str, str], monkeypatch) -> None:
    for key in env:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CHANGEGATE_GIT_URL", "https://example.com/{org}.git")
    result = cli("serve")
    assert result.code == 2
    for name in ("CHANGEGATE_APP_ID", "CHANGEGATE_WEBHOOK_SECRET", "CHANGEGATE_APP_PRIVATE_KEY",
                 "unknown placeholder(s) org", "needs {owner} and {repo}"):  # fmt: skip
        assert name in result.err


def test_a_key_that_cannot_sign_is_exit_2(cli, env: dict[str, str], monkeypatch) -> None:
    monkeypatch.delenv("CHANGEGATE_APP_PRIVATE_KEY_FILE")
    monkeypatch.setenv(
        "CHANGEGATE_APP_PRIVATE_KEY",
        "-----BEGIN RSA PRIVATE KEY-----\\nnot a key\\n-----END RSA PRIVATE KEY-----",
    )
    result = cli("serve")
    assert result.code == 2
    assert "CHANGEGATE_APP_PRIVATE_KEY: cannot sign with it" in result.err
    assert "not a key" not in result.err


def test_both_keys_are_one_too_many(cli, env: dict[str, str], monkeypatch) -> None:
    monkeypatch.setenv("CHANGEGATE_APP_PRIVATE_KEY", app_key()[0])
    result = cli("serve")
    assert (result.code, "both set: keep one" in result.err) == (2, True)


def test_without_the_app_extra_serve_says_how_to_install_it(cli, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    result = cli("serve")
    assert result.code == 2
    assert "changegate serve needs uvicorn: install the App's extra" in result.err
    assert "pip install 'changegate[app]'" in result.err


def test_a_port_in_use_is_exit_2(cli, env: dict[str, str]) -> None:
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        result = cli("serve", "--port", str(taken.getsockname()[1]))
    finally:
        taken.close()
    assert result.code == 2
    assert "cannot listen on 127.0.0.1:" in result.err


def test_the_process_logs_json_answers_and_stops_gracefully_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        lines = []
        deadline = time.monotonic() + 30
        while not any(line.get("message") == "listening" for line in lines):
            assert time.monotonic() < deadline, lines
            lines.append(json.loads(process.stderr.readline()))
        url = next(line["url"] for line in lines if line.get("message") == "listening")
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:  # noqa: S310
            assert json.loads(response.read()) == {"status": "ok"}
        raw = json.dumps({"zen": "Keep it logically awesome."}).encode()
        answer = post(f"{url}/webhook", raw, delivery_headers(raw, event="ping"))
        assert answer.status == 202
        raw = json.dumps(protection_body()).encode()
        assert post(f"{url}/webhook", raw, delivery_headers(raw, secret="wrong")).status == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        lines += [json.loads(line) for line in process.stderr.read().splitlines()]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    messages = [line["message"] for line in lines]
    assert "changegate serve is ready" in messages
    assert "delivery: ignored: event 'ping' is not deployment_protection_rule" in messages
    assert "delivery: missing or wrong X-Hub-Signature-256" in messages
    assert any(m.startswith("Shutting down") for m in messages)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
