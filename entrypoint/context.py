"""What the container is given: the inputs (INPUT_*), the event, the workspace, and the
environment its children get (no token, no command files, the checkout's work trees git-safe).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_go_autoinst.errors import UserError

MODES = ("run", "comment", "matrix", "merge")


DEFAULTS: dict[str, str] = {
    "mode": "run",
    "working_directory": ".",
    "packages": "./...",
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
    "cache_dir": "",
}


PR_EVENTS = ("pull_request", "pull_request_target")


REPORT_FILE = "report.json"


PR_FILE = "pr.json"


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


CACHE_ENV = "OTEL_GO_AUTOINST_CACHE"


_TRUE = {"true", "True", "TRUE"}


_FALSE = {"false", "False", "FALSE"}


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


def rel_to(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


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


def resolve_rules(ctx: Context, inputs: Inputs) -> list[Path]:
    rules = []
    for item in split_list(inputs["rules"]):
        path = resolve_in_workspace(ctx, item, "rules")
        if not path.exists():
            raise UserError(f"Rule path {item!r} (input rules) does not exist in the checkout.")
        rules.append(path.resolve())
    return rules
