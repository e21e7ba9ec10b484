"""The end of every mode: the report rendered (pipeline: otel_go_autoinst.render) into the job
summary and the sticky pull-request comment (otel_go_autoinst.publish), and annotations.

This glue lives here so that the publish package never imports the renderer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from entrypoint.context import Context, Inputs, PullRequest, rel_to
from otel_go_autoinst import render as rnd
from otel_go_autoinst.publish import annotations as ann
from otel_go_autoinst.publish import untrusted
from otel_go_autoinst.publish.prdiff import PrChanges, fetch_pr_changes
from otel_go_autoinst.publish.workflow import Log, write_summary
from otel_go_autoinst.report import Report

DOCS_FORK = (
    "https://github.com/otel-go-autoinst/otel-go-autoinst/blob/v1/docs/action.md"
    "#pull-requests-from-forks"
)


COMMENT_LIMIT = 65_000  # GitHub's limit for a comment body is 65,536 characters


def render(
    report: Report,
    ctx: Context,
    pr: PullRequest | None,
    changes: PrChanges | None,
    *,
    summary: bool,
) -> str:
    """The Markdown of the job summary (1 MiB of UTF-8 at most) or of the comment, from a copy of
    the report whose text cannot mention anyone."""
    head = (pr.head_sha if pr else None) or ctx.sha or None
    if head is not None and not re.fullmatch(r"[0-9a-f]{40}", head):
        head = None
    report = untrusted.defused(report)
    if summary:
        return rnd.render_markdown(
            report,
            repo_url=ctx.repo_url,
            head_sha=head,
            changes=changes,
            limit=rnd.SUMMARY_LIMIT,
            byte_limit=rnd.SUMMARY_LIMIT - 1024,
        )
    # No durations in the comment: a re-run of the same commit then leaves it unedited.
    return rnd.render_markdown(
        report,
        repo_url=ctx.repo_url,
        head_sha=head,
        changes=changes,
        limit=COMMENT_LIMIT,
        durations=False,
    )


def pr_changes(ctx: Context, pr: PullRequest | None, log: Log) -> PrChanges | None:
    if pr is None or not ctx.token or not ctx.repository:
        return None
    try:
        return fetch_pr_changes(
            token=ctx.token, repo=ctx.repository, pr_number=pr.number, api_url=ctx.api_url
        )
    except Exception as exc:  # the diff only decorates the report: never fail for it
        log.line(
            f"The pull request's diff is not available ({type(exc).__name__}); "
            "functions are not marked as new or changed."
        )
        return None


@dataclass
class CommentResult:
    url: str = ""
    posted: bool = False


def publish_comment(
    ctx: Context,
    inputs: Inputs,
    pr: PullRequest | None,
    body: str,
    log: Log,
    *,
    trusted_event: bool = False,
) -> CommentResult:
    """Create or update the sticky comment; never fails the step for permissions."""
    if not inputs.flag("comment"):
        log.line("Pull-request comment switched off (comment: false).")
        return CommentResult()
    if pr is None:
        log.line("Not a pull request: no comment (the report is in the job summary).")
        return CommentResult()
    if not ctx.repository:
        log.warning("GITHUB_REPOSITORY is not set: cannot comment on the pull request.")
        return CommentResult()
    how = (
        "the report is in the job summary. To get it as a pull-request comment, use the "
        f"two-workflow pattern (mode: comment in a workflow_run workflow): {DOCS_FORK}"
    )
    if pr.is_fork and ctx.event_name == "pull_request" and not trusted_event:
        log.notice(
            f"Pull request #{pr.number} comes from a fork, so this workflow's token is "
            f"read-only: {how}"
        )
        return CommentResult()
    if not ctx.token:
        log.warning(f"No GitHub token (input github_token): no comment; {how}")
        return CommentResult()
    # Imported here: PyGithub and requests take a fifth of a second that a run without a comment
    # (every push) should not pay.
    from otel_go_autoinst.publish.github import upsert_sticky_comment

    try:
        outcome = upsert_sticky_comment(
            token=ctx.token,
            repo=ctx.repository,
            pr_number=pr.number,
            body=body,
            api_url=ctx.api_url,
            marker=rnd.COMMENT_MARKER,
        )
    except Exception as exc:  # network trouble: the summary is written, keep the job green
        log.warning(f"Could not comment on pull request #{pr.number} ({type(exc).__name__}): {how}")
        return CommentResult()
    action = str(getattr(outcome, "action", ""))
    url = str(getattr(outcome, "url", "") or "")
    reason = str(getattr(outcome, "reason", "") or "")
    if action in ("created", "updated", "unchanged"):
        verb = {"created": "Created", "updated": "Updated", "unchanged": "Unchanged:"}[action]
        log.line(f"{verb} the report comment on pull request #{pr.number}: {url}")
        return CommentResult(url=url, posted=True)
    if reason:
        log.warning(f"The report comment on pull request #{pr.number} was not posted: {reason}")
    else:
        log.warning(
            f"The report comment on pull request #{pr.number} was not posted. Give the job "
            f"`permissions: pull-requests: write`; for pull requests from forks, {how}"
        )
    return CommentResult(url=url)


def annotate(report: Report, ctx: Context, workdir: Path, log: Log) -> None:
    root = rel_to(workdir, ctx.workspace)
    budget = ann.MAX_ERROR_ANNOTATIONS
    for step, title in ((report.build, "Build error"), (report.test, "Test error")):
        if step is None or not step.errors or budget <= 0:
            continue
        items = ann.annotations_for(
            [e for e in step.errors],
            workspace=ctx.workspace,
            root=root,
            title=title,
            limit=budget,
        )
        budget -= len(items)
        for item in items:
            log.line(item.command())


def publish_report(
    ctx: Context,
    inputs: Inputs,
    report: Report,
    pr: PullRequest | None,
    log: Log,
    *,
    trusted_event: bool = False,
) -> CommentResult:
    """The job summary and the sticky comment of one report (annotations are run mode's)."""
    changes = pr_changes(ctx, pr, log)
    write_summary(ctx.env, render(report, ctx, pr, changes, summary=True), log)
    body = render(report, ctx, pr, changes, summary=False)
    return publish_comment(ctx, inputs, pr, body, log, trusted_event=trusted_event)
