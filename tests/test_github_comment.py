"""The sticky PR comment and the PR diff against the test GitHub API (tests/github_api.py), whose
requests and responses are checked against GitHub's OpenAPI description."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from github_api import GitHubAPI, SpecMissing, running_github_api

from otel_go_autoinst.publish.github import upsert_sticky_comment
from otel_go_autoinst.publish.prdiff import fetch_pr_changes, parse_diff
from otel_go_autoinst.render import COMMENT_MARKER, render_markdown
from otel_go_autoinst.report import InstrumentedFunction, Report

REPO = "octo/shop"
PR = 7
COMMENTS = f"/repos/{REPO}/issues/{PR}/comments"
APP_TOKEN = "ghs_apptoken_secret_000001"  # like the workflow's GITHUB_TOKEN
USER_TOKEN = "ghp_usertoken_secret_00002"
READ_TOKEN = "ghs_readonly_secret_000003"  # a fork's pull request
BOT = "github-actions[bot]"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def gh() -> Iterator[GitHubAPI]:
    try:
        with running_github_api() as api:
            api.add_token(APP_TOKEN, BOT, app=True)
            api.add_token(USER_TOKEN, "otel-user")
            api.add_token(READ_TOKEN, BOT, app=True, write=False)
            yield api
    except SpecMissing as exc:
        pytest.fail(str(exc))


def upsert(api: GitHubAPI, body: str, token: str = APP_TOKEN):  # type: ignore[no-untyped-def]
    return upsert_sticky_comment(
        token=token,
        repo=REPO,
        pr_number=PR,
        body=body,
        api_url=api.base_url,
        backoff_factor=0.01,
        marker=COMMENT_MARKER,
    )


def body(text: str) -> str:
    return f"{COMMENT_MARKER}\n{text}\n"


def test_create_update_unchanged(gh: GitHubAPI) -> None:
    first = upsert(gh, body("one"))
    assert first.action == "created" and first.reason is None
    [c] = gh.comments_on(REPO, PR)
    assert c["user"]["login"] == BOT and c["body"] == body("one")
    assert first.url == c["html_url"]

    second = upsert(gh, body("two"))
    assert second.action == "updated"
    [c2] = gh.comments_on(REPO, PR)
    assert c2["id"] == c["id"] and c2["body"] == body("two")

    writes = len(gh.requests_to("PATCH")) + len(gh.requests_to("POST"))
    third = upsert(gh, body("two"))
    assert third.action == "unchanged" and third.url == c["html_url"]
    assert len(gh.requests_to("PATCH")) + len(gh.requests_to("POST")) == writes
    assert len(gh.requests_to("PATCH")) == 1
    assert len(gh.comments_on(REPO, PR)) == 1


def test_marker_is_added_when_missing(gh: GitHubAPI) -> None:
    assert upsert(gh, "no marker here").action == "created"
    assert gh.comments_on(REPO, PR)[0]["body"].startswith(COMMENT_MARKER + "\n")
    assert upsert(gh, "no marker here").action == "unchanged"


def test_user_token_uses_its_own_login(gh: GitHubAPI) -> None:
    gh.add_comment(REPO, PR, body("by the bot"), BOT)
    out = upsert(gh, body("mine"), token=USER_TOKEN)
    assert out.action == "created"
    bodies = {c["user"]["login"]: c["body"] for c in gh.comments_on(REPO, PR)}
    assert bodies == {BOT: body("by the bot"), "otel-user": body("mine")}
    assert gh.requests_to("GET", r"^/user$")


def test_pagination_finds_marker_comment_on_page_3(gh: GitHubAPI) -> None:
    for i in range(230):
        gh.add_comment(REPO, PR, f"chatter {i}", "alice" if i % 2 else "bob")
    ours = gh.add_comment(REPO, PR, body("old"), BOT)
    for i in range(20):
        gh.add_comment(REPO, PR, f"more {i}", "carol")
    out = upsert(gh, body("new"))
    assert out.action == "updated"
    pages = [r.query.get("page", ["1"])[0] for r in gh.requests_to("GET", "comments$")]
    assert pages == ["1", "2", "3"]
    assert all(r.query.get("per_page") == ["100"] for r in gh.requests_to("GET", "comments$"))
    assert not gh.requests_to("POST")
    [patch] = gh.requests_to("PATCH")
    assert patch.path.endswith(f"/issues/comments/{ours['id']}")
    assert len(gh.comments_on(REPO, PR)) == 251


def test_someone_elses_comment_with_the_marker_is_not_edited(gh: GitHubAPI) -> None:
    theirs = gh.add_comment(REPO, PR, body("quoting the bot"), "mallory")
    out = upsert(gh, body("report"))
    assert out.action == "created"
    assert not gh.requests_to("PATCH")
    comments = gh.comments_on(REPO, PR)
    assert [c["user"]["login"] for c in comments] == ["mallory", BOT]
    assert comments[0]["body"] == theirs["body"]


def test_read_only_token_is_skipped_with_reason(gh: GitHubAPI, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    out = upsert(gh, body("report"), token=READ_TOKEN)
    assert out.action == "skipped" and out.url is None
    assert out.reason is not None
    assert "workflow_run" in out.reason and "pull-requests: write" in out.reason
    assert "403" in out.reason
    assert gh.comments_on(REPO, PR) == []
    assert len(gh.requests_to("POST")) == 1  # a 403 is not retried
    assert READ_TOKEN not in caplog.text and READ_TOKEN not in out.reason


def test_read_only_token_with_existing_comment(gh: GitHubAPI) -> None:
    gh.add_comment(REPO, PR, body("old"), BOT)
    out = upsert(gh, body("new"), token=READ_TOKEN)
    assert out.action == "skipped" and "workflow_run" in (out.reason or "")
    assert gh.comments_on(REPO, PR)[0]["body"] == body("old")


def test_unknown_pull_request_or_bad_token_is_skipped(gh: GitHubAPI) -> None:
    gh.fail("GET", COMMENTS, 404, body={"message": "Not Found", "documentation_url": "x"})
    assert upsert(gh, body("x")).action == "skipped"
    out = upsert(gh, body("x"), token="ghp_not_known")
    assert out.action == "skipped" and "401" in (out.reason or "")
    out = upsert_sticky_comment(token="", repo=REPO, pr_number=PR, body="x", marker=COMMENT_MARKER)
    assert out.action == "skipped"


def test_502_on_create_then_success_makes_one_comment(gh: GitHubAPI) -> None:
    gh.fail("POST", COMMENTS, 502)
    out = upsert(gh, body("report"))
    assert out.action == "created"
    assert len(gh.comments_on(REPO, PR)) == 1
    assert [r.status for r in gh.requests_to("POST")] == [502, 201]


def test_lost_response_to_create_is_not_posted_twice(gh: GitHubAPI) -> None:
    # GitHub stored the comment but the answer was a 502: list again, do not post again
    gh.fail("POST", COMMENTS, 502, apply=True)
    out = upsert(gh, body("report"))
    assert out.action == "created"
    assert len(gh.comments_on(REPO, PR)) == 1
    assert len(gh.requests_to("POST")) == 1
    assert out.url == gh.comments_on(REPO, PR)[0]["html_url"]


def test_transient_errors_on_list_and_edit_are_retried(gh: GitHubAPI) -> None:
    ours = gh.add_comment(REPO, PR, body("old"), BOT)
    gh.fail("GET", COMMENTS, 502, times=2)
    gh.fail("PATCH", f"/repos/{REPO}/issues/comments/{ours['id']}", 503)
    out = upsert(gh, body("new"))
    assert out.action == "updated"
    assert [r.status for r in gh.requests_to("GET", "comments$")] == [502, 502, 200]
    assert [r.status for r in gh.requests_to("PATCH")] == [503, 200]
    assert len(gh.comments_on(REPO, PR)) == 1


def test_persistent_5xx_is_skipped_not_raised(gh: GitHubAPI) -> None:
    gh.fail("GET", COMMENTS, 502, times=20)
    out = upsert(gh, body("x"))
    assert out.action == "skipped" and "502" in (out.reason or "")
    assert not gh.requests_to("POST")


def test_secondary_rate_limit_retry_after_is_honoured(gh: GitHubAPI) -> None:
    gh.fail(
        "POST",
        COMMENTS,
        403,
        headers={"Retry-After": "1"},
        body={"message": "You have exceeded a secondary rate limit.", "documentation_url": "x"},
    )
    start = time.monotonic()
    out = upsert(gh, body("report"))
    assert out.action == "created"
    assert time.monotonic() - start >= 1.0
    assert len(gh.comments_on(REPO, PR)) == 1


def test_429_retry_after_on_listing_is_honoured(gh: GitHubAPI) -> None:
    gh.fail(
        "GET",
        COMMENTS,
        429,
        headers={"Retry-After": "1"},
        body={"message": "API rate limit exceeded", "documentation_url": "x"},
    )
    start = time.monotonic()
    assert upsert(gh, body("report")).action == "created"
    assert time.monotonic() - start >= 1.0
    # the listing before creating (429 then 200) and the one after, that reconciles
    assert [r.status for r in gh.requests_to("GET", "comments$")] == [429, 200, 200]


def test_rate_limit_beyond_the_bounded_wait_is_skipped(gh: GitHubAPI) -> None:
    reset = str(int(time.time()) + 3600)
    gh.fail(
        "GET",
        COMMENTS,
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        body={"message": "API rate limit exceeded for installation.", "documentation_url": "x"},
    )
    start = time.monotonic()
    out = upsert(gh, body("report"))
    assert time.monotonic() - start < 10
    assert out.action == "skipped" and "rate limit" in (out.reason or "").lower()
    assert gh.comments_on(REPO, PR) == []


def test_primary_rate_limit_403_on_create_with_a_near_reset_is_retried(gh: GitHubAPI) -> None:
    # GitHub's primary rate limit: 403 (not 429), no Retry-After, X-RateLimit-Remaining 0
    reset = int(time.time()) + 2
    gh.fail(
        "POST",
        COMMENTS,
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        body={
            "message": "API rate limit exceeded for installation ID 1.",
            "documentation_url": "x",
        },
    )
    out = upsert(gh, body("report"))
    assert out.action == "created", out.reason
    assert time.time() >= reset
    assert [r.status for r in gh.requests_to("POST")] == [403, 201]
    assert len(gh.comments_on(REPO, PR)) == 1


def test_primary_rate_limit_403_with_a_far_reset_is_not_a_permission_problem(
    gh: GitHubAPI,
) -> None:
    gh.fail(
        "POST",
        COMMENTS,
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3000)},
        body={
            "message": "API rate limit exceeded for installation ID 1.",
            "documentation_url": "x",
        },
    )
    start = time.monotonic()
    out = upsert(gh, body("report"))
    assert time.monotonic() - start < 10
    assert out.action == "skipped"
    reason = out.reason or ""
    assert "rate limit" in reason and "permission" not in reason and "may not" not in reason
    assert "resets in 50 min" in reason


def test_concurrent_creations_leave_one_comment(gh: GitHubAPI) -> None:
    """Two runs list (nothing), both create: each then lists again, the oldest stays."""
    gh.hold_creates(2)
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda text: upsert(gh, body(text)), ["run a", "run b"]))
    [kept] = gh.comments_on(REPO, PR)
    assert [o.url for o in outs] == [kept["html_url"]] * 2
    assert len(gh.requests_to("POST")) == 2
    assert [r.status for r in gh.requests_to("DELETE")].count(204) == 1
    assert kept["body"] in (body("run a"), body("run b"))
    # the next run edits that one
    assert upsert(gh, body("run c")).action == "updated"
    assert [c["body"] for c in gh.comments_on(REPO, PR)] == [body("run c")]


def test_token_never_logged(gh: GitHubAPI, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    gh.fail("POST", COMMENTS, 502)
    upsert(gh, body("a"))
    upsert(gh, body("b"))
    upsert(gh, body("c"), token=READ_TOKEN)
    for token in (APP_TOKEN, READ_TOKEN):
        assert token not in caplog.text


SHOP_DIFF = (DATA / "diffs" / "shop-pr.diff").read_text(encoding="utf-8")


def test_diff_marks_from_the_pull_request(gh: GitHubAPI) -> None:
    head = "fedcba9876543210fedcba9876543210fedcba98"
    gh.add_pull(REPO, PR, diff=SHOP_DIFF, head_sha=head)
    changes = fetch_pr_changes(token=APP_TOKEN, repo=REPO, pr_number=PR, api_url=gh.base_url)
    assert changes.added_files == {"orders/pricing.go"}
    assert changes.changed_lines("orders/service.go") == {43, 44}
    report = Report.read(DATA / "reports" / "passing.json")
    text = render_markdown(
        report, repo_url=f"https://github.com/{REPO}", head_sha=head, changes=changes
    )
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert any("🆕 new" in r and "Cart[T].Total" in r for r in rows)
    assert any("✏️ changed" in r and "(*Service).PlaceOrder" in r for r in rows)
    assert not any("changed" in r and "CancelOrder" in r for r in rows)
    assert f"/blob/{head}/orders/service.go#L42" in text
    [req] = gh.requests_to("GET", "/pulls/")
    assert req.path == f"/repos/{REPO}/pulls/{PR}"


def test_too_large_diff_falls_back_to_files(gh: GitHubAPI) -> None:
    files: list[dict[str, Any]] = [
        {
            "filename": "orders/service.go",
            "status": "modified",
            "additions": 2,
            "deletions": 1,
            "patch": "@@ -41,3 +41,4 @@ x\n // PlaceOrder\n func (s *Service) PlaceOrder() {\n"
            "-\told()\n+\tnew1()\n+\tnew2()\n",
        },
        {"filename": "orders/big.go", "status": "added", "additions": 9000, "patch": None},
        {
            "filename": "orders/moved.go",
            "previous_filename": "orders/old.go",
            "status": "renamed",
            "patch": "@@ -1,1 +1,2 @@\n package orders\n+// moved\n",
        },
    ]
    gh.add_pull(REPO, PR, diff="", files=files, diff_too_large=True)
    changes = fetch_pr_changes(token=APP_TOKEN, repo=REPO, pr_number=PR, api_url=gh.base_url)
    assert changes.changed_lines("orders/service.go") == {43, 44}
    assert changes.added_files == {"orders/big.go"}
    assert changes.files["orders/moved.go"].old_path == "orders/old.go"
    assert changes.touches("orders/service.go", 42, None)
    assert [r.status for r in gh.requests_to("GET", "/pulls/")] == [406, 200]


def test_the_server_catches_contract_violations() -> None:
    try:
        with pytest.raises(AssertionError, match="contract violations"):
            with running_github_api() as api:
                api.add_token(APP_TOKEN, BOT, app=True)
                auth = {"Authorization": f"token {APP_TOKEN}"}
                r = requests.post(
                    f"{api.base_url}{COMMENTS}", json={"text": "no body field"}, headers=auth
                )
                assert r.status_code >= 400 or r.status_code == 201
                requests.get(f"{api.base_url}{COMMENTS}?per_page=abc", headers=auth)
                assert len(api.violations) >= 2
    except SpecMissing as exc:
        pytest.fail(str(exc))


GO_BEFORE = """package app

