"""The Action's entrypoint, end to end.

Each run starts the entrypoint as a process with the environment GitHub gives a Docker action
(INPUT_*, GITHUB_EVENT_PATH with real pull_request payloads, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
GITHUB_WORKSPACE as a git checkout), the real engine and Go toolchain, and a stateful GitHub REST
API on 127.0.0.1 (tests/github_api.py) that checks every request and response against GitHub's
OpenAPI description.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from github_api import GitHubAPI, SpecMissing, running_github_api

from entrypoint.context import DEFAULTS, Context, Inputs
from otel_go_autoinst.render import COMMENT_MARKER
from otel_go_autoinst.report import (
    InstrumentedFunction,
    ModuleInfo,
    Report,
    StepOutcome,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "action"
EVENTS = DATA / "events"
EXAMPLE = ROOT / "examples" / "service"
REPO = "octo-org/hello-service"
BOT = "github-actions[bot]"
WRITE_TOKEN = "ghs_write_token_never_printed_0001"
READ_TOKEN = "ghs_read_only_token_never_printed_02"
# What the image's ENTRYPOINT runs: `otel-go-autoinst action` (the console script of this
# environment; through Python when the script is not installed).
_SCRIPT = Path(sys.executable).with_name("otel-go-autoinst")
ACTION = (
    [str(_SCRIPT), "action"]
    if _SCRIPT.is_file()
    else [
        sys.executable,
        "-c",
        "import sys; from otel_go_autoinst.cli import main; sys.exit(main(['action', *sys.argv[1:]]))",
    ]
)


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


OPENED = event("pull_request_opened")
SYNC = event("pull_request_synchronize")
FORK = event("pull_request_fork")


# ------------------------------------------------------------------------------ fixtures

BUILD_USER = "otel-go-build"
# Go's caches for the build user, kept across tests and sessions (the carried cache folder)
CACHE = Path(os.environ.get("OTEL_GO_AUTOINST_TEST_CACHE", "/tmp/otel-go-autoinst-action-cache"))


@pytest.fixture(scope="session", autouse=True)
def build_user() -> None:
    """As root (the Action's container), the entrypoint runs the build and tests as the
    unprivileged build user: create it as scripts/install.sh does, and let it run this Python."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(BUILD_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", BUILD_USER],
            check=True,
        )
    # the engine runs as that user from this Python and this checkout: folders traversable
    for folder in {Path(sys.prefix), *Path(sys.prefix).parents, ROOT, *ROOT.parents}:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A temporary folder the build user can read (pytest's own are private to root), as the
    runner's workspace is to the container."""
    path = Path(tempfile.mkdtemp(prefix="otel-action-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout


@dataclass
class Checkout:
    workspace: Path
    module: str  # workspace-relative module folder
    diff: str  # the pull request's diff (base: go.mod/go.sum only)

    def status(self) -> str:
        return git(self.workspace, "status", "--porcelain", "--ignored=no")


def make_checkout(tmp_path: Path, source: Path, module: str = "svc") -> Checkout:
    """A git checkout with the module in `module/`: a base commit with go.mod (and go.sum),
    then the pull request's commit adding the code (so the PR's diff is real)."""
    ws = tmp_path / "workspace"
    target = ws / module
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "."], cwd=source, capture_output=True, text=True
    ).stdout.split("\0")
    tracked = [f for f in tracked if f]
    if tracked:  # only the files of the source's repository (no stray build outputs)
        for name in tracked:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)
    else:
        shutil.copytree(source, target)
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", *[f"{module}/{n}" for n in ("go.mod", "go.sum") if (target / n).exists()])
    git(ws, "commit", "-q", "-m", "base")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "pull request")
    return Checkout(ws, module, git(ws, "diff", "HEAD~1", "HEAD"))


@pytest.fixture
def gh() -> Iterator[GitHubAPI]:
    try:
        with running_github_api() as api:
            api.add_token(WRITE_TOKEN, BOT, app=True)
            api.add_token(READ_TOKEN, BOT, app=True, write=False)
            yield api
    except SpecMissing as exc:
        pytest.fail(str(exc))


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def parse_outputs(text: str) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT (`name<<delimiter` blocks and `name=value` lines)."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
            i += 1
        else:
            i += 1
    return outputs


