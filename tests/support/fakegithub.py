"""A fake GitHub REST API over real HTTP on 127.0.0.1, for PyGithub to talk to.

Its objects start as GitHub's own examples from ../shared/github/openapi-subset.json, and
every request it receives and every response it sends is checked against that description
(method, path, declared query parameters, request and response bodies, status codes) with
openapi-core; what does not agree is collected in ``problems``, which tests assert empty.

One allowance: GitHub answers 401, 403, 404 and 429 on any endpoint (authentication,
permissions, rate limits: docs.github.com, "Troubleshooting the REST API" and "Rate limits"),
and its gateway 502 and 503, although most operations do not declare them. Such answers are
checked against the description's ``basic-error`` schema instead.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

GITHUB = "https://api.github.com"
ANY_ENDPOINT_ERRORS = {401, 403, 404, 429, 502, 503}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any = None  # the JSON the client sent
    at: float = 0.0  # time.perf_counter() when the answer was sent

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted(self.query.items()))
        return f"{self.method} {self.path}{'?' + query if query else ''} -> {self.status}"


@dataclass
class Injected:
    """A canned answer for the next ``times`` requests matching method and path."""

    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int = 1


class Spec:
    """The OpenAPI subset: routes, examples, and validation through openapi-core."""

    def __init__(self, path: Path) -> None:
        from openapi_core import OpenAPI

        self.data = json.loads(path.read_text(encoding="utf-8"))
        self.api = OpenAPI.from_dict(self.data)
        self.routes: list[tuple[str, re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in self.data["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            for method, operation in item.items():
                if method in {"get", "post", "put", "patch", "delete"}:
                    self.routes.append((method.upper(), pattern, template, operation))

    def example(self, name: str) -> Any:
        return copy.deepcopy(self.data["components"]["examples"][name]["value"])

    def route(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for verb, pattern, template, operation in self.routes:
            if verb == method and pattern.match(path):
                return template, operation
        return None

    def parameters(self, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
        found = {}
        for parameter in operation.get("parameters", ()):
            if "$ref" in parameter:
                name = parameter["$ref"].rsplit("/", 1)[1]
                parameter = self.data["components"]["parameters"][name]
            found[parameter["name"]] = parameter
        return found

    def check_request(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> list[str]:
        from openapi_core.testing import MockRequest

        found = self.route(method, path)
        if found is None:
            return [f"{method} {path}: not an operation of the description"]
        _, operation = found
        declared = self.parameters(operation)
        problems = [
            f"{method} {path}: query parameter {name!r} is not declared"
            for name in query
            if name not in declared or declared[name]["in"] != "query"
        ]
        request = MockRequest(GITHUB, method.lower(), path, args=query, data=body or None)
        problems += [f"{method} {path}: {e}" for e in self.api.iter_request_errors(request)]
        return problems

    def check_response(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> list[str]:
        from openapi_core.testing import MockRequest, MockResponse
        from openapi_schema_validator import OAS30Validator

        found = self.route(method, path)
        if found is None:
            return []
        _, operation = found
        if str(status) not in operation["responses"]:
            if status not in ANY_ENDPOINT_ERRORS:
                return [f"{method} {path}: status {status} is not declared"]
            schema = self.data["components"]["schemas"]["basic-error"]
            errors = list(OAS30Validator(schema).iter_errors(json.loads(body or b"{}")))
            return [f"{method} {path} -> {status}: {e.message}" for e in errors]
        request = MockRequest(GITHUB, method.lower(), path, args=query)
        response = MockResponse(body, status_code=status, headers=headers)
        return [
            f"{method} {path} -> {status}: {detail}"
            for error in self.api.iter_response_errors(request, response)
            for detail in _details(error)
        ]


def _details(error: Exception) -> list[str]:
    """openapi-core's error, with the JSON paths of the schema errors under it."""
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or []
    if not schema_errors:
        return [f"{type(error).__name__}: {str(error)[:300]}"]
    return [
        f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
        for e in schema_errors
    ]


