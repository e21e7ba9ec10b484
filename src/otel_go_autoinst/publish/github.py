"""The sticky pull-request comment, with PyGithub.

One comment per pull request, found by a hidden marker line AND its author being the token's own
login, edited in place on every push and never duplicated: two runs on one pull request at once
may both create one, so after creating, the comments are listed again and only the oldest of ours
is kept (a newer one, ours included, is deleted and the oldest gets our body). Nothing here ever fails the job: a
read-only token (pull requests from forks), a 403/404, GitHub being down or a rate limit beyond a
bounded wait all give `CommentOutcome(action="skipped", reason=...)`; the reason says what to do.

Retries: idempotent requests (GET, PATCH) are retried by urllib3 on 5xx and on connection errors
with exponential backoff; rate limits honour `Retry-After` and `X-RateLimit-Reset` up to
`MAX_RATE_LIMIT_WAIT` seconds (a primary rate limit answers 403 with `X-RateLimit-Remaining: 0`:
that is a rate limit, retried when its reset is near, and never called a permissions problem).
POST (create) is never retried blindly: after a failed create the
comments are listed again, so a POST that reached GitHub before the error is found, not repeated.

The token is given to PyGithub only; it is never logged nor put in a reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait
from github.Issue import Issue
from github.IssueComment import IssueComment
from urllib3 import Retry

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
# Author of comments made with the workflow's GITHUB_TOKEN (an App installation token, for which
# GET /user answers 403).
ACTIONS_BOT_LOGIN = "github-actions[bot]"
MAX_RATE_LIMIT_WAIT = 120.0  # seconds we are willing to wait for a rate limit to reset
CREATE_ATTEMPTS = 3

HOW_TO_GET_THE_COMMENT = (
    "The job summary has the full report. To get the pull-request comment, give the job "
    "`permissions: pull-requests: write`. Pull requests from forks only get a read-only token: "
    "upload the report JSON as an artifact and post the comment from a second workflow "
    "triggered by `workflow_run` (it runs in the base repository with a write token) that runs "
    "this action with `mode: comment`."
)


@dataclass
class CommentOutcome:
    action: str  # "created" | "updated" | "unchanged" | "skipped"
    url: str | None = None
    reason: str | None = None


class _BoundedRetry(GithubRetry):
    """GithubRetry that also retries 429 and never waits longer than `max_rate_limit_wait`."""

    def get_retry_after(self, response: Any) -> float | None:
        after = super().get_retry_after(response)
        limit = self.max_rate_limit_wait
        if after is not None and limit is not None and after > limit:
            raise RateLimitExceededExceedsMaxWait(
                response.status,
                {"message": f"Retry-After of {after:.0f}s exceeds the {limit:.0f}s we wait"},
                dict(response.headers),
                wait=after,
            )
        return after

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        headers = response.headers if response is not None else {}
        if response is not None and response.status == 429 and "Retry-After" not in headers:
            wait = _reset_wait(response.headers)
            if wait is not None:
                limit = self.max_rate_limit_wait
                if limit is not None and wait > limit:
                    raise RateLimitExceededExceedsMaxWait(
                        429, {"message": "rate limit reset is too far away"}, None, wait=wait
                    )
                retry.get_backoff_time = lambda: max(wait, 0.0)  # type: ignore[method-assign]
        return retry


def _reset_wait(headers: Any) -> float | None:
    value = _header(headers, "X-RateLimit-Reset")
    if value and str(value).isdigit():
        return int(value) - datetime.now(UTC).timestamp() + 1
    return None


def make_retry(backoff_factor: float = 0.5, total: int = 5) -> Retry:
    return _BoundedRetry(
        total=total,
        backoff_factor=backoff_factor,
        status_forcelist=[429, *range(500, 600)],
        # idempotent only: a POST is retried by upsert_sticky_comment after listing again
        allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PATCH", "PUT", "DELETE"}),
        raise_on_status=False,
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT,
        secondary_rate_wait=60,
    )


def make_client(
    *, token: str, api_url: str = DEFAULT_API_URL, backoff_factor: float = 0.5
) -> Github:
    return Github(
        auth=Auth.Token(token),
        base_url=api_url.rstrip("/"),
        retry=make_retry(backoff_factor),
        per_page=100,
        lazy=True,
        timeout=30,
        seconds_between_requests=None,
        seconds_between_writes=1.0,  # GitHub's advice for content-creating requests
    )


def _own_login(gh: Github) -> str | None:
    """The token's own login, or None when GET /user is refused (App installation tokens)."""
    try:
        _, data = gh.requester.requestJsonAndCheck("GET", "/user")
    except GithubException as exc:
        if exc.status in (401,):
            raise
        log.debug("GET /user refused (%s); assuming the Actions bot", exc.status)
        return None
    login = data.get("login") if isinstance(data, dict) else None
    return str(login) if login else None