def run_action(
    tmp_path: Path,
    workspace: Path,
    *,
    inputs: dict[str, str],
    event_name: str = "pull_request",
    payload: dict[str, Any] | None = None,
    api: GitHubAPI | None = None,
    token: str = WRITE_TOKEN,
    path: str | None = None,
    argv: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Run:
    runner = tmp_path / "runner"
    runner.mkdir(exist_ok=True)
    n = len(list(runner.glob("output-*"))) + 1
    output = runner / f"output-{n}"
    summary = runner / f"summary-{n}"
    output.touch()
    summary.touch()
    event_file = runner / f"event-{n}.json"
    event_file.write_text(json.dumps(payload or {}))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_"))
    }
    sha = ((payload or {}).get("pull_request") or {}).get("merge_commit_sha") or "f" * 40
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_file),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": api.base_url if api else "http://127.0.0.1:9",
            "GITHUB_SHA": sha,
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(runner),
            "INPUT_GITHUB_TOKEN": token,
            "OTEL_GO_AUTOINST_CACHE": str(CACHE),
        }
    )
    if path is not None:
        env["PATH"] = path
    env.update(extra_env or {})
    for name, value in inputs.items():
        env["INPUT_" + name.upper()] = value
    # One entrypoint at a time on the shared cache: each hands it to the build user and back, and
    # a hand-back under another run's build (pytest -n runs test files side by side) breaks it.
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE.parent / f"{CACHE.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run(
            [*ACTION, *(argv or [])],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    result = Run(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        parse_outputs(output.read_text()),
        summary.read_text(),
    )
    for text in (result.stdout, result.stderr, result.summary, output.read_text()):
        assert WRITE_TOKEN not in text and READ_TOKEN not in text, "the token was printed"
    assert "Traceback" not in result.log, result.log[-3000:]
    return result


def comments(api: GitHubAPI, number: int) -> list[dict[str, Any]]:
    return api.comments_on(REPO, number)


def writes(api: GitHubAPI) -> int:
    return len(api.requests_to("POST")) + len(api.requests_to("PATCH"))


def read_report(workspace: Path, run: Run) -> Report:
    path = workspace / run.outputs["report"]
    assert path.is_file(), run.outputs
    return Report.read(path)


def assert_published(run: Run, checkout: Checkout) -> Report:
    """What every completed run must leave: outputs, summary, report, a clean checkout."""
    assert set(run.outputs) >= {"report", "instrumented_count", "binaries", "comment_url"}
    report = read_report(checkout.workspace, run)
    assert run.outputs["instrumented_count"] == str(len(report.instrumented))
    assert json.loads(run.outputs["binaries"]) == [b.path for b in report.binaries]
    assert COMMENT_MARKER in run.summary
    assert "::group::" in run.stdout and "::endgroup::" in run.stdout
    assert checkout.status() == "", "the action changed the user's checkout"
    return report


# ------------------------------------------------------------------------------ pull requests


