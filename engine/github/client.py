"""GitHub: the request context (SPEC §5) from an Actions event and the REST API, and the way
back for a verdict (the sticky comment, the commit status). The only module that imports
PyGithub.

Every call is bounded: GitHub's rate limits are waited out only while the wait fits the run's
time budget (``retry-after``, or ``x-ratelimit-reset`` with nothing remaining), server errors
are retried a few times, and whatever still fails raises :class:`GitHubError` with a message
that says what to change. The token only travels in the Authorization header: it is never
logged, never put in a URL, never in a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

from engine.errors import EXIT_DENIED, ChangegateError, ConfigError
from engine.github.retries import describe, wait_for
from engine.time.instants import format_instant

T = TypeVar("T")

DEFAULT_API: Final = "https://api.github.com"
ATTEMPTS: Final = 4
MAX_WAIT: Final = 120.0  # longest single wait for a rate limit, in seconds
GITHUB_COMMITTERS: Final = frozenset({"web-flow", "github"})  # GitHub's own committer accounts


class GitHubError(ChangegateError):
    """A GitHub API failure, said so that a person can act on it. GitHub could not be asked,
    so nothing can be decided: it denies."""

    exit_code = EXIT_DENIED
    title = "changegate could not decide"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Client:
    """A repository's REST API through PyGithub, with bounded retries."""

    repository: str  # owner/name
    api_url: str
    budget: float = 300.0  # seconds all waiting may take
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time  # for x-ratelimit-reset, an epoch time
    _github: Any = field(default=None, repr=False)
    _deadline: float = field(default=0.0, repr=False)

    @classmethod
    def connect(cls, token: str, repository: str, api_url: str = DEFAULT_API, **kw: Any) -> Client:
        from github import Auth, Github

        # PyGithub logs retries at INFO on its own handler; changegate says what matters.
        logging.getLogger("github").setLevel(logging.WARNING)
        client = cls(repository=repository, api_url=api_url.rstrip("/"), **kw)
        client._github = Github(
            auth=Auth.Token(token),
            base_url=client.api_url,
            timeout=20,
            per_page=100,
            retry=None,  # retried here, within the budget
            lazy=True,  # no request until a value is needed
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        client._deadline = client.clock() + client.budget
        return client

    @classmethod
    def for_app(
        cls, app_id: str, private_key: str, api_url: str = DEFAULT_API, **kw: Any
    ) -> Client:
        """A client that acts as the GitHub App itself (a JWT signed with its private key), for
        exchanging installation tokens; ``connect`` with such a token acts as the installation."""
        from github import Auth, GithubIntegration

        logging.getLogger("github").setLevel(logging.WARNING)
        client = cls(repository="", api_url=api_url.rstrip("/"), **kw)
        client._github = GithubIntegration(
            auth=Auth.AppAuth(app_id, private_key),
            base_url=client.api_url,
            timeout=20,
            retry=None,
            lazy=True,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        client._deadline = client.clock() + client.budget
        return client

    def close(self) -> None:
        if self._github is not None:
            self._github.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- calls ------------------------------------------------------------------------------

    def call(self, what: str, operation: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run ``operation`` (which may make several requests), retrying it as a whole when
        GitHub asks to wait or fails on its side. A write that is not ``idempotent`` is
        retried only when GitHub said it did nothing (a rate limit), never after a 5xx or a
        lost connection."""
        from github import GithubException
        from requests import RequestException

        for attempt in range(1, ATTEMPTS + 1):
            if attempt > 1 and self.clock() >= self._deadline:
                raise GitHubError(f"{what}: GitHub did not answer within the run's time budget")
            try:
                return operation()
            except GithubException as error:
                wait = wait_for(error, attempt, self.wall())
                limited = error.status in {403, 429}
                if wait is None or attempt == ATTEMPTS or not (idempotent or limited):
                    raise GitHubError(describe(what, error), error.status) from None
                if self.clock() + wait > self._deadline or wait > MAX_WAIT:
                    raise GitHubError(
                        f"{what}: GitHub asks to wait {wait:.0f} s (rate limit), longer than "
                        f"this run may wait: re-run the job later",
                        error.status,
                    ) from None
                self.sleep(wait)
            except RequestException as error:
                remaining = self._deadline - self.clock()
                if attempt == ATTEMPTS or remaining <= 0 or not idempotent:
                    raise GitHubError(
                        f"{what}: cannot reach GitHub at {self.api_url} "
                        f"({type(error).__name__}): check GITHUB_API_URL and the network"
                    ) from None
                self.sleep(min(2.0**attempt, remaining))
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def repo(self) -> Any:
        return self._github.get_repo(self.repository)

    # --- reading ----------------------------------------------------------------------------

    def pull(self, number: int) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            pr = self.repo.get_pull(number)
            return {
                "number": pr.number,
                "title": pr.title or "",
                "url": pr.html_url,
                "author": pr.user.login,
                "headSha": pr.head.sha,
                "baseSha": pr.base.sha,
                "baseRef": pr.base.ref,
                "createdAt": format_instant(pr.created_at),
                "labels": [label.name for label in pr.labels],
                "changedFileCount": pr.changed_files,
                "commitCount": pr.commits,
                "merged": bool(pr.merged),
                "mergeCommitSha": pr.merge_commit_sha,
                "requestedReviewers": [u.login for u in pr.requested_reviewers or ()],
                "requestedTeams": [team.slug for team in pr.requested_teams or ()],
            }

        return self.call(f"reading pull request #{number}", read)

    def pull_files(self, number: int) -> tuple[list[str], int]:
        """Every path the pull request touches (a rename: both its paths), and how many files
        GitHub listed (at most 3,000)."""

        def read() -> tuple[list[str], int]:
            paths: list[str] = []
            count = 0
            for changed in self.repo.get_pull(number).get_files():
                count += 1
                paths.append(changed.filename)
                if changed.previous_filename:
                    paths.append(changed.previous_filename)
            return paths, count

        return self.call(f"listing the files of pull request #{number}", read)

    def pull_committers(self, number: int) -> tuple[list[str], int]:
        """The GitHub logins who authored or committed the pull request's commits (GitHub's
        own web-flow excepted), and how many commits GitHub listed."""

        def read() -> tuple[list[str], int]:
            people: list[str] = []
            count = 0
            for commit in self.repo.get_pull(number).get_commits():
                count += 1
                for person in (commit.author, commit.committer):
                    login = person.login if person is not None else None
                    if login and login.lower() not in GITHUB_COMMITTERS and login not in people:
                        people.append(login)
            return people, count

        return self.call(f"listing the commits of pull request #{number}", read)

    def reviews(self, number: int) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            out = []
            for review in self.repo.get_pull(number).get_reviews():
                if review.user is None:  # a deleted account ("ghost") approves nothing
                    continue
                item: dict[str, Any] = {
                    "id": review.id,
                    "user": review.user.login,
                    "userType": "Bot" if review.user.type == "Bot" else "User",
                    "state": review.state,
                }
                if review.commit_id:
                    item["commit"] = review.commit_id
                if review.submitted_at is not None:
                    item["submittedAt"] = format_instant(review.submitted_at)
                out.append(item)
            return out

        return self.call(f"reading the reviews of pull request #{number}", read)

    def team_members(self, team: str) -> list[str]:
        org, _, slug = team.partition("/")

        def read() -> list[str]:
            found = self._github.get_organization(org).get_team_by_slug(slug)
            return [member.login for member in found.get_members()]

        return self.call(f"reading the members of team {team}", read)

    def checks(self, sha: str) -> dict[str, str | None]:
        """CI results of a commit: check runs by name, and commit statuses by context."""

        def read() -> dict[str, str | None]:
            commit = self.repo.get_commit(sha)
            found: dict[str, str | None] = {}
            for run in commit.get_check_runs():  # the latest run of each check first
                found.setdefault(run.name, run.conclusion)
            for status in commit.get_combined_status().statuses:
                state = {"success": "success", "failure": "failure", "error": "failure"}
                found.setdefault(status.context, state.get(status.state))
            return found

        return self.call(f"reading the checks of commit {sha[:12]}", read)

    def pulls_of_commit(self, sha: str) -> list[dict[str, Any]]:
        """Pull requests that contain a commit (or were merged as it), merged ones first."""

        def read() -> list[dict[str, Any]]:
            pulls = [
                {
                    "number": pr.number,
                    "merged": pr.merged_at is not None,
                    "mergeCommitSha": pr.merge_commit_sha,
                }
                for pr in self.repo.get_commit(sha).get_pulls()
            ]
            return sorted(pulls, key=lambda p: not p["merged"])

        return self.call(f"finding the pull request of commit {sha[:12]}", read)

    def deployments(self) -> list[dict[str, Any]]:
        """The repository's deployments: id, commit, environment, when, and the service its
        payload names (if any)."""

        def read() -> list[dict[str, Any]]:
            out = []
            for deployment in self.repo.get_deployments():
                payload = deployment.payload if isinstance(deployment.payload, dict) else {}
                service = payload.get("service")
                out.append(
                    {
                        "id": deployment.id,
                        "sha": deployment.sha,
                        "environment": deployment.environment,
                        "createdAt": format_instant(deployment.created_at),
                        "service": service if isinstance(service, str) else None,
                    }
                )
            return out

        return self.call("listing the deployments", read)

    def me(self) -> str | None:
        """The login the token acts as; None for an Actions or App installation token, which
        may not ask (its comments are github-actions[bot]'s or the app's)."""
        try:
            return str(
                self.call("asking GitHub who the token is", lambda: self._github.get_user().login)
            )
        except GitHubError as error:
            if error.status == 403 and "not accessible by integration" in str(error):
                return None
            raise

    # --- the App ----------------------------------------------------------------------------

    def installation_token(self, installation_id: int) -> tuple[str, datetime]:
        """A token of the App's installation (``for_app`` clients), and when it expires."""

        def exchange() -> tuple[str, datetime]:
            granted = self._github.get_access_token(installation_id)
            return str(granted.token), granted.expires_at

        return self.call(f"authenticating as the App's installation {installation_id}", exchange)

    def review_deployment(
        self, run_id: int, environment: str, state: str | None, comment: str
    ) -> None:
        """Answer the App's deployment protection rule of a workflow run: ``approved`` or
        ``rejected``, or (``state`` None) a comment while the answer waits."""
        body = {"environment_name": environment, "comment": comment}
        if state is not None:
            body["state"] = state
        path = f"/repos/{self.repository}/actions/runs/{run_id}/deployment_protection_rule"
        self.call(
            f"answering the deployment protection rule of run {run_id}",
            lambda: self._github.requester.requestJsonAndCheck("POST", path, input=body),
        )

    # --- writing ----------------------------------------------------------------------------

    def comments(self, number: int) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            return [
                {
                    "id": c.id,
                    "user": c.user.login if c.user else "",
                    "userType": c.user.type if c.user else "",
                    "body": c.body or "",
                }
                for c in self.repo.get_issue(number).get_comments()
            ]

        return self.call(f"reading the comments of pull request #{number}", read)

    def create_comment(self, number: int, body: str) -> int:
        # retried only after a rate limit: a POST that failed otherwise may have commented
        return self.call(
            f"commenting on #{number}",
            lambda: int(self.repo.get_issue(number).create_comment(body).id),
            idempotent=False,
        )

    def edit_comment(self, number: int, comment_id: int, body: str) -> None:
        self.call(
            f"updating comment {comment_id}",
            lambda: self.repo.get_issue(number).get_comment(comment_id).edit(body),
        )

    def delete_comment(self, number: int, comment_id: int) -> None:
        self.call(
            f"deleting comment {comment_id}",
            lambda: self.repo.get_issue(number).get_comment(comment_id).delete(),
        )

    def request_reviewers(self, number: int, users: list[str], teams: list[str]) -> None:
        """Ask users (logins) and teams (slugs of the repository's organisation) to review."""
        self.call(
            f"requesting reviews on #{number}",
            lambda: self.repo.get_pull(number).create_review_request(users, teams),
        )

    def create_status(
        self, sha: str, state: str, description: str, target_url: str | None, context: str
    ) -> None:
        def write() -> None:
            extra = {"target_url": target_url} if target_url else {}
            self.repo.get_commit(sha).create_status(
                state, description=description[:140], context=context, **extra
            )

        self.call(f"setting the commit status of {sha[:12]}", write)


def check_app_key(app_id: str, private_key: str) -> None:
    """Sign a JWT with the App's key now, so that a bad key stops ``changegate serve`` at
    start (a ConfigError naming the setting), not at the first deployment."""
    from github import Auth

    try:
        Auth.AppAuth(app_id, private_key).create_jwt()
    except Exception as error:  # PyJWT and cryptography raise several kinds
        raise ConfigError(
            f"CHANGEGATE_APP_PRIVATE_KEY: cannot sign with it ({type(error).__name__}): give the "
            "App's private key as GitHub generated it (a PEM file, -----BEGIN RSA PRIVATE KEY-----)"
        ) from None