def _normalize(body: str | None) -> str:
    return (body or "").replace("\r\n", "\n")


def _ours(issue: Issue, marker: str, authors: set[str]) -> list[IssueComment]:
    """The comments that have the marker and were written by one of `authors`, oldest first."""
    found = []
    for comment in issue.get_comments():  # paginated, per_page=100, oldest first
        if marker not in (comment.body or ""):
            continue
        if comment.user is not None and comment.user.login in authors:
            found.append(comment)
    return sorted(found, key=lambda c: (c.created_at, c.id))


def _find(issue: Issue, marker: str, authors: set[str]) -> IssueComment | None:
    """The oldest comment that has the marker and was written by one of `authors`."""
    ours = _ours(issue, marker, authors)
    return ours[0] if ours else None


def _reconcile(
    issue: Issue, body: str, marker: str, authors: set[str], created: CommentOutcome
) -> CommentOutcome:
    """After creating: when another run created one too, keep the oldest, delete the others
    (ours included) and leave our body in the one that stays."""
    ours = _ours(issue, marker, authors)
    if len(ours) <= 1:
        return created
    keep, extra = ours[0], ours[1:]
    for comment in extra:
        try:
            comment.delete()
        except GithubException as exc:
            if exc.status != 404:  # 404: the other run deleted it already
                raise
    if _normalize(keep.body) != _normalize(body):
        keep.edit(body)
    log.info("another run created the comment too; kept the oldest: %s", keep.html_url)
    action = "created" if created.url == keep.html_url else "updated"
    return CommentOutcome(action, keep.html_url, None)


