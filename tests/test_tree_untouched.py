"""The user's tree is never written (issue 2), with the real Go toolchain.

Each test works on a git-initialized copy of tests/data/modules/probe and compares, before and
after the run, a SHA-256 of every file (and the set of files and folders) and `git status
--porcelain`: after a build, after a failed build, after a build interrupted with SIGINT, and after
two builds of one module at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import CLI, MODULES, only_user_rules

TIMEOUT = 300


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def git_module(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    """A copy of the probe module, optionally edited, committed to a fresh git repository."""
    module = Path(shutil.copytree(MODULES / "probe", tmp_path / "probe"))
    if edit is not None:
        target = module / "target" / "target.go"
        text = target.read_text(encoding="utf-8")
        assert edit[0] in text
        target.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    git(module, "init", "-q")
    git(module, "add", ".")
    git(module, "commit", "-qm", "fixture")
    return module


def snapshot(root: Path) -> tuple[dict[str, str], str]:
    """SHA-256 of every file and the list of folders (outside .git), and git status."""
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        rel = Path(dirpath).relative_to(root)
        state[f"{rel}/"] = "dir"
        for name in filenames:
            path = Path(dirpath) / name
            mode = "link:" + os.readlink(path) if path.is_symlink() else path.stat().st_mode
            state[str(rel / name)] = f"{mode}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    return state, git(root, "status", "--porcelain", "--ignored", "--untracked-files=all")


def build_args(module: Path, out: Path) -> list[str]:
    return [
        *CLI, "build", "-C", str(module), "--rules", str(module / "rules.yaml"), *only_user_rules(),
        "-o", str(out), "./cmd/probe",
    ]  # fmt: skip


def run_dirs(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("otel-go-autoinst-"))


def private_tmp(tmp_path: Path) -> Path:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return tmp


def test_build_and_test_leave_the_tree_unchanged(tmp_path: Path) -> None:
    module = git_module(tmp_path)
    before = snapshot(module)
    assert before[1] == ""
    tmp = private_tmp(tmp_path)
    env = {**os.environ, "TMPDIR": str(tmp)}
    out = tmp_path / "bin" / "probe"
    proc = subprocess.run(
        build_args(module, out), capture_output=True, text=True, timeout=TIMEOUT, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "OUT: Add 41"
        in subprocess.run([str(out)], capture_output=True, text=True, timeout=60).stdout
    )
    assert snapshot(module) == before
    test = subprocess.run(
        [*CLI, "test", "-C", str(module), "--rules", str(module / "rules.yaml"), *only_user_rules(),
         "./target"],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )  # fmt: skip
    assert test.returncode == 0, test.stdout + test.stderr
    assert snapshot(module) == before
    assert run_dirs(tmp) == []


def test_failed_build_leaves_the_tree_unchanged(tmp_path: Path) -> None:
    module = git_module(tmp_path, ("return a + b\n", "return a + b + len(os.Args)\n"))
    before = snapshot(module)
    tmp = private_tmp(tmp_path)
    out = tmp_path / "bin" / "probe"
    proc = subprocess.run(
        build_args(module, out), capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, "TMPDIR": str(tmp)},
    )  # fmt: skip
    assert proc.returncode != 0
    assert "undefined: os" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert snapshot(module) == before
    assert run_dirs(tmp) == []


@pytest.mark.parametrize(
    ("target", "delay"), [("process-group", 1.0), ("process", 1.0), ("process-group", 3.0)]
)
def test_interrupted_build_leaves_the_tree_unchanged(
    tmp_path: Path, target: str, delay: float
) -> None:
    """SIGINT after ~1 s, to the whole process group (Ctrl-C in a terminal) or to the engine alone
    (a supervisor's kill -INT); and once later, when the build directory and overlay exist. An
    empty GOCACHE makes the run take many seconds, so the signal arrives while the go command
    (go list, then go build) is at work."""
    module = git_module(tmp_path)
    before = snapshot(module)
    tmp = private_tmp(tmp_path)
    env = {**os.environ, "TMPDIR": str(tmp), "GOCACHE": str(tmp_path / "gocache")}
    out = tmp_path / "bin" / "probe"
    proc = subprocess.Popen(
        build_args(module, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(delay)
        assert proc.poll() is None, "the build ended before the signal: the test proves nothing"
        if target == "process-group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr
    assert not out.exists()
    assert snapshot(module) == before
    assert run_dirs(tmp) == []
    # Nothing of that run keeps going in the background (zombies waiting for init do not count).
    deadline, alive = time.monotonic() + 10, ["?"]
    while alive and time.monotonic() < deadline:
        ps = subprocess.run(
            ["ps", "-o", "stat=,args=", "-s", str(proc.pid)], capture_output=True, text=True
        )
        alive = [
            line for line in ps.stdout.splitlines() if line.strip() and line.split()[0][0] != "Z"
        ]
        time.sleep(0.2)
    assert not alive, f"processes of the interrupted run still alive: {alive}"


def test_two_builds_at_once_do_not_collide(tmp_path: Path) -> None:
    module = git_module(tmp_path)
    before = snapshot(module)
    tmp = private_tmp(tmp_path)
    env = {**os.environ, "TMPDIR": str(tmp)}
    outs = [tmp_path / "bin" / "a", tmp_path / "bin" / "b"]
    procs = [
        subprocess.Popen(
            build_args(module, out),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for out in outs
    ]
    results = [p.communicate(timeout=TIMEOUT) for p in procs]
    for proc, (_, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
    for out in outs:
        run = subprocess.run([str(out)], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0
        assert "OUT: Add 41" in run.stdout and "OUT: Nested n+inner+outer" in run.stdout
    assert snapshot(module) == before
    assert run_dirs(tmp) == []
