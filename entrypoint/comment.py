"""`comment` mode (and what `merge` shares): publish existing report file(s) to a pull request.

Runs no code of the repository, no Go and no git: meant for a `workflow_run` workflow that has a
write token (the fork-safe pattern). The reports and the pull request number come from an
untrusted run: every report is validated against the published schema, and in a workflow_run the
number is only used when that pull request's head is the commit the triggering run built.
"""

from __future__ import annotations

import glob
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from entrypoint.context import (
    PR_EVENTS,
    PR_FILE,
    REPORT_FILE,
    Context,
    Inputs,
    PullRequest,
    prepare_output_dir,
    rel_to,
    resolve_in_workspace,
    split_list,
)
from entrypoint.publishing import publish_report
from otel_go_autoinst.errors import UserError
from otel_go_autoinst.publish import untrusted
from otel_go_autoinst.publish.workflow import Log, write_outputs
from otel_go_autoinst.render import merge_reports
from otel_go_autoinst.report import Report


def load_reports(ctx: Context, spec: str) -> list[tuple[Path, Report]]:
    patterns = split_list(spec)
    if not patterns:
        raise UserError("Input `report` is empty: give the report file(s) to publish.")
    files: list[Path] = []
    for pattern in patterns:
        full = str(resolve_in_workspace(ctx, pattern, "report"))
        matches = sorted(glob.glob(full, recursive=True)) if glob.has_magic(full) else [full]
        for match in matches:
            path = Path(match)
            if path.is_dir():
                path = path / REPORT_FILE
            if path.is_file() and path not in files:
                files.append(path)
        if not matches or not any(Path(m).exists() for m in matches):
            raise UserError(f"No report file matches {pattern!r} (input report).")
    return [(path, untrusted.read_report(path, rel_to(path, ctx.workspace))) for path in files]


def github_get_json(ctx: Context, path: str, log: Log, attempts: int = 4) -> Any:
    """GET a GitHub REST resource with retries on 5xx and rate limits; None when unavailable."""
    url = f"{ctx.api_url}{path}"
    delay = 1.0
    for attempt in range(attempts):
        request = urllib.request.Request(
            url,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {ctx.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "otel-go-autoinst",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            limited = status == 429 or (
                status == 403 and exc.headers and exc.headers.get("X-RateLimit-Remaining") == "0"
            )
            if (status >= 500 or limited) and attempt + 1 < attempts:
                wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
                time.sleep(min(wait, 60.0))
                delay *= 2
                continue
            log.line(f"GET {path} answered {status}.")
            return None
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            if attempt + 1 < attempts:
                time.sleep(delay)
                delay *= 2
                continue
            log.line(f"GET {path} failed ({type(exc).__name__}).")
            return None
    return None


def pr_for_publish(
    ctx: Context, inputs: Inputs, report_files: Sequence[Path], log: Log, *, required: bool
) -> tuple[PullRequest | None, bool]:
    """The pull request to comment on, and whether the event is a trusted (write) context.

    From the `pr_number` input, else a `pr.json` beside the report (written by `run`), else the
    event. In a workflow_run, the number comes from the untrusted run, so it is only accepted
    when that pull request's head is the commit the triggering run built.
    """
    number: int | None = None
    raw = inputs["pr_number"]
    if raw:
        if not raw.isdigit() or int(raw) <= 0:
            raise UserError(f"Input `pr_number` must be a pull-request number, not {raw!r}.")
        number = int(raw)
    else:
        for path in report_files:
            pr_file = path.parent / PR_FILE
            if pr_file.is_file():
                try:
                    data = json.loads(pr_file.read_text(encoding="utf-8"))
                    value = data.get("number") if isinstance(data, dict) else None
                except (OSError, ValueError):
                    value = None
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    number = value
                    break
    event_pr = ctx.pull_request()
    if number is None:
        if event_pr is None and required:
            raise UserError(
                "No pull request to comment on: set input `pr_number` (in a workflow_run "
                "workflow, from the artifact the pull_request run uploaded)."
            )
        return event_pr, False
    if ctx.event_name == "workflow_run":
        run = ctx.event.get("workflow_run") or {}
        run_sha = run.get("head_sha")
        listed = [p for p in run.get("pull_requests") or [] if isinstance(p, dict)]
        if any(p.get("number") == number for p in listed):
            return PullRequest(number=number, head_sha=run_sha), True
        pr_data = github_get_json(ctx, f"/repos/{ctx.repository}/pulls/{number}", log)
        if not isinstance(pr_data, dict):
            log.warning(
                f"Could not read pull request #{number} from the GitHub API to check that it "
                "has the commit the triggering run built; no comment is posted (see the log "
                "line above)."
            )
            return None, False
        head_sha = (pr_data.get("head") or {}).get("sha")
        if not run_sha or head_sha != run_sha:
            log.warning(
                f"Pull request #{number} does not have the commit the triggering run built "
                f"({str(run_sha)[:12]}); no comment is posted (a newer push will comment)."
            )
            return None, False
        return PullRequest(number=number, head_sha=head_sha), True
    if event_pr is not None and event_pr.number == number:
        return event_pr, False
    return PullRequest(number=number), ctx.event_name not in PR_EVENTS


def publish_reports(ctx: Context, inputs: Inputs, log: Log, *, merge: bool) -> int:
    """Publish existing reports (validated) as one summary and one comment; runs no code of the
    repository. Several reports are folded into one (written to output_dir)."""
    inputs.flag("comment")
    loaded = load_reports(ctx, inputs["report"])
    files = [p for p, _ in loaded]
    reports = [r for _, r in loaded]
    report = reports[0] if len(reports) == 1 else merge_reports(reports)
    log.untrusted(f"{len(reports)} report(s): {', '.join(rel_to(p, ctx.workspace) for p in files)}")
    if merge or len(reports) > 1:
        report_path = prepare_output_dir(ctx, inputs) / REPORT_FILE
        report.write(report_path)
    else:
        report_path = files[0]
    pr, trusted = pr_for_publish(ctx, inputs, files, log, required=not merge)
    with log.group("Report"):
        comment = publish_report(ctx, inputs, report, pr, log, trusted_event=trusted)
    write_outputs(
        ctx.env,
        {
            "report": rel_to(report_path, ctx.workspace),
            "instrumented_count": str(len(report.instrumented)),
            "binaries": json.dumps([b.path for b in report.binaries]),
            "comment_url": comment.url,
        },
        log,
    )
    return 0


def mode_comment(ctx: Context, inputs: Inputs, log: Log) -> int:
    """`comment`: the report(s) to one pull request (from `pr_number`, the `pr.json` beside the
    report, or the event)."""
    return publish_reports(ctx, inputs, log, merge=False)
