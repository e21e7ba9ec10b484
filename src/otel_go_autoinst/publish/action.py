"""The GitHub Action's entrypoint.

Modes (input `mode`, or the first argument):

- `run` (default): detect the module, run the instrumented `go build` and `go test` through the
  engine CLI, optionally build release binaries, then publish: JSON report, job summary,
  annotations on the user's lines, sticky pull-request comment, step outputs.
- `comment`: publish existing report file(s) to a pull request. Executes no code of the
  repository: meant for a `workflow_run` workflow that has a write token (fork-safe pattern).
- `matrix`: plan only. Finds the repository's Go modules and writes a JSON matrix to the
  `matrix` output, so a monorepo can fan out across matrix jobs.
- `merge`: fold several reports (from matrix jobs) into one report, one summary, one comment.

Everything comes from the environment GitHub gives a Docker action (`INPUT_*`,
`GITHUB_EVENT_PATH`, `GITHUB_WORKSPACE`, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, ...).
The token is never printed and never passed to the processes that build or test the user's code.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_go_autoinst.errors import UserError
from otel_go_autoinst.publish import annotations as ann
from otel_go_autoinst.publish import release as rel
from otel_go_autoinst.publish import untrusted
from otel_go_autoinst.publish.sandbox import Sandbox, sandbox
from otel_go_autoinst.report import ModuleInfo, Report, StepOutcome

MODES = ("run", "comment", "matrix", "merge")

# The defaults of action.yml, repeated here so that `uses: docker://image` (which has no
# action.yml, hence no defaults) behaves the same. tests/test_action.py checks they agree.
DEFAULTS: dict[str, str] = {
    "mode": "run",
    "working_directory": ".",
    "packages": "",
    "rules": "",
    "disable_rules": "",
    "build": "true",
    "test": "true",
    "go_build_flags": "",
    "go_test_flags": "",
    "comment": "true",
    "github_token": "",
    "targets": "",
    "output_dir": "otel-go-autoinst-out",
    "report": "",
    "pr_number": "",
}

DOCS_FORK = (
    "https://github.com/otel-go-autoinst/otel-go-autoinst/blob/v1/docs/action.md"
    "#pull-requests-from-forks"
)
PR_EVENTS = ("pull_request", "pull_request_target")
REPORT_FILE = "report.json"
PR_FILE = "pr.json"
COMMENT_LIMIT = 65_000  # GitHub's limit for a comment body is 65,536 characters
MAX_REPORT_BYTES = 20 * 1024 * 1024
# Environment that must not reach the user's code (go test runs it) nor the engine.
SECRET_ENV = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
)
COMMAND_FILES_ENV = (
    "GITHUB_OUTPUT",
    "GITHUB_ENV",
    "GITHUB_PATH",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
)
SKIP_DIRS = {"vendor", "testdata", "node_modules"}
CACHE_ENV = "OTEL_GO_AUTOINST_CACHE"
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def visible(text: str) -> str:
    """One line: control characters (newlines included) shown as escapes."""
    return _INVISIBLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


# --------------------------------------------------------------------------------------------
# Log


class Log:
    """Workflow-command aware log on stdout (flushed, so child processes interleave correctly)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def untrusted(self, text: str) -> None:
        """Print text derived from the repository (paths, go.mod lines, module names): on one
        line, and inside a stop-commands block when it could be read as a workflow command."""
        shown = visible(text)
        if "::" in shown or "##[" in shown:
            stop = uuid.uuid4().hex
            self.line(f"::stop-commands::{stop}")
            self.line(shown)
            self.line(f"::{stop}::")
        else:
            self.line(shown)

    def warning(self, text: str) -> None:
        self.line(ann.workflow_command("warning", text))

    def notice(self, text: str) -> None:
        self.line(ann.workflow_command("notice", text))

    def error(self, text: str) -> None:
        self.line(ann.workflow_command("error", text))

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.line(ann.group_start(title))
        try:
            yield
        finally:
            self.line(ann.group_end())


# --------------------------------------------------------------------------------------------
# Inputs and context


def parse_bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UserError(f"Input `{name}` must be true or false, not {value!r}.")


