"""`run` mode (the default): detect the module, run the instrumented `go build` and `go test`
through the engine CLI as the unprivileged build user, optionally build release binaries, then
publish: JSON report, job summary, annotations on the user's lines, sticky comment, outputs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from entrypoint.context import (
    CACHE_ENV,
    PR_FILE,
    REPORT_FILE,
    Context,
    Inputs,
    git_roots,
    prepare_output_dir,
    rel_to,
    resolve_in_workspace,
    resolve_rules,
    resolve_workdir,
    split_flags,
    split_list,
    with_safe_directory,
)
from entrypoint.publishing import annotate, publish_report
from entrypoint.sandbox import Sandbox, sandbox
from entrypoint.steps import EngineStep, combine, failed_step, run_engine, setup_toolchain
from otel_go_autoinst.errors import UserError
from otel_go_autoinst.publish import release as rel
from otel_go_autoinst.publish.workflow import Log, write_outputs
from otel_go_autoinst.report import ModuleInfo, Report, StepOutcome


def mode_run(ctx: Context, inputs: Inputs, log: Log) -> int:
    inputs.flag("comment")
    plan = Plan(
        workdir=Path(),
        out_dir=Path(),
        rules=[],
        disable=split_list(inputs["disable_rules"]),
        packages=split_list(inputs["packages"]) or ["./..."],
        build=inputs.flag("build"),
        test=inputs.flag("test"),
        build_flags=split_flags("go_build_flags", inputs["go_build_flags"]),
        test_flags=split_flags("go_test_flags", inputs["go_test_flags"]),
        targets=rel.parse_targets(inputs["targets"]),
    )
    if not (plan.build or plan.test or plan.targets):
        raise UserError(
            "Nothing to do: build, test are false and no targets are set "
            "(use mode: matrix for a plan only)."
        )
    plan.workdir = resolve_workdir(ctx, inputs)
    plan.rules = resolve_rules(ctx, inputs)
    plan.out_dir = prepare_output_dir(ctx, inputs)
    env = with_safe_directory(ctx.child_env(), *git_roots(plan.workdir, ctx.workspace))
    cache = inputs["cache_dir"] or ctx.env.get(CACHE_ENV)
    cache_dir = resolve_in_workspace(ctx, cache, "cache_dir") if cache else None
    with sandbox(env, cache_dir) as box:
        return run_in_sandbox(ctx, inputs, log, box, plan)


@dataclass
class Plan:
    """What `run` was asked to do, from the inputs."""

    workdir: Path
    out_dir: Path
    rules: list[Path]
    disable: list[str]
    packages: list[str]
    build: bool
    test: bool
    build_flags: list[str]
    test_flags: list[str]
    targets: list[rel.Target]


def run_in_sandbox(ctx: Context, inputs: Inputs, log: Log, box: Sandbox, plan: Plan) -> int:
    pr = ctx.pull_request()
    if box.dropped:
        log.line("The build and tests run as an unprivileged user (no token, no command files).")
    with log.group("Go toolchain"):
        go_version = setup_toolchain(plan.workdir, ctx, box, log)
    steps = build_and_test(plan, box, log)
    report = step_report(ctx, plan, steps, go_version)
    failures = [k for k, s in steps.items() if s.exit_code != 0]
    if plan.targets:
        failures += release(ctx, inputs, plan, box, report, log, skip=bool(failures))

    report_path = plan.out_dir / REPORT_FILE
    report.write(report_path)
    if pr is not None:
        (plan.out_dir / PR_FILE).write_text(
            json.dumps({"number": pr.number, "head_sha": pr.head_sha, "repository": ctx.repository})
            + "\n",
            encoding="utf-8",
        )
    with log.group("Report"):
        annotate(report, ctx, plan.workdir, log)
        comment = publish_report(ctx, inputs, report, pr, log)
        log.untrusted(
            f"Report: {rel_to(report_path, ctx.workspace)}; "
            f"{len(report.instrumented)} functions instrumented."
        )
    write_outputs(
        ctx.env,
        {
            "report": rel_to(report_path, ctx.workspace),
            "instrumented_count": str(len(report.instrumented)),
            "binaries": rel.binaries_json(report.binaries),
            "comment_url": comment.url,
        },
        log,
    )
    for kind in failures:
        if kind in steps:
            log.error(failure_message(steps[kind]))
    return 1 if failures else 0


def build_and_test(plan: Plan, box: Sandbox, log: Log) -> dict[str, EngineStep]:
    steps: dict[str, EngineStep] = {}

    def engine(kind: str, flags: Sequence[str]) -> EngineStep:
        return run_engine(
            kind,
            workdir=plan.workdir,
            rules=plan.rules,
            disable=plan.disable,
            flags=flags,
            packages=plan.packages,
            report_file=box.scratch / f"report-{kind}.json",
            box=box,
            log=log,
        )

    if plan.build:
        with log.group("Instrumented go build"):
            steps["build"] = engine("build", checking_build_flags(plan.build_flags))
    build_ok = "build" not in steps or steps["build"].exit_code == 0
    if plan.test and build_ok:
        with log.group("Instrumented go test"):
            steps["test"] = engine("test", plan.test_flags)
    elif plan.test:
        log.line("Tests skipped: the instrumented build failed.")
    return steps


def checking_build_flags(flags: Sequence[str]) -> list[str]:
    """The build step's flags: it checks that the instrumented program builds and keeps nothing.

    Without the user's own -o, `go build` of one main package would write the executable into
    the checkout, which must stay untouched: -o /dev/null (fine for any set of packages). A
    binary nobody keeps needs no debug information, which is a third of the link of a program
    carrying the SDK: linked with -s -w, as the go command itself links `go run` and `go test`
    binaries. Not when the user passes -ldflags (anywhere: theirs would replace ours)."""
    given = [*flags, *os.environ.get("GOFLAGS", "").split()]
    if any(_is_flag(f, "o") for f in flags):
        return list(flags)
    strip = [] if any(_is_flag(f, "ldflags") for f in given) else ["-ldflags=-s -w"]
    return ["-o", os.devnull, *strip, *flags]


def _is_flag(arg: str, name: str) -> bool:
    return arg in (f"-{name}", f"--{name}") or arg.startswith((f"-{name}=", f"--{name}="))


def step_report(ctx: Context, plan: Plan, steps: dict[str, EngineStep], go_version: str) -> Report:
    """One report from the engine's build and test reports, with the steps it did not reach."""
    report = combine(
        steps["build"].report if "build" in steps else None,
        steps["test"].report if "test" in steps else None,
    )
    if report is None:
        report = Report(root=rel_to(plan.workdir, ctx.workspace), go_version=go_version)
    for kind, step in steps.items():
        if step.report is None or getattr(step.report, kind) is None:
            # the engine stopped before Go ran (a user error, a bad rule): keep its message
            setattr(report, kind, failed_step(step))
    if plan.test and "test" not in steps:
        report.test = StepOutcome(
            command=["go", "test"], status="skipped", exit_code=0, duration_s=0.0
        )
    if not report.modules:
        report.modules = [ModuleInfo(path="", dir=rel_to(plan.workdir, ctx.workspace))]
    return report


