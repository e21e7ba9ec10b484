"""The command line itself: help and version on stdout, the exit-status table (go's status for go's
errors, 2 for ours), and report paths checked before any work, with the real Go toolchain."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import CLI, MODULES

from otel_go_autoinst import __version__
from otel_go_autoinst.cli import _write
from otel_go_autoinst.report import Report

REPO = Path(__file__).resolve().parents[1]
SERVICE = REPO / "examples" / "service"
VERBS = ["plan", "build", "test", "diff"]


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def one_sentence(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("otel-go-autoinst: ") and lines[0].endswith("."), lines
    return lines[0]


# -- help and version -------------------------------------------------------------------------


def test_help_prints_the_overview_on_stdout() -> None:
    for flag in ("--help", "-h", "help"):
        proc = run_cli(flag)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert proc.stdout.startswith("usage: otel-go-autoinst <command>")
        for verb in VERBS:
            assert f"otel-go-autoinst {verb} " in proc.stdout
        assert "exit status:" in proc.stdout


def test_no_arguments_is_a_usage_error_on_stderr() -> None:
    proc = run_cli()
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("usage: otel-go-autoinst <command>")


@pytest.mark.parametrize("verb", VERBS)
def test_each_command_prints_its_own_help(verb: str) -> None:
    texts = set()
    for args in ([verb, "--help"], [verb, "-h"], ["help", verb], [verb, "-C", "x", "--help"]):
        proc = run_cli(*args)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stderr)
        assert proc.stdout.startswith(f"usage: otel-go-autoinst {verb} "), args
        assert "exit status:" in proc.stdout
        texts.add(proc.stdout)
    assert len(texts) == 1  # one help per command, however asked
    others = {run_cli(other, "--help").stdout for other in VERBS if other != verb}
    assert texts.isdisjoint(others)


def test_version() -> None:
    for args in (["--version"], ["version"]):
        proc = run_cli(*args)
        assert proc.returncode == 0 and proc.stderr == ""
        assert proc.stdout == f"otel-go-autoinst {__version__}\n"


def test_the_module_runs_as_a_script() -> None:
    """`python -m otel_go_autoinst.cli` is the CLI too (the end-to-end tests fall back on it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "otel_go_autoinst.cli", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout == f"otel-go-autoinst {__version__}\n"


# -- exit statuses ----------------------------------------------------------------------------


def go_status(args: list[str], cwd: Path) -> int:
    return subprocess.run(["go", *args], cwd=cwd, capture_output=True, text=True).returncode


@pytest.mark.parametrize("verb", ["plan", "build", "test", "diff"])
def test_no_go_mod_exits_as_go_does(tmp_path: Path, verb: str) -> None:
    (tmp_path / "main.go").write_text("package main\n\nfunc main() {}\n")
    env_go = go_status(["build", "."], tmp_path)
    assert env_go == 1  # what the go command says for the same folder
    proc = run_cli(verb, "-C", tmp_path, ".")
    assert proc.returncode == env_go
    assert "No go.mod" in one_sentence(proc)


@pytest.mark.parametrize("verb", ["plan", "build"])
def test_a_package_that_does_not_load_exits_as_go_does(verb: str) -> None:
    go = go_status(["build", "-o", os.devnull, "./nonexistent"], SERVICE)
    proc = run_cli(verb, "-C", SERVICE, "./nonexistent")
    assert proc.returncode == go == 1
    assert "nonexistent" in one_sentence(proc)


def test_a_go_syntax_error_exits_as_go_does(tmp_path: Path) -> None:
    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.23\n")
    (module / "main.go").write_text(
        'package main\n\nimport "net/http"\n\nfunc main() { http.Get("x") \n'
    )
    go = go_status(["build", "-o", os.devnull, "."], module)
    proc = run_cli("build", "-C", module, ".")
    assert go == 1 and proc.returncode == go, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["deploy"],
        ["plan", "--no-such-flag", "."],
        ["diff", "-bogus", "."],
        ["build", "--rules"],
        ["diff", "--report", "r.json", "."],
        ["build", "--json", "r.json", "."],
    ],
)
def test_usage_errors_are_ours(args: list[str]) -> None:
    proc = run_cli(*args, cwd=SERVICE)
    assert proc.returncode == 2
    one_sentence(proc)