@pytest.mark.skipif(not (EXAMPLE / "go.mod").is_file(), reason="examples/service not present")
def test_bundled_example_comment_created_updated_then_unchanged(
    tmp_path: Path, gh: GitHubAPI
) -> None:
    co = make_checkout(tmp_path, EXAMPLE)
    inputs = {"working_directory": co.module}
    gh.add_pull(REPO, 7, diff=co.diff, head_sha=OPENED["pull_request"]["head"]["sha"])

    first = run_action(tmp_path, co.workspace, inputs=inputs, payload=OPENED, api=gh)
    assert first.code == 0, first.log[-4000:]
    report = assert_published(first, co)
    assert report.instrumented, "nothing instrumented in the bundled example"
    assert report.build is not None and report.build.status == "passed"
    assert report.test is not None and report.test.status == "passed"
    [comment] = comments(gh, 7)
    assert comment["user"]["login"] == BOT
    assert comment["body"].startswith(COMMENT_MARKER)
    assert first.outputs["comment_url"] == comment["html_url"]
    # the summary and the comment show the instrumented functions
    some = report.instrumented[0].function
    assert some in first.summary and some in comment["body"]
    # links point at the pull request's head commit
    assert OPENED["pull_request"]["head"]["sha"] in comment["body"]

    # synchronize: new head commit, so the report's links change: the same comment is edited
    gh.add_pull(REPO, 7, diff=co.diff, head_sha=SYNC["pull_request"]["head"]["sha"])
    second = run_action(tmp_path, co.workspace, inputs=inputs, payload=SYNC, api=gh)
    assert second.code == 0, second.log[-4000:]
    assert_published(second, co)
    [edited] = comments(gh, 7)
    assert edited["id"] == comment["id"]
    assert SYNC["pull_request"]["head"]["sha"] in edited["body"]
    assert len(gh.requests_to("PATCH")) == 1 and len(gh.requests_to("POST")) == 1
    assert second.outputs["comment_url"] == comment["html_url"]

    # the same report published again (a re-run of the comment step): no edit is sent
    before = writes(gh)
    third = run_action(
        tmp_path,
        co.workspace,
        inputs={"mode": "comment", "report": second.outputs["report"]},
        payload=SYNC,
        api=gh,
    )
    assert third.code == 0, third.log[-4000:]
    assert writes(gh) == before
    assert len(comments(gh, 7)) == 1
    assert third.outputs["comment_url"] == comment["html_url"]
    assert "Unchanged" in third.stdout

    # the whole run again on the same push: still one comment, never a second one
    fourth = run_action(tmp_path, co.workspace, inputs=inputs, payload=SYNC, api=gh)
    assert fourth.code == 0, fourth.log[-4000:]
    assert_published(fourth, co)
    assert [c["id"] for c in comments(gh, 7)] == [comment["id"]]
    # and, the comment leaving durations out, nothing to edit either
    assert writes(gh) == before
    assert len(gh.requests_to("POST")) == 1


def test_fork_pull_request_degrades_to_the_summary(tmp_path: Path, gh: GitHubAPI) -> None:
    co = make_checkout(tmp_path, DATA / "hello")
    gh.add_pull(REPO, 8, diff=co.diff, head_sha=FORK["pull_request"]["head"]["sha"])
    run = run_action(
        tmp_path,
        co.workspace,
        inputs={"working_directory": co.module},
        payload=FORK,
        api=gh,
        token=READ_TOKEN,
    )
    assert run.code == 0, run.log[-4000:]
    report = assert_published(run, co)
    # the hello module's tests check that no token reaches the code under test
    assert report.test is not None and report.test.status == "passed", report.test
    assert report.instrumented
    assert writes(gh) == 0 and comments(gh, 8) == []
    assert run.outputs["comment_url"] == ""
    assert "comes from a fork" in run.stdout and "workflow_run" in run.stdout
    # the report and the PR number are ready for the workflow_run half
    pr_file = co.workspace / Path(run.outputs["report"]).parent / "pr.json"
    assert json.loads(pr_file.read_text())["number"] == 8


def test_forbidden_comment_degrades_to_the_summary(tmp_path: Path, gh: GitHubAPI) -> None:
    co = make_checkout(tmp_path, DATA / "hello")
    gh.add_pull(REPO, 7, diff=co.diff, head_sha=OPENED["pull_request"]["head"]["sha"])
    run = run_action(
        tmp_path,
        co.workspace,
        inputs={"working_directory": co.module},
        payload=OPENED,
        api=gh,
        token=READ_TOKEN,  # a same-repository PR whose workflow lacks pull-requests: write
    )
    assert run.code == 0, run.log[-4000:]
    assert_published(run, co)
    assert comments(gh, 7) == []
    assert len(gh.requests_to("POST")) >= 1  # it tried, GitHub said 403
    assert run.outputs["comment_url"] == ""
    assert "::warning::" in run.stdout and "pull-requests: write" in run.stdout