def release(
    ctx: Context,
    inputs: Inputs,
    plan: Plan,
    box: Sandbox,
    report: Report,
    log: Log,
    *,
    skip: bool,
) -> list[str]:
    """Release binaries (built in the sandbox, copied into output_dir/bin); ["release"] when
    one failed."""
    with log.group("Release binaries"):
        if skip:
            log.line("Release builds skipped: the instrumented build or tests failed.")
            return []
        result = rel.build_release(
            workdir=plan.workdir,
            targets=plan.targets,
            output_dir=plan.out_dir / "bin",
            packages=split_list(inputs["packages"]),
            rules=plan.rules,
            disable=plan.disable,
            build_flags=plan.build_flags,
            env=box.env,
            display_root=ctx.workspace,
            log=log.untrusted,
            stage=box.scratch,
            run=box.run,
        )
        report.binaries = result.binaries
        log.untrusted(f"Checksums: {rel_to(result.checksums, ctx.workspace)}")
        for item in result.failed:
            log.error(f"Release build of {item} failed.")
        return ["release"] if result.failed else []


def failure_message(step: EngineStep) -> str:
    if step.report is not None:
        return f"The instrumented go {step.kind} failed (exit {step.exit_code})."
    last = next((ln for ln in reversed(step.tail.splitlines()) if ln.strip()), "")
    if last:
        return f"otel-go-autoinst {step.kind} failed: {last}"
    return f"otel-go-autoinst {step.kind} failed (exit {step.exit_code})."