def split_list(value: str) -> list[str]:
    """Split an input that lists things by new lines, commas or spaces."""
    return [item for item in re.split(r"[\s,]+", value.strip()) if item]


def split_flags(name: str, value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError as exc:
        raise UserError(f"Input `{name}` is not a valid list of flags: {exc}.") from None


@dataclass
class Inputs:
    values: dict[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Inputs:
        values = {}
        for name, default in DEFAULTS.items():
            raw = env.get("INPUT_" + name.upper())
            values[name] = raw.strip() if raw is not None and raw.strip() != "" else default
        return cls(values)

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def flag(self, name: str) -> bool:
        return parse_bool(name, self.values[name])


@dataclass
class PullRequest:
    number: int
    head_sha: str | None = None
    is_fork: bool = False


@dataclass
class Context:
    env: dict[str, str] = field(repr=False)
    workspace: Path
    event_name: str
    event: dict[str, Any]
    repository: str
    api_url: str
    server_url: str
    sha: str
    token: str = field(repr=False, default="")

    @classmethod
    def from_env(cls, env: Mapping[str, str], inputs: Inputs) -> Context:
        workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
        if not workspace.is_dir():
            raise UserError(f"GITHUB_WORKSPACE {workspace} is not a directory.")
        event: dict[str, Any] = {}
        event_path = env.get("GITHUB_EVENT_PATH")
        if event_path:
            try:
                loaded = json.loads(Path(event_path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise UserError(f"Cannot read the event payload {event_path}: {exc}.") from None
            if isinstance(loaded, dict):
                event = loaded
        token = inputs["github_token"] or env.get("GITHUB_TOKEN", "")
        return cls(
            env=dict(env),
            workspace=workspace.resolve(),
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event=event,
            repository=env.get("GITHUB_REPOSITORY", ""),
            api_url=(env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            sha=env.get("GITHUB_SHA", ""),
            token=token,
        )

    @property
    def repo_url(self) -> str | None:
        return f"{self.server_url}/{self.repository}" if self.repository else None

    def pull_request(self) -> PullRequest | None:
        """The pull request of a pull_request / pull_request_target event."""
        if self.event_name not in PR_EVENTS:
            return None
        pr = self.event.get("pull_request")
        if not isinstance(pr, dict) or not isinstance(pr.get("number"), int):
            return None
        head = pr.get("head") or {}
        base = pr.get("base") or {}
        head_repo = (head.get("repo") or {}).get("full_name")
        base_repo = (base.get("repo") or {}).get("full_name") or self.repository
        return PullRequest(
            number=pr["number"],
            head_sha=head.get("sha"),
            # a deleted fork has no head repo: treat as a fork
            is_fork=head_repo != base_repo,
        )

    def child_env(self) -> dict[str, str]:
        """Environment for the engine and Go: no token, no command files, workspace git-safe."""
        env = {
            k: v
            for k, v in self.env.items()
            if not k.startswith("INPUT_") and k not in SECRET_ENV and k not in COMMAND_FILES_ENV
        }
        return with_safe_directory(env, self.workspace)


def git_roots(start: Path, workspace: Path) -> list[Path]:
    """The workspace and every git work tree from `start` up to the filesystem root: a checkout
    into a subfolder (actions/checkout `path: src`) has its `.git` below the workspace."""
    roots = [workspace]
    for directory in [start, *start.parents]:
        if (directory / ".git").exists() and directory not in roots:
            roots.append(directory)
    return roots


def with_safe_directory(env: dict[str, str], directory: Path, *more: Path) -> dict[str, str]:
    """Mark the checkout's work trees safe for git (the checkout belongs to the runner's user,
    not the container's, nor the build user's) for child processes only, through git's
    command-scope config variables, so no git configuration file is written."""
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    env = dict(env)
    existing = {
        env.get(f"GIT_CONFIG_VALUE_{i}")
        for i in range(count)
        if env.get(f"GIT_CONFIG_KEY_{i}") == "safe.directory"
    }
    for path in (directory, *more):
        if str(path) in existing:
            continue
        existing.add(str(path))
        env[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
        env[f"GIT_CONFIG_VALUE_{count}"] = str(path)
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


# --------------------------------------------------------------------------------------------
# Step outputs and summary


def write_outputs(env: Mapping[str, str], outputs: Mapping[str, str], log: Log) -> None:
    path = env.get("GITHUB_OUTPUT")
    if not path:
        for key, value in outputs.items():
            log.untrusted(f"output {key}={value}")
        return
    with open(path, "a", encoding="utf-8") as handle:
        for key, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            handle.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def write_summary(env: Mapping[str, str], markdown: str, log: Log) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        log.line("(no GITHUB_STEP_SUMMARY: the summary is not written)")
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown)
        if not markdown.endswith("\n"):
            handle.write("\n")


def rel_to(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Paths


def resolve_in_workspace(ctx: Context, value: str, what: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (ctx.workspace / path)


def resolve_workdir(ctx: Context, inputs: Inputs) -> Path:
    workdir = resolve_in_workspace(ctx, inputs["working_directory"], "working_directory")
    if not workdir.is_dir():
        raise UserError(
            f"working_directory {inputs['working_directory']!r} is not a directory of the "
            "checkout (did the workflow run actions/checkout first?)."
        )
    return workdir.resolve()


def prepare_output_dir(ctx: Context, inputs: Inputs) -> Path:
    """Create output_dir; a directory we create gets a `.gitignore` of `*`, so the checkout's
    `git status` stays clean."""
    out = resolve_in_workspace(ctx, inputs["output_dir"], "output_dir")
    if out.exists() and not out.is_dir():
        raise UserError(f"output_dir {inputs['output_dir']!r} exists and is not a directory.")
    if not out.exists():
        out.mkdir(parents=True)
        (out / ".gitignore").write_text("*\n", encoding="utf-8")
    return out.resolve()


# --------------------------------------------------------------------------------------------
# Go toolchain


_GO_LINE = re.compile(r"^\s*go\s+([0-9][^\s/]*)\s*(?://.*)?$", re.M)
_TOOLCHAIN_LINE = re.compile(r"^\s*toolchain\s+(\S+)\s*(?://.*)?$", re.M)


def go_directives(gomod: Path) -> tuple[str | None, str | None]:
    text = gomod.read_text(encoding="utf-8", errors="replace")
    go = _GO_LINE.search(text)
    tc = _TOOLCHAIN_LINE.search(text)
    return (go.group(1) if go else None, tc.group(1) if tc else None)


def find_gomod(workdir: Path, workspace: Path) -> Path | None:
    for directory in [workdir, *workdir.parents]:
        for name in ("go.work", "go.mod"):
            if (directory / name).is_file():
                return directory / name
        if directory == workspace:
            break
    return None


def setup_toolchain(workdir: Path, ctx: Context, box: Sandbox, log: Log) -> str:
    """Honour the module's `go` and `toolchain` lines: Go's toolchain switching
    (GOTOOLCHAIN=auto) fetches the version the module asks for when the installed Go is older.
    Returns the Go version in use for the module."""
    gomod = find_gomod(workdir, ctx.workspace)
    if gomod is None:
        raise UserError(
            f"No go.mod or go.work in {rel_to(workdir, ctx.workspace)} or above it; "
            "set `working_directory` to the module's folder."
        )
    go_line, toolchain_line = go_directives(gomod)
    log.untrusted(
        f"{rel_to(gomod, ctx.workspace)}: go {go_line or '(none)'}"
        + (f", toolchain {toolchain_line}" if toolchain_line else "")
    )
    env = box.env
    if env.get("GOTOOLCHAIN", "") in ("", "auto"):
        env["GOTOOLCHAIN"] = "auto"
    version = ""
    # `go list -m` checks the go line against the toolchain (switching when allowed);
    # `go env GOVERSION` then names the Go that runs for this module.
    for cmd in (["go", "list", "-m"], ["go", "env", "GOVERSION"]):
        try:
            proc = box.run(cmd, cwd=workdir, capture_output=True)
        except FileNotFoundError:
            raise UserError("Go is not installed (no `go` on PATH).") from None
        if proc.returncode != 0:
            detail = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
            detail = detail.removeprefix("go: ").rstrip(".")
            raise UserError(f"Go cannot run for this module: {detail}.")
        version = proc.stdout.strip()
    log.untrusted(f"Using {version} (GOTOOLCHAIN={env['GOTOOLCHAIN']})")
    return version


# --------------------------------------------------------------------------------------------
# Running the engine


def run_streamed(cmd: Sequence[str], *, cwd: Path, box: Sandbox, log: Log) -> tuple[int, str]:
    """Run a command, copy its output to the log with workflow commands switched off (the
    output of the user's tests must not issue commands), return (exit code, last lines)."""
    stop = uuid.uuid4().hex
    log.line(f"::stop-commands::{stop}")
    log.line("$ " + visible(shlex.join(cmd)))
    tail: list[str] = []
    try:
        proc = box.popen(
            list(cmd),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        log.line(f"::{stop}::")
        raise UserError(f"Cannot run {cmd[0]}: {exc.strerror or exc}.") from None
    assert proc.stdout is not None
    for line in proc.stdout:
        log.stream.write(line)
        tail.append(line.rstrip("\n"))
        if len(tail) > 40:
            del tail[0]
    log.stream.flush()
    code = proc.wait()
    log.line(f"::{stop}::")
    return code, "\n".join(tail)


@dataclass
class EngineStep:
    kind: str  # "build" | "test"
    exit_code: int
    report: Report | None
    tail: str


def run_engine(
    kind: str,
    *,
    workdir: Path,
    rules: Sequence[Path],
    disable: Sequence[str],
    flags: Sequence[str],
    packages: Sequence[str],
    report_file: Path,
    box: Sandbox,
    log: Log,
) -> EngineStep:
    cmd = [*rel.engine_command(), kind, "-C", str(workdir)]
    for rule in rules:
        cmd += ["--rules", str(rule)]
    for name in disable:
        cmd += ["--disable", name]
    cmd += ["--report", str(report_file), *flags, *packages]
    if report_file.exists():
        report_file.unlink()
    code, tail = run_streamed(cmd, cwd=workdir, box=box, log=log)
    report = None
    if report_file.is_file():
        # written where the pull request's tests could reach it: validated like any report
        try:
            report = untrusted.read_report(report_file, f"The engine's {kind} report")
        except UserError as exc:
            log.warning(str(exc))
    return EngineStep(kind=kind, exit_code=code, report=report, tail=tail)


def failed_step(step: EngineStep) -> StepOutcome:
    """The outcome of a step the engine ended before Go ran (it wrote no report)."""
    return StepOutcome(
        command=["otel-go-autoinst", step.kind],
        status="failed",
        exit_code=step.exit_code or 1,
        duration_s=0.0,
        output_tail=step.tail,
    )


def combine(build: Report | None, test: Report | None) -> Report | None:
    """One report from the build's and the test's: functions instrumented by either (test builds
    instrument test dependencies too), the build outcome of the first, the test outcome of the
    second."""
    if build is None:
        return test
    if test is None:
        return build
    seen = {(f.package, f.file, f.line, f.function, f.receiver) for f in build.instrumented}
    for fn in test.instrumented:
        key = (fn.package, fn.file, fn.line, fn.function, fn.receiver)
        if key not in seen:
            seen.add(key)
            build.instrumented.append(fn)
    for warning in test.warnings:
        if warning not in build.warnings:
            build.warnings.append(warning)
    build.test = test.test
    return build


# --------------------------------------------------------------------------------------------
# Rendering and publishing


def render(
    report: Report, ctx: Context, pr: PullRequest | None, changes: Any, *, summary: bool
) -> str:
    """The Markdown of the job summary (1 MiB of UTF-8 at most) or of the comment."""
    from otel_go_autoinst import render as rnd

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


def comment_marker() -> str:
    from otel_go_autoinst import render as rnd

    return str(rnd.COMMENT_MARKER)


def load_merge() -> Callable[[list[Report]], Report]:
    try:
        from otel_go_autoinst.render import merge_reports  # type: ignore[attr-defined]
    except ImportError:
        from otel_go_autoinst.publish.merge import merge_reports  # type: ignore[no-redef]
    return merge_reports  # type: ignore[no-any-return]


def pr_changes(ctx: Context, pr: PullRequest | None, log: Log) -> Any:
    if pr is None or not ctx.token or not ctx.repository:
        return None
    try:
        from otel_go_autoinst.publish.prdiff import fetch_pr_changes

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
    from otel_go_autoinst.publish.github import upsert_sticky_comment

    try:
        outcome = upsert_sticky_comment(
            token=ctx.token,
            repo=ctx.repository,
            pr_number=pr.number,
            body=body,
            api_url=ctx.api_url,
            marker=comment_marker(),
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


# --------------------------------------------------------------------------------------------
# Modes


def resolve_rules(ctx: Context, inputs: Inputs) -> list[Path]:
    rules = []
    for item in split_list(inputs["rules"]):
        path = resolve_in_workspace(ctx, item, "rules")
        if not path.exists():
            raise UserError(f"Rule path {item!r} (input rules) does not exist in the checkout.")
        rules.append(path.resolve())
    return rules


def mode_run(ctx: Context, inputs: Inputs, log: Log) -> int:
    do_build = inputs.flag("build")
    do_test = inputs.flag("test")
    inputs.flag("comment")
    targets = rel.parse_targets(inputs["targets"])
    if not (do_build or do_test or targets):
        raise UserError(
            "Nothing to do: build, test are false and no targets are set "
            "(use mode: matrix for a plan only)."
        )
    split_flags("go_build_flags", inputs["go_build_flags"])
    split_flags("go_test_flags", inputs["go_test_flags"])
    workdir = resolve_workdir(ctx, inputs)
    rules = resolve_rules(ctx, inputs)
    out_dir = prepare_output_dir(ctx, inputs)
    env = with_safe_directory(ctx.child_env(), *git_roots(workdir, ctx.workspace))
    cache = ctx.env.get(CACHE_ENV)
    cache_dir = resolve_in_workspace(ctx, cache, "cache_dir") if cache else None
    with sandbox(env, cache_dir) as box:
        return run_in_sandbox(ctx, inputs, log, box, workdir, out_dir, rules)


def run_in_sandbox(
    ctx: Context,
    inputs: Inputs,
    log: Log,
    box: Sandbox,
    workdir: Path,
    out_dir: Path,
    rules: Sequence[Path],
) -> int:
    do_build = inputs.flag("build")
    do_test = inputs.flag("test")
    targets = rel.parse_targets(inputs["targets"])
    build_flags = split_flags("go_build_flags", inputs["go_build_flags"])
    test_flags = split_flags("go_test_flags", inputs["go_test_flags"])
    disable = split_list(inputs["disable_rules"])
    packages = split_list(inputs["packages"]) or ["./..."]
    pr = ctx.pull_request()
    if box.dropped:
        log.line("The build and tests run as an unprivileged user (no token, no command files).")

    with log.group("Go toolchain"):
        go_version = setup_toolchain(workdir, ctx, box, log)

    steps: dict[str, EngineStep] = {}

    def engine(kind: str, flags: Sequence[str]) -> EngineStep:
        return run_engine(
            kind,
            workdir=workdir,
            rules=rules,
            disable=disable,
            flags=flags,
            packages=packages,
            report_file=box.scratch / f"report-{kind}.json",
            box=box,
            log=log,
        )

    if do_build:
        with log.group("Instrumented go build"):
            flags = list(build_flags)
            if not any(f in ("-o", "--o") or f.startswith(("-o=", "--o=")) for f in flags):
                # `go build` of one main package writes the executable into the module's
                # folder; the checkout must stay untouched (and -o /dev/null works for any
                # set of packages, main or not)
                flags = ["-o", os.devnull, *flags]
            steps["build"] = engine("build", flags)
    build_ok = "build" not in steps or steps["build"].exit_code == 0
    if do_test and build_ok:
        with log.group("Instrumented go test"):
            steps["test"] = engine("test", test_flags)
    elif do_test:
        log.line("Tests skipped: the instrumented build failed.")

    report = combine(
        steps["build"].report if "build" in steps else None,
        steps["test"].report if "test" in steps else None,
    )
    if report is None:
        report = Report(root=rel_to(workdir, ctx.workspace), go_version=go_version)
    for kind, step in steps.items():
        if step.report is None or getattr(step.report, kind) is None:
            # the engine stopped before Go ran (a user error, a bad rule): keep its message
            setattr(report, kind, failed_step(step))
    if do_test and not build_ok:
        report.test = StepOutcome(
            command=["go", "test"], status="skipped", exit_code=0, duration_s=0.0
        )
    if not report.modules:
        report.modules = [ModuleInfo(path="", dir=rel_to(workdir, ctx.workspace))]

    failures = [k for k, s in steps.items() if s.exit_code != 0]
    binaries_out = "[]"
    if targets:
        with log.group("Release binaries"):
            if failures:
                log.line("Release builds skipped: the instrumented build or tests failed.")
            else:
                result = rel.build_release(
                    workdir=workdir,
                    targets=targets,
                    output_dir=out_dir / "bin",
                    packages=split_list(inputs["packages"]),
                    rules=rules,
                    disable=disable,
                    build_flags=build_flags,
                    env=box.env,
                    display_root=ctx.workspace,
                    log=log.untrusted,
                    stage=box.scratch,
                    run=box.run,
                )
                report.binaries = result.binaries
                binaries_out = rel.binaries_json(result.binaries)
                log.line(f"Checksums: {rel_to(result.checksums, ctx.workspace)}")
                if result.failed:
                    failures.append("release")
                    for item in result.failed:
                        log.error(f"Release build of {item} failed.")

    report_path = out_dir / REPORT_FILE
    report.write(report_path)
    if pr is not None:
        (out_dir / PR_FILE).write_text(
            json.dumps({"number": pr.number, "head_sha": pr.head_sha, "repository": ctx.repository})
            + "\n",
            encoding="utf-8",
        )

    with log.group("Report"):
        annotate(report, ctx, workdir, log)
        changes = pr_changes(ctx, pr, log)
        write_summary(ctx.env, render(report, ctx, pr, changes, summary=True), log)
        comment = publish_comment(
            ctx, inputs, pr, render(report, ctx, pr, changes, summary=False), log
        )
        log.untrusted(
            f"Report: {rel_to(report_path, ctx.workspace)}; "
            f"{len(report.instrumented)} functions instrumented."
        )

    write_outputs(
        ctx.env,
        {
            "report": rel_to(report_path, ctx.workspace),
            "instrumented_count": str(len(report.instrumented)),
            "binaries": binaries_out,
            "comment_url": comment.url,
        },
        log,
    )
    if failures:
        for kind in failures:
            if kind in steps:
                step = steps[kind]
                if step.report is None:
                    last = next((ln for ln in reversed(step.tail.splitlines()) if ln.strip()), "")
                    log.error(
                        f"otel-go-autoinst {kind} failed: {last}"
                        if last
                        else f"otel-go-autoinst {kind} failed (exit {step.exit_code})."
                    )
                else:
                    log.error(f"The instrumented go {kind} failed (exit {step.exit_code}).")
        return 1
    return 0


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


def mode_publish(ctx: Context, inputs: Inputs, log: Log, *, merge: bool) -> int:
    """`comment` and `merge`: publish existing reports; no code of the repository is run."""
    inputs.flag("comment")
    loaded = load_reports(ctx, inputs["report"])
    files = [p for p, _ in loaded]
    reports = [r for _, r in loaded]
    if len(reports) == 1:
        report = reports[0]
    else:
        report = load_merge()(reports)
    log.untrusted(f"{len(reports)} report(s): {', '.join(rel_to(p, ctx.workspace) for p in files)}")
    if merge or len(reports) > 1:
        report_path = prepare_output_dir(ctx, inputs) / REPORT_FILE
        report.write(report_path)
    else:
        report_path = files[0]
    pr, trusted = pr_for_publish(ctx, inputs, files, log, required=not merge)
    with log.group("Report"):
        changes = pr_changes(ctx, pr, log)
        write_summary(ctx.env, render(report, ctx, pr, changes, summary=True), log)
        comment = publish_comment(
            ctx,
            inputs,
            pr,
            render(report, ctx, pr, changes, summary=False),
            log,
            trusted_event=trusted,
        )
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


def find_modules(root: Path) -> list[Path]:
    """Module directories under root: the `use` lines of a go.work, else every go.mod outside
    vendor/, testdata/ and folders Go ignores (`.x`, `_x`)."""
    gowork = root / "go.work"
    if gowork.is_file():
        dirs: list[Path] = []
        text = gowork.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"//.*", "", text)
        for block in re.findall(r"^\s*use\s*\(([^)]*)\)", text, re.M):
            dirs += [root / d.strip().strip('"') for d in block.split() if d.strip()]
        for single in re.findall(r"^\s*use\s+([^\s(]+)\s*$", text, re.M):
            dirs.append(root / single.strip('"'))
        found = [d.resolve() for d in dirs if (d / "go.mod").is_file()]
        if found:
            return sorted(set(found))
    modules = []
    for current, subdirs, files in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs if d not in SKIP_DIRS and not d.startswith((".", "_"))
        )
        if "go.mod" in files:
            modules.append(Path(current).resolve())
    return modules


def mode_matrix(ctx: Context, inputs: Inputs, log: Log) -> int:
    workdir = resolve_workdir(ctx, inputs)
    modules = find_modules(workdir)
    if not modules:
        raise UserError(f"No go.mod under {rel_to(workdir, ctx.workspace)}: no module to plan.")
    include = []
    for mod_dir in modules:
        text = (mod_dir / "go.mod").read_text(encoding="utf-8", errors="replace")
        match = re.search(r"^\s*module\s+(\S+)", text, re.M)
        go_line, _ = go_directives(mod_dir / "go.mod")
        rel_dir = rel_to(mod_dir, ctx.workspace)
        include.append(
            {
                "working_directory": rel_dir or ".",
                "module": match.group(1).strip('"') if match else "",
                "go": go_line or "",
                "name": re.sub(r"[^A-Za-z0-9._-]+", "-", rel_dir.strip("./") or "root"),
            }
        )
    matrix = {"include": include}
    with log.group(f"{len(include)} Go module(s)"):
        for item in include:
            log.untrusted(f"{item['working_directory']}: {item['module']}")
    write_outputs(
        ctx.env,
        {"matrix": json.dumps(matrix, separators=(",", ":")), "count": str(len(include))},
        log,
    )
    return 0


# --------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="otel-go-autoinst action",
        description="GitHub Action entrypoint; inputs come from INPUT_* variables.",
    )
    parser.add_argument("mode", nargs="?", choices=MODES, help="overrides input `mode`")
    parser.add_argument(
        "--report", action="append", metavar="FILE", help="overrides input `report` (repeatable)"
    )
    parser.add_argument("--pr-number", metavar="N", help="overrides input `pr_number`")
    return parser.parse_args(list(argv))


def quiet_library_logs() -> None:
    """PyGithub and the comment module log what this entrypoint already reports (for example
    the 403 of GET /user for the workflow's token): keep only their errors."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    for name in ("github", "urllib3", "otel_go_autoinst.publish"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    log = Log()
    quiet_library_logs()
    environ = dict(os.environ if env is None else env)
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    try:
        inputs = Inputs.from_env(environ)
        if args.report:
            inputs.values["report"] = "\n".join(args.report)
        if args.pr_number:
            inputs.values["pr_number"] = args.pr_number.strip()
        mode = args.mode or inputs["mode"]
        if mode not in MODES:
            raise UserError(f"Input `mode` must be one of {', '.join(MODES)}, not {mode!r}.")
        ctx = Context.from_env(environ, inputs)
        if mode == "run":
            return mode_run(ctx, inputs, log)
        if mode == "matrix":
            return mode_matrix(ctx, inputs, log)
        return mode_publish(ctx, inputs, log, merge=mode == "merge")
    except UserError as exc:
        log.error(str(exc))
        print(f"otel-go-autoinst: {visible(str(exc))}", file=sys.stderr, flush=True)
        return exc.exit_code or 2
    except KeyboardInterrupt:
        print("otel-go-autoinst: interrupted.", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:  # a bug of ours: say so in one line, details folded in the log
        log.error(
            f"otel-go-autoinst action failed unexpectedly ({type(exc).__name__}); "
            "please report it with the log."
        )
        with log.group("Details"):
            log.line(traceback.format_exc())
        return 3


if __name__ == "__main__":
    sys.exit(main())
