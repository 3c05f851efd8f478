"""The App's settings from the environment: defaults, every problem said at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.github.app.settings import DEFAULT_GIT_URL, Settings
from tests.support.app import app_key

KEY = app_key()[0]


def test_defaults_and_a_key_squeezed_onto_one_line() -> None:
    settings = Settings.from_env(
        {
            "CHANGEGATE_APP_ID": "4242",
            "CHANGEGATE_APP_PRIVATE_KEY": KEY.replace("\n", "\\n"),
            "CHANGEGATE_WEBHOOK_SECRET": "s3cret",
        }
    )
    assert settings.private_key == KEY
    assert settings.api_url == "https://api.github.com"
    assert settings.git_url == DEFAULT_GIT_URL
    assert settings.state == Path("changegate-app.sqlite3")
    assert settings.mirrors == Path("mirrors")
    assert "s3cret" not in repr(settings)
    assert KEY[40:80] not in repr(settings)


def test_enterprise_server_and_a_key_file(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text(KEY)
    settings = Settings.from_env(
        {
            "CHANGEGATE_APP_ID": "Iv1.0123456789abcdef",
            "CHANGEGATE_APP_PRIVATE_KEY_FILE": str(key),
            "CHANGEGATE_WEBHOOK_SECRET": "s3cret",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
            "CHANGEGATE_STATE": str(tmp_path / "var" / "state.sqlite3"),
            "CHANGEGATE_GIT_URL": "https://x-access-token:{token}@ghe.example.com/{owner}/{repo}.git",
        }
    )
    assert settings.api_url == "https://ghe.example.com/api/v3"
    assert settings.mirrors == tmp_path / "var" / "mirrors"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHANGEGATE_APP_PRIVATE_KEY_FILE": "/nonexistent/app.pem"}, "cannot read it"),
        ({"CHANGEGATE_APP_PRIVATE_KEY": "hunter2"}, "give the App's private key"),
        ({"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL 'api.github.com'"),
        ({"CHANGEGATE_GIT_URL": "https://h/{owner}/{repo"}, "CHANGEGATE_GIT_URL"),
        ({"CHANGEGATE_APP_ID": "42 43"}, "CHANGEGATE_APP_ID"),
        ({"CHANGEGATE_WEBHOOK_SECRET": "  "}, "without one anybody could sign a delivery"),
    ],
)
def test_each_problem_is_said(env: dict[str, str], message: str) -> None:
    base = {
        "CHANGEGATE_APP_ID": "4242",
        "CHANGEGATE_APP_PRIVATE_KEY": KEY,
        "CHANGEGATE_WEBHOOK_SECRET": "s3cret",
    }
    base.update(env)
    if "CHANGEGATE_APP_PRIVATE_KEY_FILE" in env:
        del base["CHANGEGATE_APP_PRIVATE_KEY"]
    with pytest.raises(ConfigError, match="invalid settings") as raised:
        Settings.from_env(base)
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)
