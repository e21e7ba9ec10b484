"""Command line: plan, build, test, diff.

`build` and `test` take the flags `go build` / `go test` take and exit with Go's status. A user
mistake is one sentence on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

USAGE = """\
usage: otel-go-autoinst plan  [-C DIR] [--rules PATH]... [--disable NAME]... [--json FILE] [PACKAGES]
       otel-go-autoinst build [-C DIR] [--rules PATH]... [--disable NAME]... [--report FILE] [go build flags] [PACKAGES]
       otel-go-autoinst test  [-C DIR] [--rules PATH]... [--disable NAME]... [--report FILE] [go test flags] [PACKAGES]
       otel-go-autoinst diff  [-C DIR] [--rules PATH]... [--disable NAME]... [PACKAGES]
       otel-go-autoinst action [...]   (the GitHub Action's entrypoint)

  -C DIR          the Go module (or workspace) to work on (default: the current directory)
  --rules PATH    a rule file or a folder of rule files (repeatable)
  --disable NAME  switch a built-in rule set off (repeatable)
  --report FILE   write the report JSON there
  --json FILE     (plan) write the plan as report JSON there
  --keep-work     keep the per-run build directory and print where it is
"""

# go build / go test flags that take a value (the rest are booleans).
GO_VALUE_FLAGS = {
    "o", "p", "asmflags", "buildmode", "compiler", "gccgoflags", "gcflags", "installsuffix", "ldflags",
    "mod", "pgo", "pkgdir", "tags", "toolexec", "coverpkg", "covermode", "exec", "vet", "run", "skip",
    "bench", "benchtime", "count", "cpu", "parallel", "timeout", "coverprofile", "cpuprofile",
    "memprofile", "memprofilerate", "blockprofile", "blockprofilerate", "mutexprofile",
    "mutexprofilefraction", "outputdir", "trace", "shuffle", "fuzz", "fuzztime", "fuzzminimizetime",
    "list", "reflect",
}  # fmt: skip
OURS_WITH_VALUE = {"-C", "--rules", "--disable", "--report", "--json"}


@dataclass
class Args:
    verb: str
    root: Path = Path(".")
    rules: list[Path] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    report: Path | None = None
    json: Path | None = None
    keep_work: bool = False
    go_flags: list[str] = field(default_factory=list)
    gcflags: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    binary_args: list[str] = field(default_factory=list)  # after -args, for the test binary


def parse_args(argv: Sequence[str]) -> Args:
    if not argv or argv[0] in ("-h", "--help", "help"):
        raise UserError(USAGE.rstrip(), exit_code=0 if argv else 2)
    verb, rest = argv[0], list(argv[1:])
    if verb not in ("plan", "build", "test", "diff"):
        raise UserError(f"Unknown command {verb!r}: use plan, build, test or diff (see --help).")
    args = Args(verb)
    i = 0
    while i < len(rest):
        token = rest[i]
        name, eq, value = token.partition("=")
        if token in ("-h", "--help"):
            raise UserError(USAGE.rstrip(), exit_code=0)
        if name in OURS_WITH_VALUE:
            if not eq:
                if i + 1 >= len(rest):
                    raise UserError(f"{name} needs a value.")
                i += 1
                value = rest[i]
            _ours(args, name, value)
        elif token == "--keep-work":
            args.keep_work = True
        elif token in ("-args", "--args"):
            args.binary_args = rest[i + 1 :]
            break
        elif token.startswith("-"):
            flag = name.lstrip("-")
            if flag in ("overlay", "modfile"):
                raise UserError(
                    f"-{flag} cannot be used: otel-go-autoinst passes its own to the go command."
                )
            if flag in GO_VALUE_FLAGS and not eq:
                if i + 1 >= len(rest):
                    raise UserError(f"{token} needs a value.")
                i += 1
                value, token = rest[i], f"{token}={rest[i]}"
            if flag == "gcflags":
                args.gcflags.append(value)
            else:
                args.go_flags.append(token)
        else:
            args.patterns.append(token)
        i += 1
    return args


def _ours(args: Args, name: str, value: str) -> None:
    if name == "-C":
        args.root = Path(value)
    elif name == "--rules":
        args.rules.append(Path(value))
    elif name == "--disable":
        args.disabled.extend(v for v in value.split(",") if v)
    elif name == "--report":
        args.report = Path(value)
    else:
        args.json = Path(value)


def _summary(report: object) -> str:
    from .report import Report

    assert isinstance(report, Report)
    total = len(report.instrumented)
    inlined = sum(1 for f in report.instrumented if f.inlined)
    packages = len({f.package for f in report.instrumented})
    line = f"otel-go-autoinst: instrumented {total} function(s) in {packages} package(s)"
    if report.build is None and report.test is None:
        return line  # plan: nothing was compiled, so nothing is known of inlining
    return f"{line}, {inlined} trampoline call(s) inlined"


def run(args: Args) -> int:
    from . import engine

    opts = engine.Options(
        root=args.root,
        rules=args.rules,
        disabled=args.disabled,
        go_flags=args.go_flags,
        gcflags=args.gcflags,
        patterns=args.patterns,
        binary_args=args.binary_args,
        keep_work=args.keep_work,
    )
    if args.verb == "diff":
        sys.stdout.write(engine.run_diff(opts))
        return 0
    if args.verb == "plan":
        report = engine.run_plan(opts)
        for f in report.instrumented:
            name = f"({f.receiver}).{f.function}" if f.receiver else f.function
            print(f"{f.file}:{f.line}\t{f.package}.{name}\t{','.join(f.rules)}\t{f.optimization}")
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if args.json:
            report.write(args.json)
        print(_summary(report), file=sys.stderr)
        return 0
    report, status = engine.run_go(opts, args.verb)
    for warning in report.warnings:
        print(f"otel-go-autoinst: warning: {warning}", file=sys.stderr)
    if args.report:
        report.write(args.report)
    print(_summary(report), file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "action":
        from .publish.action import main as action_main

        return action_main(argv[1:])
    try:
        return run(parse_args(argv))
    except UserError as error:
        print(f"otel-go-autoinst: {error}" if error.exit_code else str(error), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("otel-go-autoinst: interrupted; the build directory was removed.", file=sys.stderr)
        return 130