def test_502_is_retried_without_a_duplicate_comment(tmp_path: Path, gh: GitHubAPI) -> None:
    co = make_checkout(tmp_path, DATA / "hello")
    gh.add_pull(REPO, 7, diff=co.diff, head_sha=OPENED["pull_request"]["head"]["sha"])
    path = f"/repos/{REPO}/issues/7/comments"
    # the first create reaches GitHub but its answer is a 502; listing fails once too
    gh.fail("POST", path, 502, apply=True)
    gh.fail("GET", path, 502)
    run = run_action(
        tmp_path, co.workspace, inputs={"working_directory": co.module}, payload=OPENED, api=gh
    )
    assert run.code == 0, run.log[-4000:]
    assert_published(run, co)
    [comment] = comments(gh, 7)
    assert run.outputs["comment_url"] == comment["html_url"]
    assert len(gh.requests_to("POST")) == 1


def test_compile_error_is_annotated_on_the_users_lines(tmp_path: Path, gh: GitHubAPI) -> None:
    co = make_checkout(tmp_path, DATA / "broken", module="services/broken")
    gh.add_pull(REPO, 7, diff=co.diff, head_sha=OPENED["pull_request"]["head"]["sha"])
    run = run_action(
        tmp_path,
        co.workspace,
        inputs={"working_directory": co.module},
        payload=OPENED,
        api=gh,
    )
    assert run.code == 1, run.log[-4000:]
    report = assert_published(run, co)
    assert report.build is not None and report.build.status == "failed"
    assert report.test is not None and report.test.status == "skipped"
    errors = [ln for ln in run.stdout.splitlines() if ln.startswith("::error file=")]
    assert (
        "::error file=services/broken/bad.go,line=12,col=20,title=Build error::"
        "cannot use resp.StatusCode (variable of type int) as string value in variable "
        "declaration"
    ) in errors
    assert any("line=13,col=15" in ln and "undefinedHelper" in ln for ln in errors)
    # the lines are the user's: line 12 of bad.go is the offending statement
    bad = (co.workspace / co.module / "bad.go").read_text().splitlines()
    assert "resp.StatusCode" in bad[11]
    # the failure is in the summary and in the comment too
    assert "bad.go" in run.summary
    [comment] = comments(gh, 7)
    assert "bad.go" in comment["body"]


def test_release_targets_give_binaries_and_checksums(tmp_path: Path) -> None:
    co = make_checkout(tmp_path, DATA / "hello")
    run = run_action(
        tmp_path,
        co.workspace,
        inputs={
            "working_directory": co.module,
            "test": "false",
            "targets": "linux/amd64, windows/amd64",
            "output_dir": "dist",
        },
        event_name="push",
        payload={"ref": "refs/tags/v1.0.0"},
    )
    assert run.code == 0, run.log[-4000:]
    report = assert_published(run, co)
    binaries = json.loads(run.outputs["binaries"])
    assert binaries == ["dist/bin/hello-linux-amd64", "dist/bin/hello-windows-amd64.exe"]
    exe = (co.workspace / binaries[1]).read_bytes()
    assert exe[:2] == b"MZ"
    linux = co.workspace / binaries[0]
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    assert subprocess.run([linux], capture_output=True, text=True, env=env).stdout == (
        "hello, release\n"
    )
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=co.workspace / "dist" / "bin", capture_output=True
    )
    assert check.returncode == 0, check.stdout
    assert [b.goos for b in report.binaries] == ["linux", "windows"]
    assert run.outputs["comment_url"] == ""


# ------------------------------------------------------------------------------ no code run


def sample_report(name: str, function: str) -> Report:
    return Report(
        root=name,
        go_version="1.26.8",
        modules=[ModuleInfo(path=f"example.com/{name}", dir=name, go="1.23")],
        instrumented=[
            InstrumentedFunction(
                package=f"example.com/{name}",
                file=f"{name}/handler.go",
                line=12,
                function=function,
                receiver=None,
                rules=["nethttp"],
                optimization="no-skipcall",
                inlined=True,
                module=f"example.com/{name}",
            )
        ],
        build=StepOutcome(command=["go", "build"], status="passed", exit_code=0, duration_s=1.0),
        test=StepOutcome(command=["go", "test"], status="passed", exit_code=0, duration_s=2.0),
    )


