"""``git+URL@REF#PATH``: what is accepted, and every way of smuggling something to git that is
refused before git sees it."""

from __future__ import annotations

import pytest

from engine.policy.packsource import PackSource, SourceError, parse, redact
from engine.workspace.semantics import policy_source_problem


@pytest.mark.parametrize(
    ("text", "url", "ref", "path"),
    [
        (
            "git+https://github.com/acme/change-policies.git@v1.4.0#packs/payments",
            "https://github.com/acme/change-policies.git",
            "v1.4.0",
            "packs/payments",
        ),
        (
            "git+ssh://git@github.com/acme/p.git@release/2024#p",
            "ssh://git@github.com/acme/p.git",
            "release/2024",
            "p",
        ),
        (
            "git+git@github.com:acme/p.git@v2#./packs//a/",
            "git@github.com:acme/p.git",
            "v2",
            "packs/a",
        ),
        ("git+file:///srv/packs/p.git@" + "a" * 40, "file:///srv/packs/p.git", "a" * 40, ""),
        ("git+https://git.example.com:8443/p@v1#/", "https://git.example.com:8443/p", "v1", ""),
    ],
)
def test_well_formed_sources_are_read(text: str, url: str, ref: str, path: str) -> None:
    assert parse(text) == PackSource(text, url, ref, path)
    assert policy_source_problem(text) is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("git+https://github.com/acme/p.git#packs", "names no ref"),
        ("git+git@github.com:acme/p.git#packs", "names no ref"),
        ("git+https://github.com/acme/p.git@#packs", "is not a ref changegate fetches"),
        ("git+ext::sh -c 'touch /tmp/x'@v1#p", "spaces and control characters"),
        ("git+ext::sh%20-c%20id@v1#p", "reads as an option"),
        ("git+--upload-pack=touch%20/tmp/x@v1#p", "reads as an option"),
        ("git+https://github.com/acme/p.git@--upload-pack=evil#p", "is not a ref"),
        ("git+https://github.com/acme/p.git@-v1#p", "is not a ref"),
        ("git+https://github.com/acme/p.git@v1..v2#p", "is not a ref"),
        ("git+https://github.com/acme/p.git@v1#../../etc", "not a folder inside the pack"),
        ("git+https://github.com/acme/p.git@v1#/etc", "not a folder inside the pack"),
        ("git+https://github.com/acme/p.git@v1#-p", "not a folder inside the pack"),
        ("git+http://github.com/acme/p.git@v1#p", "not a supported URL"),
        ("git+fd::17@v1#p", "reads as an option"),
        ("git+file://host/p.git@v1#p", "not a supported URL"),
        ("git+file://relative/../p.git@v1#p", "not a supported URL"),
        ("git+file:///srv/../etc/p.git@v1#p", "'..' is not allowed"),
        ("git+/srv/p.git@v1#p", "not a supported URL"),
        ("git+https://user:hunter2@github.com/acme/p.git@v1#p", "carries credentials"),
        ("git+https://token@github.com/acme/p.git@v1#p", "carries credentials"),
        ("git+ssh://git:hunter2@github.com/acme/p.git@v1#p", "carries a password"),
        ("git+https://github.com/acme/p\x00.git@v1#p", "control characters"),
        ("git+https://github.com/-acme/p.git@v1#p", "does not start with '-'"),
        ("git+git@-evil.example.com:acme/p.git@v1#p", "host name does not start"),
        ("git+ssh://-oProxyCommand=x/p.git@v1#p", "not a supported URL"),
    ],
)
def test_hostile_or_malformed_sources_are_refused(text: str, said: str) -> None:
    with pytest.raises(SourceError) as raised:
        parse(text)
    assert said in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert "token@" not in str(raised.value)
    assert policy_source_problem(text) == str(raised.value)


def test_redact_drops_the_user_part_of_a_url() -> None:
    assert redact("git+https://a:b@host/x.git@v1#p") == "https://host/x.git@v1#p"
    assert redact("git+ssh://git@host/x.git@v1") == "ssh://host/x.git@v1"


def test_a_scheme_that_is_not_a_pack_is_still_refused_without_its_credentials() -> None:
    problem = policy_source_problem("https://user:hunter2@host/policies")
    assert problem is not None
    assert "hunter2" not in problem
    assert "git+URL@REF#PATH" in problem