@dataclass
class FakeGitHub:
    """One repository's world: pull requests, reviews, teams, checks, comments, statuses."""

    spec: Spec
    owner: str = "acme-shop"
    name: str = "shop"
    token: str = "ghs_fake_token_0123456789"
    login: str | None = None  # GET /user: None answers 403, as for an Actions token
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    check_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    commit_pulls: dict[str, list[int]] = field(default_factory=dict)
    teams: dict[str, list[str] | int] = field(default_factory=dict)  # org/slug -> logins | status
    deployments: list[dict[str, Any]] = field(default_factory=list)
    # the GitHub App: its id and public key (PEM) check the JWTs of token exchanges, and the
    # installations it has exchange for ``token``
    app_id: str | None = None
    app_public_key: bytes | None = None
    installations: set[int] = field(default_factory=set)
    protection_reviews: list[Call] = field(default_factory=list)  # the App's answers
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)
    unrequestable: dict[str, int] = field(default_factory=dict)  # team slug -> status refused
    review_requests: list[tuple[int, list[str], list[str]]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _server: ThreadingHTTPServer | None = None

    # --- the world --------------------------------------------------------------------------

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.name}"

    def user(self, login: str, kind: str = "User") -> dict[str, Any]:
        person = self.spec.example("team-member-items")[0]
        person.update(login=login, type=kind, id=next(self._ids))
        person["url"] = f"{GITHUB}/users/{login}"
        return person

    def add_pull(
        self,
        number: int,
        *,
        author: str,
        head: str,
        base: str,
        title: str = "A change",
        created_at: str = "2024-01-18T09:00:00Z",
        files: list[str] = (),  # type: ignore[assignment]
        committers: list[str] = (),  # type: ignore[assignment]
        labels: list[str] = (),  # type: ignore[assignment]
        changed_files: int | None = None,
        commit_count: int | None = None,
        merged: bool = False,
    ) -> dict[str, Any]:
        pr = self.spec.example("pull-request")
        base_url = f"{GITHUB}/repos/{self.repository}"
        pr.update(
            number=number,
            title=title,
            user=self.user(author),
            created_at=created_at,
            url=f"{base_url}/pulls/{number}",
            issue_url=f"{base_url}/issues/{number}",
            comments_url=f"{base_url}/issues/{number}/comments",
            commits_url=f"{base_url}/pulls/{number}/commits",
            review_comments_url=f"{base_url}/pulls/{number}/comments",
            html_url=f"https://github.com/{self.repository}/pull/{number}",
            changed_files=len(files) if changed_files is None else changed_files,
            commits=max(len(committers), 1) if commit_count is None else commit_count,
            merged=merged,
            merged_at="2024-01-20T10:00:00Z" if merged else None,
            labels=[dict(pr["labels"][0], name=label, id=next(self._ids)) for label in labels],
        )
        pr["requested_teams"] = []  # GitHub's example lacks the teams' required "type"
        pr["requested_reviewers"] = []
        pr["head"]["sha"] = head
        pr["base"]["sha"] = base
        pr["base"]["ref"] = "main"
        self.pulls[number] = pr
        entry = self.spec.example("diff-entry-items")[0]
        self.files[number] = [dict(entry, filename=f, previous_filename=None) for f in files]
        for entry in self.files[number]:
            del entry["previous_filename"]
        commit = self.spec.example("commit-items")[0]
        self.commits[number] = []
        for person in committers or [author]:
            item = copy.deepcopy(commit)
            item["author"] = self.user(person)
            item["committer"] = self.user("web-flow")
            self.commits[number].append(item)
        self.reviews.setdefault(number, [])
        self.comments.setdefault(number, [])
        return pr

    def add_review(
        self, number: int, user: str, state: str, commit: str, submitted_at: str, kind: str = "User"
    ) -> None:
        review = self.spec.example("pull-request-review")
        review.update(
            id=next(self._ids),
            user=self.user(user, kind),
            state=state,
            commit_id=commit,
            submitted_at=submitted_at,
        )
        self.reviews[number].append(review)

    def add_comment(self, number: int, user: str, body: str, kind: str = "User") -> dict[str, Any]:
        comment = self.spec.example("issue-comment")
        identifier = next(self._ids)
        comment.update(
            id=identifier,
            body=body,
            user=self.user(user, kind),
            url=f"{GITHUB}/repos/{self.repository}/issues/comments/{identifier}",
        )
        self.comments[number].append(comment)
        return comment

    def add_check_run(self, sha: str, name: str, conclusion: str | None) -> None:
        run = self.spec.example("check-run")
        run.update(
            id=next(self._ids),
            name=name,
            head_sha=sha,
            conclusion=conclusion,
            status="completed" if conclusion else "in_progress",
        )
        self.check_runs.setdefault(sha, []).append(run)

    def add_deployment(self, sha: str, environment: str, created_at: str, **payload: Any) -> None:
        deployment = self.spec.example("deployment-items")[0]
        deployment.update(id=next(self._ids), sha=sha, environment=environment,
                          created_at=created_at, payload=payload)  # fmt: skip
        self.deployments.append(deployment)

    def fail(
        self, method: str, path: str, status: int, *, headers: dict[str, str] | None = None,
        message: str = "error", times: int = 1,
    ) -> None:  # fmt: skip
        """Answer the next ``times`` requests to ``path`` (a regex) with an error."""
        body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        self.injected.append(Injected(method, re.compile(path), status, headers or {}, body, times))

    # --- the server -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK hold every answer ~40 ms
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                """Keep the test output quiet: failures are reported by the tests."""

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path, query = parts.path, dict(parse_qsl(parts.query))
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        method = handler.command
        sent = json.loads(raw) if raw else None
        self.problems += self.spec.check_request(method, path, query, raw)
        authorization = handler.headers.get("Authorization") or ""
        if path.startswith("/app/") or path == "/app":
            authorized = self._app_authorized(authorization)
        else:
            authorized = authorization == f"token {self.token}"
        if not authorized:
            status, headers, body = (
                401,
                {},
                {"message": "Bad credentials", "documentation_url": "x"},
            )
        else:
            status, headers, body = self._answer(method, path, query, sent)
        text = json.dumps(body).replace(GITHUB, self.url).encode() if body is not None else b""
        headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        self.problems += self.spec.check_response(method, path, query, status, headers, text)
        call = Call(method, path, query, status, sent, time.perf_counter())
        self.calls.append(call)
        if path.endswith("/deployment_protection_rule"):
            self.protection_reviews.append(call)
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value.replace(GITHUB, self.url))
        handler.send_header("Content-Length", str(len(text)))
        handler.end_headers()
        handler.wfile.write(text)

    def _answer(
        self, method: str, path: str, query: dict[str, str], sent: Any
    ) -> tuple[int, dict[str, str], Any]:
        for injected in self.injected:
            if injected.times and injected.method == method and injected.path.search(path):
                injected.times -= 1
                return injected.status, injected.headers, injected.body
        repo = f"/repos/{self.repository}"

        def page(items: list[Any]) -> tuple[int, dict[str, str], Any]:
            return self._page(path, query, items)

        def pulls_of(sha: str) -> list[Any]:
            return [self.pulls[n] for n in self.commit_pulls.get(sha, [])]

        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/user", lambda m: self._me()),
            ("GET", rf"{repo}/pulls/(\d+)", lambda m: (200, {}, self.pulls[int(m[1])])),
            ("GET", rf"{repo}/pulls/(\d+)/files", lambda m: page(self.files[int(m[1])])),
            ("GET", rf"{repo}/pulls/(\d+)/commits", lambda m: page(self.commits[int(m[1])])),
            ("GET", rf"{repo}/pulls/(\d+)/reviews", lambda m: page(self.reviews[int(m[1])])),
            (
                "GET",
                r"/orgs/([^/]+)/teams/([^/]+)/members",
                lambda m: self._team(page, f"{m[1]}/{m[2]}"),
            ),
            ("GET", rf"{repo}/commits/([^/]+)/check-runs", lambda m: self._runs(page, m[1])),
            ("GET", rf"{repo}/commits/([^/]+)/status", lambda m: self._combined(m[1])),
            ("GET", rf"{repo}/commits/([^/]+)/pulls", lambda m: page(pulls_of(m[1]))),
            (
                "GET",
                rf"{repo}/issues/(\d+)/comments",
                lambda m: page(self.comments.get(int(m[1]), [])),
            ),
            ("POST", rf"{repo}/issues/(\d+)/comments", lambda m: self._comment(int(m[1]), sent)),
            ("PATCH", rf"{repo}/issues/comments/(\d+)", lambda m: self._edit(int(m[1]), sent)),
            ("DELETE", rf"{repo}/issues/comments/(\d+)", lambda m: self._delete(int(m[1]))),
            ("POST", rf"{repo}/statuses/([0-9a-f]+)", lambda m: self._status(m[1], sent)),
            (
                "POST",
                rf"{repo}/pulls/(\d+)/requested_reviewers",
                lambda m: self._request_reviews(int(m[1]), sent),
            ),
            ("GET", rf"{repo}/deployments", lambda m: page(self.deployments)),
            (
                "POST",
                r"/app/installations/(\d+)/access_tokens",
                lambda m: self._installation_token(int(m[1])),
            ),
            (
                "POST",
                rf"{repo}/actions/runs/(\d+)/deployment_protection_rule",
                lambda m: (204, {}, None),
            ),
        ]
        for verb, pattern, answer in routes:
            found = re.fullmatch(pattern, path)
            if verb == method and found:
                try:
                    return answer(found)  # type: ignore[no-any-return]
                except KeyError:
                    break
        return 404, {}, {"message": "Not Found", "documentation_url": "https://docs.github.com"}

    def _app_authorized(self, authorization: str) -> bool:
        """A JWT as GitHub wants it: RS256, signed with the App's key, ``iss`` the App, and
        expiring at most ten minutes ahead."""
        import jwt

        if self.app_public_key is None or not authorization.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(
                authorization.removeprefix("Bearer "),
                self.app_public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError:
            return False
        return bool(claims["iss"] == self.app_id and claims["exp"] - time.time() <= 600)

    def _installation_token(self, installation: int) -> tuple[int, dict[str, str], Any]:
        if installation not in self.installations:
            raise KeyError(installation)
        granted = self.spec.example("installation-token")
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        granted.update(token=self.token, expires_at=expires)
        return 201, {}, granted

    def _me(self) -> tuple[int, dict[str, str], Any]:
        if self.login is None:
            return (
                403,
                {},
                {"message": "Resource not accessible by integration", "documentation_url": "x"},
            )
        user = self.spec.example("private-user")
        user["login"] = self.login
        return 200, {}, user

    def _page(
        self, path: str, query: dict[str, str], items: list[Any]
    ) -> tuple[int, dict[str, str], Any]:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        if path.endswith("/files"):
            items = items[:3000]  # GitHub lists at most 3,000 files of a pull request
        if path.endswith("/commits") and "/pulls/" in path:
            items = items[:250]  # ... and at most 250 commits
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page < last:
            links = [f'<{GITHUB}{path}?page={page + 1}&per_page={per_page}>; rel="next"',
                     f'<{GITHUB}{path}?page={last}&per_page={per_page}>; rel="last"']  # fmt: skip
            headers["Link"] = ", ".join(links)
        return 200, headers, chunk

    def _team(self, page: Any, team: str) -> tuple[int, dict[str, str], Any]:
        members = self.teams[team]
        if isinstance(members, int):
            message = "Resource not accessible by integration" if members == 403 else "Not Found"
            return members, {}, {"message": message, "documentation_url": "https://docs.github.com"}
        return page([self.user(login) for login in members])  # type: ignore[no-any-return]

    def _runs(self, page: Any, sha: str) -> tuple[int, dict[str, str], Any]:
        runs = self.check_runs.get(sha, [])
        status, headers, chunk = page(runs)
        return status, headers, {"total_count": len(runs), "check_runs": chunk}

    def _combined(self, sha: str) -> tuple[int, dict[str, str], Any]:
        combined = self.spec.example("combined-commit-status")
        combined.update(sha=sha, statuses=[], total_count=0, state="success")
        return 200, {}, combined

    def _comment(self, number: int, sent: Any) -> tuple[int, dict[str, str], Any]:
        if number not in self.pulls:
            raise KeyError(number)
        comment = self.add_comment(number, self.login or "github-actions[bot]", sent["body"],
                                   "User" if self.login else "Bot")  # fmt: skip
        return 201, {}, comment

    def _find(self, identifier: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == identifier:
                    return comments, comment
        raise KeyError(identifier)

    def _edit(self, identifier: int, sent: Any) -> tuple[int, dict[str, str], Any]:
        _, comment = self._find(identifier)
        comment["body"] = sent["body"]
        return 200, {}, comment

    def _delete(self, identifier: int) -> tuple[int, dict[str, str], Any]:
        comments, comment = self._find(identifier)
        comments.remove(comment)
        return 204, {}, None

    def team(self, slug: str) -> dict[str, Any]:
        """A team as GitHub describes it in a pull request's requested_teams."""
        team = self.spec.example("pull-request-review-request")["requested_teams"][0]
        team.update(slug=slug, name=slug, id=next(self._ids), type="organization")
        return team

    def _request_reviews(self, number: int, sent: Any) -> tuple[int, dict[str, str], Any]:
        """Like GitHub: the author cannot be requested (422), nor a team of another org or
        one listed in ``unrequestable`` (422); otherwise the requests are added."""
        pr = self.pulls[number]
        users = (sent or {}).get("reviewers", [])
        teams = (sent or {}).get("team_reviewers", [])
        if pr["user"]["login"] in users:
            return 422, {}, {"message": "Review cannot be requested from pull request author.",
                             "documentation_url": "https://docs.github.com"}  # fmt: skip
        refused = [t for t in teams if t in self.unrequestable]
        if refused:
            status = self.unrequestable[refused[0]]
            return status, {}, {"message": f"Could not resolve to a node: {refused[0]}",
                                "documentation_url": "https://docs.github.com"}  # fmt: skip
        pr["requested_reviewers"] += [self.user(u) for u in users]
        pr["requested_teams"] += [self.team(t) for t in teams]
        self.review_requests.append((number, list(users), list(teams)))
        return 201, {}, pr

    def _status(self, sha: str, sent: Any) -> tuple[int, dict[str, str], Any]:
        status = self.spec.example("status")
        status.update(
            state=sent["state"],
            description=sent.get("description"),
            context=sent.get("context", "default"),
            target_url=sent.get("target_url"),
        )
        self.statuses.setdefault(sha, []).append(status)
        return 201, {}, status
