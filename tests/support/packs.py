"""Shared policy packs for tests: a pack's repository, published to a bare repository that
consumers fetch by a ``file://`` URL, and a consumer repository that names it."""

from __future__ import annotations

from pathlib import Path

from tests.support.repos import GitRepo

CRITICAL = """\
apiVersion: changegate/v1
kind: Policy
metadata: {name: pack-risk}
spec:
  match: {kinds: [ChangeRequest]}
  rules:
    - name: not-critical
      expression: "object.spec.risk != 'critical'"
      message: critical changes need a risk review first
"""


class Pack:
    """A policy pack's repository (``work``) and the bare repository it is published to."""

    def __init__(self, tmp_path: Path, name: str = "change-policies") -> None:
        import git

        self.work = GitRepo(tmp_path / f"{name}-work")
        self.bare = tmp_path / f"{name}.git"
        git.Repo.init(self.bare, bare=True, initial_branch="main")

    def publish(self, files: dict[str, str], tag: str | None = None) -> str:
        """Commit ``files`` (path -> text), tag the commit (moving the tag if it exists) and
        push; the commit."""
        for path, text in files.items():
            self.work.write(path, text)
        commit = self.work.commit(f"publish {tag or 'main'}")
        if tag:
            self.work.repo.git.tag("-f", tag)
        self.work.repo.git.push("--force", str(self.bare), "main", *(["--tags"] if tag else []))
        return commit

    def source(self, ref: str, path: str = "packs/payments") -> str:
        return f"git+{self.bare.as_uri()}@{ref}#{path}"


def config(*sources: str, extra: str = "") -> str:
    listed = ", ".join(f"'{s}'" for s in sources)
    return (
        "apiVersion: changegate/v1\nkind: Config\nmetadata: {name: consumer}\n"
        f"spec:\n  policies: [{listed}]\n{extra}"
    )


def change(name: str, risk: str = "low", start: str = "2024-02-01T10:00") -> str:
    """A complete normal change request of ``risk`` for checkout in production."""
    return f"""\
apiVersion: changegate/v1
kind: ChangeRequest
metadata: {{name: {name}}}
spec:
  title: Change {name}
  type: normal
  risk: {risk}
  environment: production
  services: [checkout]
  requestor: {{name: alice, team: payments, date: "2024-01-02"}}
  description: Roll out the new payment flow
  justification: Customers asked for it
  implementation: [Deploy the new flow]
  rollback: [Roll back to the previous release]
  testing: {{unit: true, integration: true, uat: true}}
  schedule: {{start: "{start}", duration: 1h, timezone: UTC}}
"""