def no_go_path(tmp_path: Path) -> str:
    """A PATH with Python but no Go and no git: proves the mode runs none of the PR's code."""
    bin_dir = tmp_path / "python-only"
    bin_dir.mkdir(exist_ok=True)
    return str(bin_dir)


def artifact(workspace: Path, report: Report, pr_number: int) -> Path:
    folder = workspace / "artifact"
    report.write(folder / "report.json")
    (folder / "pr.json").write_text(json.dumps({"number": pr_number}))
    return folder / "report.json"


def run_comment_mode_on_workflow_run(tmp_path: Path, ws: Path, gh: GitHubAPI) -> Run:
    """The second workflow of the fork-safe pair: post artifact/report.json, no Go on PATH."""
    return run_action(
        tmp_path,
        ws,
        inputs={"mode": "comment", "report": "artifact/report.json"},
        event_name="workflow_run",
        payload=event("workflow_run_completed"),
        api=gh,
        path=no_go_path(tmp_path),
    )


def test_comment_mode_in_workflow_run_posts_the_forks_report(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "base-checkout"
    ws.mkdir()
    artifact(ws, sample_report("svc", "HandleOrder"), 8)
    gh.add_pull(REPO, 8, diff="", head_sha=FORK["pull_request"]["head"]["sha"])
    run = run_comment_mode_on_workflow_run(tmp_path, ws, gh)
    assert run.code == 0, run.log
    [comment] = comments(gh, 8)
    assert "HandleOrder" in comment["body"] and "HandleOrder" in run.summary
    assert run.outputs["comment_url"] == comment["html_url"]
    assert run.outputs["report"] == "artifact/report.json"
    assert run.outputs["instrumented_count"] == "1"


def test_comment_mode_refuses_a_forged_pull_request_number(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "base-checkout"
    ws.mkdir()
    # the untrusted artifact claims PR 7, whose head is not the commit the run built
    artifact(ws, sample_report("svc", "HandleOrder"), 7)
    gh.add_pull(REPO, 7, diff="", head_sha=OPENED["pull_request"]["head"]["sha"])
    run = run_comment_mode_on_workflow_run(tmp_path, ws, gh)
    assert run.code == 0, run.log
    assert comments(gh, 7) == [] and writes(gh) == 0
    assert "does not have the commit" in run.stdout
    assert "HandleOrder" in run.summary


def test_comment_mode_with_pr_number_input(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    sample_report("svc", "Serve").write(ws / "r.json")
    gh.add_pull(REPO, 5, diff="")
    run = run_action(
        tmp_path,
        ws,
        inputs={"mode": "comment", "report": "r.json", "pr_number": "5"},
        event_name="workflow_dispatch",
        api=gh,
        path=no_go_path(tmp_path),
    )
    assert run.code == 0, run.log
    [comment] = comments(gh, 5)
    assert "Serve" in comment["body"]


def test_merge_mode_folds_reports_into_one_comment(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "ws"
    for name, fn in (("api", "HandleOrder"), ("worker", "ProcessJob")):
        sample_report(name, fn).write(ws / "reports" / f"otel-{name}" / "report.json")
    gh.add_pull(REPO, 7, diff="", head_sha=OPENED["pull_request"]["head"]["sha"])
    run = run_action(
        tmp_path,
        ws,
        inputs={"mode": "merge", "report": "reports/*/report.json", "output_dir": "merged"},
        payload=OPENED,
        api=gh,
        path=no_go_path(tmp_path),
    )
    assert run.code == 0, run.log
    merged = Report.read(ws / run.outputs["report"])
    assert run.outputs["report"] == "merged/report.json"
    assert sorted(f.function for f in merged.instrumented) == ["HandleOrder", "ProcessJob"]
    assert run.outputs["instrumented_count"] == "2"
    [comment] = comments(gh, 7)
    assert "HandleOrder" in comment["body"] and "ProcessJob" in comment["body"]
    assert "HandleOrder" in run.summary and "ProcessJob" in run.summary


def write_module(folder: Path, path: str, go: str = "1.23") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "go.mod").write_text(f"module {path}\n\ngo {go}\n")


def test_matrix_mode_lists_the_modules(tmp_path: Path) -> None:
    ws = tmp_path / "mono"
    write_module(ws / "services" / "api", "example.com/api")
    write_module(ws / "services" / "worker", "example.com/worker", go="1.24")
    write_module(ws / "tools", "example.com/tools")
    write_module(ws / "services" / "api" / "testdata" / "fixture", "example.com/fixture")
    write_module(ws / "vendor" / "x", "example.com/x")
    write_module(ws / ".github" / "y", "example.com/y")
    write_module(ws / "_old", "example.com/old")
    run = run_action(
        tmp_path, ws, inputs={"mode": "matrix"}, event_name="push", path=no_go_path(tmp_path)
    )
    assert run.code == 0, run.log
    matrix = json.loads(run.outputs["matrix"])
    assert matrix == {
        "include": [
            {
                "working_directory": "services/api",
                "module": "example.com/api",
                "go": "1.23",
                "name": "services-api",
            },
            {
                "working_directory": "services/worker",
                "module": "example.com/worker",
                "go": "1.24",
                "name": "services-worker",
            },
            {
                "working_directory": "tools",
                "module": "example.com/tools",
                "go": "1.23",
                "name": "tools",
            },
        ]
    }
    assert run.outputs["count"] == "3"
    assert "\n" not in run.outputs["matrix"]


def test_matrix_mode_follows_go_work(tmp_path: Path) -> None:
    ws = tmp_path / "mono"
    write_module(ws / "a", "example.com/a")
    write_module(ws / "b", "example.com/b")
    write_module(ws / "unused", "example.com/unused")
    (ws / "go.work").write_text("go 1.23\n\nuse (\n\t./a\n\t./b // the worker\n)\n")
    run = run_action(tmp_path, ws, inputs={"mode": "matrix"}, event_name="push")
    assert run.code == 0, run.log
    dirs = [m["working_directory"] for m in json.loads(run.outputs["matrix"])["include"]]
    assert dirs == ["a", "b"]


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"build": "yes"}, "Input `build` must be true or false, not 'yes'."),
        ({"working_directory": "nope"}, "working_directory 'nope' is not a directory"),
        ({"targets": "linux"}, "Target 'linux' is not of the form GOOS/GOARCH"),
        ({"mode": "deploy"}, "Input `mode` must be one of run, comment, matrix, merge"),
        ({"go_test_flags": '-run "unclosed'}, "Input `go_test_flags` is not a valid list"),
        ({"working_directory": "empty"}, "No go.mod or go.work in empty"),
        ({"build": "false", "test": "false"}, "Nothing to do"),
        ({"rules": "missing.yaml"}, "Rule path 'missing.yaml' (input rules) does not exist"),
        ({"mode": "comment"}, "Input `report` is empty"),
        ({"mode": "comment", "report": "nothing/*.json"}, "No report file matches"),
        (
            {"mode": "comment", "report": "bad.json"},
            "bad.json is not a valid otel-go-autoinst report",
        ),
        ({"mode": "comment", "report": "ok.json"}, "No pull request to comment on"),
        ({"mode": "comment", "report": "ok.json", "pr_number": "x1"}, "`pr_number` must be"),
    ],
)
def test_bad_input_is_one_sentence(tmp_path: Path, inputs: dict[str, str], message: str) -> None:
    ws = tmp_path / "ws"
    (ws / "empty").mkdir(parents=True)
    (ws / "go.mod").write_text("module example.com/x\n\ngo 1.23\n")
    (ws / "bad.json").write_text('{"not": "a report"}')
    sample_report("x", "F").write(ws / "ok.json")
    if inputs.get("working_directory") == "empty":
        # a folder outside any module: nothing above it in the workspace either
        (ws / "go.mod").unlink()
    run = run_action(tmp_path, ws, inputs=inputs, event_name="push")
    assert run.code == 2, run.log
    stderr = run.stderr.strip().splitlines()
    assert len(stderr) == 1 and stderr[0].startswith("otel-go-autoinst: "), run.stderr
    assert message in stderr[0]
    assert stderr[0].endswith(".")
    assert "::error::" in run.stdout


