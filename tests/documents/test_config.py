from __future__ import annotations

from pathlib import Path

import pytest

from engine.documents.config import DEFAULT_INCLUDE, defaults, effective
from engine.errors import ConfigError
from engine.workspace.inventory import Workspace
from tests.support.files import write

HEADER = "apiVersion: changegate/v1\nkind: Config\nmetadata: {name: c}\n"


def test_defaults_follow_the_domain_change_types() -> None:
    config = defaults()
    assert config.timezone == "UTC"
    assert config.include == list(DEFAULT_INCLUDE)
    assert config.policy_sources == ["builtin:recommended", "./policies"]
    types = config.spec["changeTypes"]
    assert types["standard"] == {
        "leadTime": "0s", "approvals": [], "requiresTemplate": True, "vetoes": True,
    }  # fmt: skip
    assert types["normal"] == {
        "leadTime": "5d", "approvals": [{"role": "cab", "count": 1}], "vetoes": True,
    }  # fmt: skip
    assert types["expedited"] == {
        "leadTime": "24h", "approvals": [{"role": "manager", "count": 1}], "vetoes": True,
    }  # fmt: skip
    assert types["emergency"] == {
        "leadTime": "0s",
        "approvals": [{"role": "on-call", "count": 1}],
        "postReview": {"role": "cab", "within": "48h"},
        "vetoes": True,
    }


def test_user_settings_merge_field_by_field() -> None:
    spec = effective({
        "changeTypes": {"normal": {"approvals": [{"role": "cab", "count": 2}, {"role": "qa"}]}},
        "documents": {"exclude": ["**/drafts/**"]},
        "timezone": "Europe/Berlin",
    })  # fmt: skip
    assert spec["changeTypes"]["normal"] == {
        "leadTime": "5d",
        "approvals": [{"role": "cab", "count": 2}, {"role": "qa", "count": 1}],
        "vetoes": True,
    }
    assert spec["changeTypes"]["expedited"]["leadTime"] == "24h"
    assert spec["documents"] == {"include": list(DEFAULT_INCLUDE), "exclude": ["**/drafts/**"]}
    assert spec["timezone"] == "Europe/Berlin"
    assert effective(None) == defaults().spec  # defaults are never mutated


def test_config_file_is_found_at_the_root(tmp_path: Path) -> None:
    write(tmp_path / "changegate.yaml", HEADER + "spec: {timezone: America/New_York}\n")
    workspace = Workspace.open(repo=tmp_path, config_file=None)
    assert workspace.config.timezone == "America/New_York"
    assert workspace.config.path == tmp_path / "changegate.yaml"


def test_explicit_config_file(tmp_path: Path) -> None:
    config = write(tmp_path / "elsewhere.yaml", HEADER + "spec: {timezone: Asia/Tokyo}\n")
    workspace = Workspace.open(repo=tmp_path, config_file=config)
    assert workspace.config.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file holds no YAML document"),
        ("a: [", "not valid YAML"),
        (HEADER + "spec: {timezone: EST}\n", "'EST' is an abbreviation"),
        (HEADER + "---\n" + HEADER, "a second Config document"),
        ("apiVersion: changegate/v1\nkind: Incident\nmetadata: {name: i}\n", "holds a Incident"),
        (
            HEADER + "spec:\n  changeTypes:\n    normal: {leadTime: five days}\n",
            "not a valid lead time",
        ),
        (
            HEADER + "spec:\n  roles:\n    CAB: {teams: [acme/cab]}\n",
            "changegate.yaml:6:5: spec.roles key: 'CAB' is not a valid role: write it like cab",
        ),
    ],
)
def test_invalid_config_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "changegate.yaml", text)
    with pytest.raises(ConfigError, match="invalid configuration") as raised:
        Workspace.open(repo=tmp_path, config_file=None)
    assert message in str(raised.value)
    assert raised.value.exit_code == 2
