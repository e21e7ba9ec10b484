"""A GitHub REST API server for tests: http.server on 127.0.0.1 in a thread, keeping state.

Endpoints (those the action uses):

    GET   /user
    GET   /repos/{owner}/{repo}/issues/{n}/comments     per_page/page + Link pagination
    POST  /repos/{owner}/{repo}/issues/{n}/comments
    PATCH /repos/{owner}/{repo}/issues/comments/{id}
    DELETE /repos/{owner}/{repo}/issues/comments/{id}   own comments only (403 otherwise)
    GET   /repos/{owner}/{repo}/pulls/{n}               JSON, or the diff with
                                                        Accept: application/vnd.github.v3.diff
    GET   /repos/{owner}/{repo}/pulls/{n}/files         per_page/page + Link pagination

Knobs: `add_token(token, login, write=..., app=...)` (a read-only token gets GitHub's 403
"Resource not accessible by integration" on writes; an App installation token gets 403 on
GET /user), `fail(method, path, status=502, times=N, ...)` (the next N requests to that endpoint
fail; `apply=True` performs the write before failing, as when a response is lost), `add_pull`,
`add_comment`, `hold_creates(n)` (the next n comment creations wait for each other, so n
concurrent runs all list before any of them creates: the race of two runs on one pull request).
Every request is recorded (`requests`: method, path, query, body) for assertions.

Every request and every response is validated against GitHub's published OpenAPI description
(npm package @octokit/openapi, fetched by scripts/fetch-github-openapi.sh) with openapi-core.
Error statuses an operation does not describe (a 502, a 403 on PATCH) are checked against the
description's `basic-error` schema. The diff media type is not described by the OpenAPI document;
for it the request is validated and the response must carry that media type. Any mismatch is
recorded in `violations`; `running_github_api()` fails the test at exit when there is one.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DIFF_MEDIA_TYPE = "application/vnd.github.v3.diff"
SPEC_HOST = "https://api.github.com"
DOCS = "https://docs.github.com/rest"

ROUTES: list[tuple[str, str, str]] = [
    # (method, spec path, handler name)
    ("GET", "/user", "get_user"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "list_comments"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "create_comment"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "update_comment"),
    ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "delete_comment"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", "get_pull"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", "list_files"),
]


def _pattern(spec_path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", spec_path) + "$")


_COMPILED = [(m, p, _pattern(p), h) for m, p, h in ROUTES]


def openapi_path() -> Path:
    base = os.environ.get("OTEL_GO_AUTOINST_OPENAPI_DIR")
    if not base:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(cache) / "otel-go-autoinst" / "github-openapi")
    return Path(base) / "api.github.com.json"


class SpecMissing(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def load_spec() -> tuple[Any, dict[str, Any]]:
    """(openapi_core.OpenAPI, trimmed spec dict) for the endpoints above."""
    path = openapi_path()
    if not path.is_file():
        raise SpecMissing(
            f"GitHub's OpenAPI description is not at {path}: run scripts/fetch-github-openapi.sh "
            "(needs npm) before these tests"
        )
    from openapi_core import Config, OpenAPI

    spec = json.loads(path.read_text(encoding="utf-8"))
    wanted = {p for _, p, _ in ROUTES}
    missing = wanted - set(spec["paths"])
    if missing:
        raise SpecMissing(f"{path} does not describe {sorted(missing)}")
    spec["paths"] = {p: spec["paths"][p] for p in wanted}
    spec.pop("webhooks", None)
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]  # the spec is GitHub's
    return OpenAPI.from_dict(spec, config=config), spec


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Token:
    login: str
    write: bool = True
    app: bool = False  # an App installation token (GITHUB_TOKEN): GET /user is 403
    user_id: int = 0


@dataclass
class Failure:
    status: int = 502
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    apply: bool = False  # perform the request, then answer with the failure


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int = 0
    token: str | None = None


class GitHubAPI:
    """State and behaviour; the HTTP handler below only translates."""

    def __init__(self, validate: bool = True) -> None:
        self.lock = threading.RLock()
        self.validate = validate
        self.api: Any = None
        self.spec: dict[str, Any] = {}
        if validate:
            self.api, self.spec = load_spec()
        self.base_url = ""
        self.tokens: dict[str, Token] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.comment_issue: dict[int, tuple[str, int]] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.failures: dict[tuple[str, str], list[Failure]] = {}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.next_id = 1000
        self.user_ids: dict[str, int] = {}
        self.create_barrier: threading.Barrier | None = None

    # ------------------------------------------------------------------ knobs

    def add_token(self, token: str, login: str, *, write: bool = True, app: bool = False) -> None:
        self.tokens[token] = Token(login=login, write=write, app=app, user_id=self._uid(login))

    def fail(
        self,
        method: str,
        path: str,
        status: int = 502,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        apply: bool = False,
    ) -> None:
        """The next `times` requests `method path` (a concrete path) answer `status`."""
        key = (method.upper(), path)
        for _ in range(times):
            self.failures.setdefault(key, []).append(
                Failure(status=status, headers=dict(headers or {}), body=body, apply=apply)
            )

    def hold_creates(self, parties: int = 2) -> None:
        """The next `parties` comment creations are answered only once all have arrived."""
        self.create_barrier = threading.Barrier(parties, timeout=60)

    def add_comment(self, repo: str, number: int, body: str, login: str) -> dict[str, Any]:
        with self.lock:
            return self._new_comment(repo, number, body, login)

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        diff: str,
        head_sha: str = "0" * 40,
        files: list[dict[str, Any]] | None = None,
        diff_too_large: bool = False,
    ) -> None:
        self.pulls[(repo, number)] = {
            "diff": diff,
            "head_sha": head_sha,
            "files": files or [],
            "too_large": diff_too_large,
        }

    def comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            ids = sorted(i for i, key in self.comment_issue.items() if key == (repo, number))
            return [copy.deepcopy(self.comments[i]) for i in ids]

    def requests_to(self, method: str, path_re: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(path_re, r.path)]

    # ------------------------------------------------------------------ objects

    def _uid(self, login: str) -> int:
        return self.user_ids.setdefault(login, 1 + len(self.user_ids))

    def _simple_user(self, login: str) -> dict[str, Any]:
        uid = self._uid(login)
        bot = login.endswith("[bot]")
        api = f"{self.base_url}/users/{login}"
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "Bot" if bot else "User",
            "site_admin": False,
            "user_view_type": "public",
        }

    def _public_user(self, login: str) -> dict[str, Any]:
        user = self._simple_user(login)
        user.update(
            {
                "name": None,
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "twitter_username": None,
                "public_repos": 1,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2020-01-01T00:00:00Z",
                "user_view_type": "public",
            }
        )
        return user

    def _new_comment(self, repo: str, number: int, body: str, login: str) -> dict[str, Any]:
        cid = self.next_id
        self.next_id += 1
        now = _now()
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{self.base_url}/repos/{repo}/issues/comments/{cid}",
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{cid}",
            "body": body,
            "user": self._simple_user(login),
            "created_at": now,
            "updated_at": now,
            "issue_url": f"{self.base_url}/repos/{repo}/issues/{number}",
            "author_association": "NONE" if login.endswith("[bot]") else "CONTRIBUTOR",
        }
        self.comments[cid] = comment
        self.comment_issue[cid] = (repo, number)
        return comment

    def _pull_json(self, repo: str, number: int) -> dict[str, Any]:
        _, spec = load_spec()
        example = spec["components"]["examples"]["pull-request"]["value"]
        pr = copy.deepcopy(example)
        pull = self.pulls[(repo, number)]
        pr["requested_teams"] = []
        pr["number"] = number
        pr["url"] = f"{self.base_url}/repos/{repo}/pulls/{number}"
        pr["html_url"] = f"https://github.com/{repo}/pull/{number}"
        pr["head"]["sha"] = pull["head_sha"]
        return dict(pr)

    # ------------------------------------------------------------------ dispatch

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        path, query = split.path, parse_qs(split.query)
        token = _token(headers)
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        rec = Recorded(method, path, query, parsed, token=token)
        barrier = self.create_barrier
        if barrier is not None and method == "POST" and path.endswith("/comments"):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                self.violations.append("hold_creates: fewer creations than expected arrived")
            self.create_barrier = None
        with self.lock:
            self.requests.append(rec)
            route = next(
                (
                    (p, h, m.groupdict())
                    for mm, p, m_, h in _COMPILED
                    if mm == method
                    for m in [m_.match(path)]
                    if m
                ),
                None,
            )
            if route is None:
                self.violations.append(f"{method} {path}: no such endpoint in the test server")
                status, rh, rb = _error(404, "Not Found")
            else:
                spec_path, handler, params = route
                self._validate_request(method, path, query, headers, body, spec_path)
                status, rh, rb = self._dispatch(
                    method, path, handler, params, query, headers, parsed, token
                )
                self._validate_response(
                    method, path, query, headers, body, spec_path, status, rh, rb
                )
            rec.status = status
        return status, rh, rb

    def _dispatch(
        self,
        method: str,
        path: str,
        handler: str,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
        token: str | None,
    ) -> tuple[int, dict[str, str], bytes]:
        tok = self.tokens.get(token or "")
        if tok is None:
            return _error(401, "Bad credentials")
        queue = self.failures.get((method, path))
        failure = queue.pop(0) if queue else None
        if failure is not None and not failure.apply:
            return _failure(failure)
        result = getattr(self, "_" + handler)(tok, params, query, headers, body)
        if failure is not None:
            return _failure(failure)
        return result

    # ------------------------------------------------------------------ handlers

    def _get_user(self, tok: Token, *_: Any) -> tuple[int, dict[str, str], bytes]:
        if tok.app:
            return _error(403, "Resource not accessible by integration")
        return _json(200, self._public_user(tok.login))

    def _list(
        self, items: list[Any], query: dict[str, list[str]], path: str
    ) -> tuple[int, dict[str, str], bytes]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = max(int(query.get("page", ["1"])[0]), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def url(p: int) -> str:
            return f"{self.base_url}{path}?per_page={per_page}&page={p}"

        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
        extra = {"Link": ", ".join(links)} if links else {}
        return _json(200, chunk, extra)

    def _list_comments(
        self, tok: Token, params: dict[str, str], query: dict[str, list[str]], *_: Any
    ) -> tuple[int, dict[str, str], bytes]:
        repo = f"{params['owner']}/{params['repo']}"
        items = self.comments_on(repo, int(params["issue_number"]))
        return self._list(items, query, f"/repos/{repo}/issues/{params['issue_number']}/comments")

    def _create_comment(
        self, tok: Token, params: dict[str, str], _q: Any, _h: Any, body: Any
    ) -> tuple[int, dict[str, str], bytes]:
        if not tok.write:
            return _error(403, "Resource not accessible by integration")
        repo = f"{params['owner']}/{params['repo']}"
        comment = self._new_comment(repo, int(params["issue_number"]), body["body"], tok.login)
        return _json(201, comment, {"Location": comment["url"]})

    def _update_comment(
        self, tok: Token, params: dict[str, str], _q: Any, _h: Any, body: Any
    ) -> tuple[int, dict[str, str], bytes]:
        cid = int(params["comment_id"])
        comment = self.comments.get(cid)
        if comment is None or self.comment_issue[cid][0] != f"{params['owner']}/{params['repo']}":
            return _error(404, "Not Found")
        if not tok.write:
            return _error(403, "Resource not accessible by integration")
        if comment["user"]["login"] != tok.login:
            return _error(403, "You cannot edit someone else's comment")
        comment["body"] = body["body"]
        comment["updated_at"] = _now()
        return _json(200, comment)

    def _delete_comment(
        self, tok: Token, params: dict[str, str], *_: Any
    ) -> tuple[int, dict[str, str], bytes]:
        cid = int(params["comment_id"])
        comment = self.comments.get(cid)
        if comment is None or self.comment_issue[cid][0] != f"{params['owner']}/{params['repo']}":
            return _error(404, "Not Found")
        if not tok.write:
            return _error(403, "Resource not accessible by integration")
        if comment["user"]["login"] != tok.login:
            return _error(403, "You cannot delete someone else's comment")
        del self.comments[cid]
        del self.comment_issue[cid]
        return 204, {}, b""

    def _get_pull(
        self, tok: Token, params: dict[str, str], _q: Any, headers: dict[str, str], *_: Any
    ) -> tuple[int, dict[str, str], bytes]:
        key = (f"{params['owner']}/{params['repo']}", int(params["pull_number"]))
        if key not in self.pulls:
            return _error(404, "Not Found")
        pull = self.pulls[key]
        if DIFF_MEDIA_TYPE in headers.get("accept", ""):
            if pull["too_large"]:
                return _error(406, "Sorry, the diff exceeded the maximum number of lines (20000)")
            return 200, {"Content-Type": f"{DIFF_MEDIA_TYPE}; charset=utf-8"}, pull["diff"].encode()
        return _json(200, self._pull_json(*key))

    def _list_files(
        self, tok: Token, params: dict[str, str], query: dict[str, list[str]], *_: Any
    ) -> tuple[int, dict[str, str], bytes]:
        repo = f"{params['owner']}/{params['repo']}"
        key = (repo, int(params["pull_number"]))
        if key not in self.pulls:
            return _error(404, "Not Found")
        files = []
        for f in self.pulls[key]["files"]:
            entry = {
                "sha": "1" * 40,
                "filename": f["filename"],
                "status": f.get("status", "modified"),
                "additions": f.get("additions", 0),
                "deletions": f.get("deletions", 0),
                "changes": f.get("additions", 0) + f.get("deletions", 0),
                "blob_url": f"https://github.com/{repo}/blob/{'1' * 40}/{f['filename']}",
                "raw_url": f"https://github.com/{repo}/raw/{'1' * 40}/{f['filename']}",
                "contents_url": f"{self.base_url}/repos/{repo}/contents/{f['filename']}",
            }
            if f.get("patch") is not None:
                entry["patch"] = f["patch"]
            if f.get("previous_filename"):
                entry["previous_filename"] = f["previous_filename"]
            files.append(entry)
        return self._list(files, query, f"/repos/{repo}/pulls/{params['pull_number']}/files")

    # ------------------------------------------------------------------ validation

    def _mock_request(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Any:
        from openapi_core.testing import MockRequest

        return MockRequest(
            SPEC_HOST,
            method.lower(),
            path,
            args={k: v[-1] for k, v in query.items()},
            headers=headers,
            data=body or None,
            content_type=headers.get("content-type", "application/json").split(";")[0],
        )

    def _validate_request(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        spec_path: str,
    ) -> None:
        if not self.validate:
            return
        try:
            self.api.validate_request(self._mock_request(method, path, query, headers, body))
        except Exception as exc:  # noqa: BLE001 - any validation error is a violation
            self.violations.append(f"request {method} {path}: {_explain(exc)}")

    def _validate_response(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        spec_path: str,
        status: int,
        rheaders: dict[str, str],
        rbody: bytes,
    ) -> None:
        if not self.validate:
            return
        from openapi_core.testing import MockResponse
        from openapi_schema_validator import OAS30Validator

        operation = self.spec["paths"][spec_path][method.lower()]
        ctype = rheaders.get("Content-Type", "application/json").split(";")[0]
        where = f"response {status} to {method} {path}"
        if status == 204 and not rbody:
            if "204" not in operation["responses"]:
                self.violations.append(f"{where}: status not described for this operation")
            return
        if ctype == DIFF_MEDIA_TYPE:
            if DIFF_MEDIA_TYPE not in headers.get("accept", "") or status != 200:
                self.violations.append(f"{where}: diff sent without being asked for")
            return
        if str(status) not in operation["responses"]:
            if status < 400:
                self.violations.append(f"{where}: status not described for this operation")
                return
            schema = self.spec["components"]["schemas"]["basic-error"]
            errors = list(OAS30Validator(schema).iter_errors(json.loads(rbody)))
            if errors:
                self.violations.append(f"{where}: not a basic-error: {errors[0].message}")
            return
        try:
            self.api.validate_response(
                self._mock_request(method, path, query, headers, body),
                MockResponse(rbody, status_code=status, headers=rheaders, content_type=ctype),
            )
        except Exception as exc:  # noqa: BLE001
            self.violations.append(f"{where}: {_explain(exc)}")


def _explain(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {str(exc)[:300]}"]
    cause = exc.__cause__
    errors = getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None)
    for err in list(errors or [])[:3]:
        parts.append(f"at {list(err.absolute_path)}: {err.message[:200]}")
    return "; ".join(parts)


def _token(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    for prefix in ("token ", "Bearer ", "bearer "):
        if auth.startswith(prefix):
            return auth[len(prefix) :].strip()
    return None


def _json(
    status: int, data: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    h = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return status, h, json.dumps(data).encode()


def _error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return _json(
        status, {"message": message, "documentation_url": DOCS, "status": str(status)}, headers
    )


def _failure(f: Failure) -> tuple[int, dict[str, str], bytes]:
    body = f.body or {
        "message": "Server Error" if f.status >= 500 else "Error",
        "documentation_url": DOCS,
        "status": str(f.status),
    }
    return _json(f.status, body, f.headers)


class _Handler(BaseHTTPRequestHandler):
    api: GitHubAPI
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, rh, rb = self.server.api.handle(  # type: ignore[attr-defined]
                self.command, self.path, headers, body
            )
        except Exception as exc:  # noqa: BLE001 - a server bug must fail the test, not hang it
            self.server.api.violations.append(f"server error: {exc!r}")  # type: ignore[attr-defined]
            status, rh, rb = _error(500, "test server error")
        self.send_response(status)
        for k, v in rh.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rb)))
        self.send_header("X-GitHub-Request-Id", "0000:0000:0000000:0000000:00000000")
        self.end_headers()
        self.wfile.write(rb)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def running_github_api(*, validate: bool = True) -> Iterator[GitHubAPI]:
    """Start the server; at exit, raise AssertionError when a request or response broke the
    OpenAPI description (so the test fails, not just logs)."""
    api = GitHubAPI(validate=validate)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.api = api  # type: ignore[attr-defined]
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    if api.violations:
        raise AssertionError(
            "GitHub API contract violations:\n" + "\n".join(f"- {v}" for v in api.violations)
        )