def test_go_line_newer_than_the_toolchain_allowed(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write_module(ws, "example.com/future", go="1.999")
    run = run_action(tmp_path, ws, inputs={}, event_name="push", extra_env={"GOTOOLCHAIN": "local"})
    assert run.code == 2, run.log
    assert "go.mod: go 1.999" in run.stdout
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("otel-go-autoinst: Go cannot run for this module: ")
    assert "1.999" in line


def test_toolchain_line_is_reported(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    version = subprocess.run(
        ["go", "env", "GOVERSION"],
        capture_output=True,
        text=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
    ).stdout.strip()
    write_module(ws, "example.com/pinned")
    with (ws / "go.mod").open("a") as handle:
        handle.write(f"\ntoolchain {version}\n")
    run = run_action(
        tmp_path, ws, inputs={"mode": "run", "packages": "./nothing/..."}, event_name="push"
    )
    assert f"go.mod: go 1.23, toolchain {version}" in run.stdout
    assert f"Using {version} (GOTOOLCHAIN=auto)" in run.stdout


def test_no_go_installed(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write_module(ws, "example.com/x")
    run = run_action(tmp_path, ws, inputs={}, event_name="push", path=no_go_path(tmp_path))
    assert run.code == 2
    assert run.stderr.strip() == "otel-go-autoinst: Go is not installed (no `go` on PATH)."


def test_cli_arguments_override_inputs(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    sample_report("svc", "Serve").write(ws / "r.json")
    gh.add_pull(REPO, 9, diff="")
    run = run_action(
        tmp_path,
        ws,
        inputs={"mode": "run"},
        event_name="workflow_dispatch",
        api=gh,
        path=no_go_path(tmp_path),
        argv=["comment", "--report", "r.json", "--pr-number", "9"],
    )
    assert run.code == 0, run.log
    assert len(comments(gh, 9)) == 1


def test_unknown_mode_argument(tmp_path: Path) -> None:
    run = run_action(tmp_path, tmp_path, inputs={}, event_name="push", argv=["deploy"])
    assert run.code == 2
    assert "invalid choice" in run.stderr


# ------------------------------------------------------------------------------ contracts


def test_action_yml_declares_what_the_entrypoint_reads() -> None:
    meta = yaml.safe_load((ROOT / "action.yml").read_text())
    assert meta["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert {"icon", "color"} <= set(meta["branding"])
    declared = meta["inputs"]
    assert set(declared) == set(DEFAULTS)
    for name, spec in declared.items():
        assert "-" not in name
        if name == "github_token":
            assert spec["default"] == "${{ github.token }}"
        else:
            assert str(spec["default"]) == DEFAULTS[name], name
    assert {"report", "instrumented_count", "binaries", "comment_url", "matrix"} <= set(
        meta["outputs"]
    )


def test_dockerfile_runs_the_install_script_and_the_entrypoint() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "scripts/install.sh" in dockerfile
    assert 'ENTRYPOINT ["otel-go-autoinst", "action"]' in dockerfile
    assert "ARG GO_VERSION=" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    for needed in ("src", "rules", "scripts", "pyproject.toml", "README.md"):
        assert needed not in ignored
    script = ROOT / "scripts" / "install.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


def test_child_environment_has_no_token_and_a_safe_workspace(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GITHUB_WORKSPACE": str(tmp_path),
        "INPUT_GITHUB_TOKEN": WRITE_TOKEN,
        "GITHUB_TOKEN": WRITE_TOKEN,
        "ACTIONS_RUNTIME_TOKEN": "x",
        "GITHUB_OUTPUT": "/dev/null",
        "GITHUB_ENV": "/dev/null",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.abbrev",
        "GIT_CONFIG_VALUE_0": "12",
    }
    ctx = Context.from_env(env, Inputs.from_env(env))
    assert ctx.token == WRITE_TOKEN
    assert WRITE_TOKEN not in repr(ctx)
    child = ctx.child_env()
    assert WRITE_TOKEN not in child.values()
    assert not {"ACTIONS_RUNTIME_TOKEN", "GITHUB_OUTPUT", "GITHUB_ENV"} & set(child)
    got = subprocess.run(
        ["git", "config", "--get-all", "safe.directory"],
        env=child,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert got == [str(tmp_path.resolve())]
    assert child["GIT_CONFIG_KEY_0"] == "core.abbrev"  # the user's own settings stay


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_workspace_owned_by_another_user_is_safe_for_git(tmp_path: Path) -> None:
    """As in the action's container: root runs git in a checkout owned by the runner's user."""
    ws = tmp_path / "checkout"
    ws.mkdir()
    git(ws, "init", "-q")
    for path in [ws, *ws.rglob("*")]:
        os.chown(path, 1001, 1001)
    env = {
        **os.environ,
        "GITHUB_WORKSPACE": str(ws),
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    env.pop("GIT_CONFIG_COUNT", None)
    plain = subprocess.run(["git", "status"], cwd=ws, env=env, capture_output=True, text=True)
    assert plain.returncode != 0 and "dubious ownership" in plain.stderr
    ctx = Context.from_env(env, Inputs.from_env(env))
    safe = subprocess.run(
        ["git", "status"], cwd=ws, env=ctx.child_env(), capture_output=True, text=True
    )
    assert safe.returncode == 0, safe.stderr
    assert not (tmp_path / ".gitconfig").exists()  # no configuration file was written


def test_huge_report_fits_the_comment_and_the_summary(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    report = sample_report("svc", "F0")
    template = report.instrumented[0]
    report.instrumented = [
        InstrumentedFunction(**{**vars(template), "function": f"Handler{i}", "line": i + 1})
        for i in range(4000)
    ]
    report.write(ws / "r.json")
    gh.add_pull(REPO, 3, diff="")
    run = run_action(
        tmp_path,
        ws,
        inputs={"mode": "comment", "report": "r.json", "pr_number": "3"},
        event_name="workflow_dispatch",
        api=gh,
        path=no_go_path(tmp_path),
    )
    assert run.code == 0, run.log
    [comment] = comments(gh, 3)
    assert len(comment["body"]) <= 65_536
    assert len(run.summary.encode()) <= 1_048_576
    assert "Handler3999" in run.summary  # the summary has room for all of them
    assert run.outputs["instrumented_count"] == "4000"


def go_recorder(tmp_path: Path) -> tuple[str, Path]:
    """A PATH whose `go` writes each command line to a log (the build user can write it), then
    runs the real go."""
    shim = tmp_path / "go-recorder"
    shim.mkdir()
    log = shim / "log"
    log.touch()
    log.chmod(0o666)
    real = shutil.which("go")
    (shim / "go").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (shim / "go").chmod(0o755)
    return f"{shim}:{os.environ['PATH']}", log


@pytest.mark.parametrize(
    ("flags", "goflags", "stripped"),
    [
        ("", "", True),
        ("-ldflags=-X=main.version=v9", "", False),
        ("", "-ldflags=-X=main.version=v9", False),
    ],
)
def test_checking_build_links_without_debug_information(
    tmp_path: Path, flags: str, goflags: str, stripped: bool
) -> None:
    """The build step's binary goes to /dev/null: linked with -s -w, as go run and go test link
    theirs; never over the user's own -ldflags, in the inputs or in GOFLAGS."""
    ws = tmp_path / "ws"
    write_module(ws, "example.com/ver")
    (ws / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nvar version = "dev"\n\n'
        "func main() { fmt.Println(version) }\n"
    )
    path, log = go_recorder(tmp_path)
    run = run_action(
        tmp_path,
        ws,
        inputs={"test": "false", "comment": "false", "go_build_flags": flags},
        event_name="push",
        path=path,
        extra_env={"GOFLAGS": goflags} if goflags else None,
    )
    assert run.code == 0, run.log
    (build,) = [line for line in log.read_text().splitlines() if line.startswith("build ")]
    assert f"-o={os.devnull}" in build or f"-o {os.devnull}" in build, build
    assert ("-ldflags=-s -w" in build) == stripped, build
    assert ("-X=main.version=v9" in build) == bool(flags), build
    assert not list(ws.glob("ver*")), "the checkout got an executable"