def test_bad_rules_are_ours() -> None:
    proc = run_cli("plan", "-C", SERVICE, "--rules", MODULES / "bad_rules" / "broken_yaml.yaml")
    assert proc.returncode == 2
    assert "broken_yaml.yaml" in one_sentence(proc)


def test_go_build_status_is_passed_through(tmp_path: Path) -> None:
    """A flag the go command rejects: its own status (2), from go itself."""
    go = go_status(["build", "-no-such-go-flag", "."], SERVICE)
    proc = run_cli("build", "-C", SERVICE, "-no-such-go-flag", "-o", tmp_path / "bin", ".")
    assert proc.returncode == go == 2
    assert "Traceback" not in proc.stderr


# -- report paths -----------------------------------------------------------------------------


def _unwritable_dir(tmp_path: Path) -> Path | None:
    """A folder this user cannot create files in, or None (root writes anywhere chmod allows)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        (locked / "probe").write_text("")
    except OSError:
        return locked
    (locked / "probe").unlink()
    for candidate in (Path("/sys/kernel"), Path("/proc/sys")):
        try:
            (candidate / "otel-probe.json").write_text("")
        except OSError:
            return candidate
    return None


def bad_paths(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    paths = {
        "a directory": tmp_path,
        "under a file": a_file / "report.json",
        "missing parents under a file": a_file / "x" / "y" / "report.json",
    }
    locked = _unwritable_dir(tmp_path)
    if locked is not None:
        paths["unwritable"] = locked / "report.json"
    return paths


@pytest.mark.parametrize("verb, flag", [("build", "--report"), ("plan", "--json")])
def test_an_unwritable_report_path_fails_before_any_work(
    tmp_path: Path, verb: str, flag: str
) -> None:
    binary = tmp_path / "service"
    for what, path in bad_paths(tmp_path).items():
        args = [verb, "-C", SERVICE, flag, path]
        proc = run_cli(*args, *(["-o", binary] if verb == "build" else []), ".")
        assert proc.returncode == 2, (what, proc.stderr)
        line = one_sentence(proc)
        assert line.startswith(f"otel-go-autoinst: {flag} {path}: "), (what, line)
        assert not binary.exists()  # nothing was built
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_a_report_path_is_left_as_it_was_when_checked(tmp_path: Path) -> None:
    """The check writes nothing: an existing report keeps its text until the new one is written,
    and a new path gets no file when the run fails for another reason."""
    existing = tmp_path / "old.json"
    existing.write_text("old")
    proc = run_cli("plan", "-C", tmp_path / "nowhere", "--json", existing)
    assert proc.returncode != 0 and existing.read_text() == "old"
    fresh = tmp_path / "deeper" / "new.json"
    proc = run_cli("plan", "-C", tmp_path / "nowhere", "--json", fresh)
    assert proc.returncode != 0 and not fresh.exists() and not fresh.parent.exists()


def test_a_report_path_with_missing_parents_is_created(tmp_path: Path) -> None:
    target = tmp_path / "out" / "plans" / "plan.json"
    proc = run_cli("plan", "-C", SERVICE, "--json", target, ".")
    assert proc.returncode == 0, proc.stderr
    assert Report.read(target).instrumented


def test_a_report_that_cannot_be_written_at_the_end_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The path was fine when checked, but a folder took its place during the run."""
    assert (
        _write(Report(root=".", go_version="1.23", tool_version=__version__), tmp_path, "--report")
        is False
    )
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"otel-go-autoinst: --report \S+: the report could not be written \(.+\)\.\n", err
    )