func Keep() int {
\treturn 1
}

func Trim() int {
\tx := 1
\tx++
\treturn x
}
"""

GO_AFTER = """package app

func Keep() int {
\treturn 1
}

func Trim() int {
\tx := 1
\treturn x
}

func Added() int {
\treturn 3
}
"""


def test_marks_from_a_real_git_diff(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    git("init", "-q")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.go").write_text(GO_BEFORE)
    git("add", ".")
    git("commit", "-qm", "base")
    (tmp_path / "app" / "app.go").write_text(GO_AFTER)
    (tmp_path / "app" / "new.go").write_text("package app\n\nfunc Fresh() {}\n")
    git("add", ".")
    changes = parse_diff(git("diff", "--cached"))
    assert changes.added_files == {"app/new.go"}
    assert changes.files["app/app.go"].deletion_points == {9}

    def fn(name: str, file: str, line: int) -> InstrumentedFunction:
        return InstrumentedFunction("example.com/app", file, line, name, None, ["r"], "full")

    report = Report(
        root=".",
        go_version="1.23",
        instrumented=[
            fn("Keep", "app/app.go", 3),
            fn("Trim", "app/app.go", 7),
            fn("Added", "app/app.go", 12),
            fn("Fresh", "app/new.go", 3),
        ],
    )
    rows = {
        line.split("|")[3].strip(): line.split("|")[1].strip()
        for line in render_markdown(report, changes=changes).splitlines()
        if line.startswith("| ") and "example.com/app" in line
    }
    assert rows == {"`Keep`": "", "`Trim`": "✏️ changed", "`Added`": "🆕 new", "`Fresh`": "🆕 new"}
