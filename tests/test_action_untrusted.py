"""The Action with untrusted input (issue 11, part 1), each case through the real entrypoint, the
OpenAPI-checked local GitHub API (tests/github_api.py) and, where code runs, real Go builds:

- forged report fields in comment mode (workflow_run): rejected by the published JSON Schema,
  nothing posted; mentions defused; source links confined to the repository;
- a Go test that tries to read the token from /proc and to write the runner's command files,
  and leaves a process running;
- a subfolder checkout owned by another uid;
- a directory name with a newline and a workflow command in matrix mode;
- two runs on one pull request at once; a rate-limit 403 with a near reset; an API failure
  while checking the pull request's head.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import test_action as base
from github_api import GitHubAPI
from test_action import (
    BOT,
    DATA,
    FORK,
    OPENED,
    REPO,
    WRITE_TOKEN,
    Run,
    artifact,
    comments,
    event,
    make_checkout,
    no_go_path,
    run_action,
    run_comment_mode_on_workflow_run,
    sample_report,
    writes,
)

from otel_go_autoinst.report import InstrumentedFunction, Report

# the fixtures of test_action.py: the build user, readable temporary folders, the GitHub API
build_user = base.build_user
tmp_path = base.tmp_path
gh = base.gh

FORK_HEAD = FORK["pull_request"]["head"]["sha"]


def runner_commands(stdout: str) -> list[str]:
    """The workflow commands GitHub's runner would act on in this log: lines starting with `::`
    (after leading spaces), except inside a `::stop-commands::TOKEN` ... `::TOKEN::` block."""
    seen: list[str] = []
    stop: str | None = None
    for raw in stdout.split("\n"):
        line = raw.lstrip()
        if stop is not None:
            if line == f"::{stop}::":
                stop = None
            continue
        match = re.match(r"::([A-Za-z-]+)", line)
        if not match:
            continue
        seen.append(line)
        if match.group(1) == "stop-commands":
            stop = line[len("::stop-commands::") :]
    return seen


# ------------------------------------------------------------------------------ forged reports


def forged_artifact(ws: Path, data: dict[str, Any], number: int = 8) -> None:
    folder = ws / "artifact"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data))
    (folder / "pr.json").write_text(json.dumps({"number": number}))


def good() -> dict[str, Any]:
    return sample_report("svc", "HandleOrder").to_dict()


def with_fn(**fields: Any) -> dict[str, Any]:
    data = good()
    data["instrumented"][0].update(fields)
    return data


def with_build(**fields: Any) -> dict[str, Any]:
    data = good()
    data["build"].update(fields)
    return data


FORGED = {
    "exit code as a string": with_build(
        status="failed", exit_code="1) ![x](https://evil.example/p.png) </details>"
    ),
    "line as a string": with_fn(line="12)[phish](https://evil.example"),
    "a file out of the repository": with_fn(file="svc/../../../../other/repo/blob/main/x.go"),
    "an absolute URL as the file": with_fn(file="https://evil.example/x.go"),
    "a function that is no identifier": with_fn(function="F](https://evil.example)"),
    "an unknown optimization": with_fn(optimization="full</details><img src=x>"),
    "instrumented not a list": {**good(), "instrumented": {"a": 1}},
    "a status outside the enum": with_build(status="passed ✅ @org/team"),
    "an unknown field": {**good(), "html": "<script>"},
    "a newline in a module path": {**good(), "go_version": "1.26\n::warning::x"},
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_forged_report_is_rejected_and_nothing_is_posted(
    tmp_path: Path, gh: GitHubAPI, case: str
) -> None:
    ws = tmp_path / "base-checkout"
    ws.mkdir()
    forged_artifact(ws, FORGED[case])
    gh.add_pull(REPO, 8, diff="", head_sha=FORK_HEAD)
    run = run_comment_mode_on_workflow_run(tmp_path, ws, gh)
    assert run.code == 2, run.log
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("otel-go-autoinst: artifact/report.json is not a valid ")
    assert line.endswith("nothing is published from it."), line
    assert "evil" not in run.log and "<" not in line
    assert writes(gh) == 0 and comments(gh, 8) == []
    assert run.summary == ""
    assert [c for c in runner_commands(run.stdout) if not c.startswith("::error::")] == []


def test_report_fields_are_escaped_and_links_stay_in_the_repository(
    tmp_path: Path, gh: GitHubAPI
) -> None:
    ws = tmp_path / "base-checkout"
    ws.mkdir()
    report = sample_report("svc", "HandleOrder")
    report.warnings = [
        "ping @org/team and @someone: </details> <img src=x> [a](https://evil.example)"
    ]
    report.modules[0].path = "example.com/@org/team"
    report.instrumented.append(
        InstrumentedFunction(
            package="@octocat/pkg",
            file="GOMODCACHE/example.com/dep@v1.2.3/dep.go",
            line=3,
            function="Do",
            receiver="*Client",
            rules=["nethttp @org/reviewers"],
            optimization="full",
        )
    )
    artifact(ws, report, 8)
    gh.add_pull(REPO, 8, diff="", head_sha=FORK_HEAD)
    run = run_comment_mode_on_workflow_run(tmp_path, ws, gh)
    assert run.code == 0, run.log
    [comment] = comments(gh, 8)
    for text in (comment["body"], run.summary):
        assert not re.search(r"(?<![\w`])@[A-Za-z0-9]", text), "a live mention"
        assert "@\u200borg/team" in text
        assert "<img" not in text and "</details> <" not in text
        links = re.findall(r"(?<!\\)\]\(([^)]*)\)", text)
        assert links, "no source link"
        for url in links:
            assert url.startswith(f"https://github.com/{REPO}/blob/"), url
            assert ".." not in url
    assert "dep@v1.2.3" in comment["body"]  # a module version is no mention


# ------------------------------------------------------------------------------ the token


def test_a_go_test_cannot_read_the_token_nor_write_the_command_files(
    tmp_path: Path, gh: GitHubAPI
) -> None:
    if os.geteuid() != 0:
        pytest.skip("the build user is only used when the entrypoint runs as root")
    co = make_checkout(tmp_path, DATA / "probe")
    runner = tmp_path / "runner"
    runner.mkdir()
    (co.workspace / co.module / "PROBE_RUNNER_DIR.txt").write_text(str(runner))
    (runner / "github_env").write_text("")
    (runner / "github_path").write_text("")
    gh.add_pull(REPO, 7, diff=co.diff, head_sha=OPENED["pull_request"]["head"]["sha"])
    run = run_action(
        tmp_path,
        co.workspace,
        inputs={"working_directory": co.module, "go_test_flags": "-v -count=1"},
        payload=OPENED,
        api=gh,
        extra_env={
            "GITHUB_ENV": str(runner / "github_env"),
            "GITHUB_PATH": str(runner / "github_path"),
            "GITHUB_TOKEN": WRITE_TOKEN,
        },
    )
    assert run.code == 0, run.log[-6000:]
    uid = re.search(r"PROBE uid=(\d+)", run.stdout)
    assert uid and uid.group(1) != "0", run.stdout[-3000:]
    denied = re.search(r"PROBE environ denied=(\d+)", run.stdout)
    assert denied and int(denied.group(1)) >= 1
    assert re.search(r"PROBE command files tried=([4-9]|\d\d)", run.stdout)
    foreign = re.search(r"PROBE foreign ancestors=(\d+)", run.stdout)
    assert foreign and int(foreign.group(1)) >= 1  # the publisher is above the test
    assert "PROBE read" not in run.stdout and "PROBE appended" not in run.stdout
    for path in runner.iterdir():
        assert "pwned" not in path.read_text(errors="replace"), path
    assert "--- PASS: TestTokenIsNotReachable" in run.stdout
    left = re.search(r"PROBE left pid=(\d+)", run.stdout)
    assert left, run.stdout[-3000:]
    assert not running(int(left.group(1))), "a process the tests left outlived the Action's step"
    assert "Stopped 1 process(es) the command left running." in run.stdout
    [comment] = comments(gh, 7)
    assert comment["user"]["login"] == BOT


def running(pid: int) -> bool:
    """Whether pid is a live process (a zombie awaiting its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# ------------------------------------------------------------------------------ git ownership


def test_subfolder_checkout_owned_by_another_user(tmp_path: Path, gh: GitHubAPI) -> None:
    """actions/checkout with `path: src`: the git work tree is below the workspace, and belongs
    to the runner's user (1001), neither to the container's root nor to the build user."""
    if os.geteuid() != 0:
        pytest.skip("needs root to chown")
    co = make_checkout(tmp_path / "co", DATA / "hello", module="svc")
    ws = tmp_path / "workspace"
    ws.mkdir()
    (co.workspace).rename(ws / "src")
    for path in [ws, *ws.rglob("*")]:
        os.lchown(path, 1001, 1001)
    run = run_action(
        tmp_path,
        ws,
        inputs={"working_directory": "src/svc"},
        event_name="push",
        # Go stamps the build with git's view of the repository (-buildvcs=auto)
        extra_env={"GOFLAGS": "", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)},
    )
    assert run.code == 0, run.log[-5000:]
    report = Report.read(ws / run.outputs["report"])
    assert report.build is not None and report.build.status == "passed"
    own = [f.file for f in report.instrumented if not f.file.startswith(("GOROOT/", "GOMODCACHE/"))]
    assert own and all(f.startswith("svc/") for f in own), own  # relative to the work tree
    status = subprocess.run(
        ["git", "-c", f"safe.directory={ws / 'src'}", "status", "--porcelain"],
        cwd=ws / "src",
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0 and status.stdout == ""


# ------------------------------------------------------------------------------ workflow commands


def test_newline_directory_name_prints_no_workflow_command(tmp_path: Path) -> None:
    ws = tmp_path / "mono"
    evil = ws / "svc\n::warning::pwned\n::add-mask::x"
    evil.mkdir(parents=True)
    (evil / "go.mod").write_text("module example.com/evil\n\ngo 1.23\n")
    other = ws / "api"
    other.mkdir()
    (other / "go.mod").write_text("module example.com/api//::error::x\n\ngo 1.23\n")
    run = run_action(
        tmp_path, ws, inputs={"mode": "matrix"}, event_name="push", path=no_go_path(tmp_path)
    )
    assert run.code == 0, run.log
    commands = runner_commands(run.stdout)
    assert not [c for c in commands if "pwned" in c or "add-mask" in c or "error" in c], commands
    names = [m["working_directory"] for m in json.loads(run.outputs["matrix"])["include"]]
    assert names == ["api", "svc\n::warning::pwned\n::add-mask::x"]
    assert "svc\\x0a::warning::pwned" in run.stdout


# ------------------------------------------------------------------------------ GitHub API


def test_two_runs_at_once_leave_one_sticky_comment(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    sample_report("svc", "Serve").write(ws / "r.json")
    gh.add_pull(REPO, 5, diff="")
    gh.hold_creates(2)  # both runs list the comments before either creates one
    runs: list[Run] = []

    def one(i: int) -> None:
        runs.append(
            run_action(
                tmp_path / f"run{i}",
                ws,
                inputs={"mode": "comment", "report": "r.json", "pr_number": "5"},
                event_name="workflow_dispatch",
                api=gh,
                path=no_go_path(tmp_path),
            )
        )

    for i in (1, 2):
        (tmp_path / f"run{i}").mkdir()
    threads = [threading.Thread(target=one, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.code for r in runs] == [0, 0], [r.log for r in runs]
    [comment] = comments(gh, 5)
    assert len(gh.requests_to("POST")) == 2
    assert {r.outputs["comment_url"] for r in runs} == {comment["html_url"]}


def test_rate_limit_403_with_a_near_reset_is_retried(tmp_path: Path, gh: GitHubAPI) -> None:
    import time

    ws = tmp_path / "ws"
    ws.mkdir()
    sample_report("svc", "Serve").write(ws / "r.json")
    gh.add_pull(REPO, 5, diff="")
    gh.fail(
        "POST",
        f"/repos/{REPO}/issues/5/comments",
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 2)},
        body={
            "message": "API rate limit exceeded for installation ID 1.",
            "documentation_url": "x",
        },
    )
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
    assert run.outputs["comment_url"] == comment["html_url"]
    assert "permission" not in run.log and "pull-requests: write" not in run.log


def test_api_failure_is_not_called_a_commit_mismatch(tmp_path: Path, gh: GitHubAPI) -> None:
    ws = tmp_path / "base-checkout"
    ws.mkdir()
    artifact(ws, sample_report("svc", "HandleOrder"), 8)
    gh.add_pull(
        REPO, 8, diff="", head_sha=event("workflow_run_completed")["workflow_run"]["head_sha"]
    )
    gh.fail("GET", f"/repos/{REPO}/pulls/8", 502, times=10)
    run = run_comment_mode_on_workflow_run(tmp_path, ws, gh)
    assert run.code == 0, run.log
    assert writes(gh) == 0
    assert "does not have the commit" not in run.log
    assert "Could not read pull request #8 from the GitHub API" in run.stdout
    assert "502" in run.stdout


# ------------------------------------------------------------------------------ the schema


def test_the_schema_describes_every_field_of_the_report_model() -> None:
    """report.py and report.schema.json change together: a field the schema lacks would make
    every engine report invalid (additionalProperties is false), one it has extra is dead."""
    from dataclasses import fields

    from otel_go_autoinst import report as model
    from otel_go_autoinst.publish import untrusted

    schema = untrusted.schema()
    props = schema["properties"]

    def items(name: str) -> set[str]:
        return set(props[name]["items"]["properties"])

    step = schema["$defs"]["step"]["properties"]
    assert {f.name for f in fields(model.Report)} == set(props)
    assert {f.name for f in fields(model.ModuleInfo)} == items("modules")
    assert {f.name for f in fields(model.RuleInfo)} == items("rules")
    assert {f.name for f in fields(model.InstrumentedFunction)} == items("instrumented")
    assert {f.name for f in fields(model.DependencyChange)} == items("dependency_changes")
    assert {f.name for f in fields(model.Binary)} == items("binaries")
    assert {f.name for f in fields(model.StepOutcome)} == set(step)
    assert {f.name for f in fields(model.Diagnostic)} == set(step["errors"]["items"]["properties"])
    # a full report of the model validates
    report = sample_report("svc", "HandleOrder")
    untrusted.validate(report.to_dict(), "sample")