def _retry_wait(exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before retrying a failed create, or None when it must not be retried."""
    if isinstance(exc, requests.RequestException):
        return min(2.0**attempt, 30.0)
    if isinstance(exc, RateLimitExceededExceedsMaxWait):
        return None
    if isinstance(exc, GithubException):
        if exc.status >= 500:
            return min(2.0**attempt, 30.0)
        headers = exc.headers or {}
        after = headers.get("retry-after") or headers.get("Retry-After")
        if exc.status in (403, 429) and after and str(after).isdigit():
            wait = float(after)
            return wait if wait <= MAX_RATE_LIMIT_WAIT else None
        if exc.status == 429 or is_rate_limit(exc):
            wait_reset = _reset_wait(headers)
            if wait_reset is not None and wait_reset <= MAX_RATE_LIMIT_WAIT:
                return max(wait_reset, 0.0)
    return None


def _create(issue: Issue, body: str, marker: str, authors: set[str]) -> CommentOutcome:
    last: Exception | None = None
    for attempt in range(CREATE_ATTEMPTS):
        if attempt:
            # The failed POST may have reached GitHub: look before posting again.
            found = _find(issue, marker, authors)
            if found is not None:
                if _normalize(found.body) != _normalize(body):
                    found.edit(body)
                log.info("the comment was created by an earlier attempt: %s", found.html_url)
                return CommentOutcome("created", found.html_url, None)
        try:
            comment = issue.create_comment(body)
            created = CommentOutcome("created", comment.html_url, None)
            return _reconcile(issue, body, marker, authors, created)
        except (GithubException, requests.RequestException) as exc:
            last = exc
            wait = _retry_wait(exc, attempt)
            if wait is None or attempt == CREATE_ATTEMPTS - 1:
                raise
            log.warning("creating the comment failed (%s); retrying in %.0fs", _brief(exc), wait)
            time.sleep(wait)
    assert last is not None
    raise last


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def is_rate_limit(exc: Exception) -> bool:
    """A 403/429 that is a rate limit (primary: no requests remaining; secondary: GitHub's
    message or a Retry-After), not a refusal of the token's permissions."""
    if isinstance(exc, RateLimitExceededExceedsMaxWait):
        return True
    if not isinstance(exc, GithubException) or exc.status not in (403, 429):
        return False
    if exc.status == 429 or _header(exc.headers, "X-RateLimit-Remaining") == "0":
        return True
    if _header(exc.headers, "Retry-After"):
        return True
    message = exc.data.get("message") if isinstance(exc.data, dict) else None
    return "rate limit" in str(message or "").lower()


def _brief(exc: Exception) -> str:
    if isinstance(exc, GithubException):
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        return f"HTTP {exc.status}" + (f": {message}" if message else "")
    return type(exc).__name__


def upsert_sticky_comment(
    *,
    token: str,
    repo: str,
    pr_number: int,
    body: str,
    marker: str,
    api_url: str = DEFAULT_API_URL,
    author_login: str | None = None,
    backoff_factor: float = 0.5,
) -> CommentOutcome:
    """Create or update the one sticky comment of `pr_number`; never raises for GitHub errors.

    `author_login` overrides the comment author to look for (default: the token's own login from
    GET /user, or `github-actions[bot]` when /user is refused, as for the workflow's GITHUB_TOKEN).
    """
    if not token:
        return CommentOutcome("skipped", None, "no GitHub token. " + HOW_TO_GET_THE_COMMENT)
    if marker not in body:
        body = f"{marker}\n{body}"
    gh = make_client(token=token, api_url=api_url, backoff_factor=backoff_factor)
    try:
        login = author_login or _own_login(gh)
        authors = {login} if login else {ACTIONS_BOT_LOGIN}
        issue = gh.get_repo(repo).get_issue(int(pr_number))
        existing = _find(issue, marker, authors)
        if existing is None:
            outcome = _create(issue, body, marker, authors)
        elif _normalize(existing.body) == _normalize(body):
            outcome = CommentOutcome("unchanged", existing.html_url, None)
        else:
            existing.edit(body)
            outcome = CommentOutcome("updated", existing.html_url, None)
        log.info("pull-request comment %s: %s", outcome.action, outcome.url)
        return outcome
    except GithubException as exc:
        if is_rate_limit(exc):
            reset = _reset_wait(exc.headers)
            when = f" (it resets in {reset / 60:.0f} min)" if reset and reset > 0 else ""
            reason = (
                f"GitHub's API rate limit for this token is exhausted{when} ({_brief(exc)}); "
                "the comment was not written. The report is in the job summary; a later run "
                "writes the comment."
            )
        elif exc.status in (401, 403, 404):
            reason = (
                f"the token may not comment on {repo}#{pr_number} ({_brief(exc)}). "
                + HOW_TO_GET_THE_COMMENT
            )
        else:
            reason = f"GitHub API error ({_brief(exc)}) after retries; the comment was not written."
        log.warning("pull-request comment skipped: %s", reason)
        return CommentOutcome("skipped", None, reason)
    except requests.RequestException as exc:
        reason = f"cannot reach the GitHub API ({type(exc).__name__}); the comment was not written."
        log.warning("pull-request comment skipped: %s", reason)
        return CommentOutcome("skipped", None, reason)
    finally:
        gh.close()
