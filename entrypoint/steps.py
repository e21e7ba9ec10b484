"""The steps of `run` mode that execute the repository's code, all inside the sandbox: the Go
toolchain check, the instrumented `go build` / `go test` through the engine CLI, with their
output shown with workflow commands switched off.
"""

from __future__ import annotations

import shlex
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from entrypoint.context import Context, rel_to
from entrypoint.gomod import find_gomod, go_directives
from entrypoint.sandbox import Sandbox
from otel_go_autoinst.errors import UserError
from otel_go_autoinst.publish import release as rel
from otel_go_autoinst.publish import untrusted
from otel_go_autoinst.publish.workflow import Log, visible
from otel_go_autoinst.report import Report, StepOutcome


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
    left = box.reap()
    log.line(f"::{stop}::")
    if left:
        log.line(f"Stopped {left} process(es) the command left running.")
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
