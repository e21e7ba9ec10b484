"""Command line: plan, build, test, diff.

`build` and `test` take the flags `go build` / `go test` take and exit with Go's status. A user
mistake is one sentence on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import EXIT_INTERRUPTED, EXIT_OURS, UserError

if TYPE_CHECKING:
    from .report import Report

EXIT_STATUS = """\
exit status:
  0    success
  1    the go command's own status for the same input: no go.mod, a package that does not load,
       a Go syntax error; build and test exit with the status of `go build` / `go test`
  2    otel-go-autoinst's own errors: usage (an unknown command or flag, a flag without its
       value), rule files, hooks that do not match their targets, a --report or --json path
       that cannot be written (the go command also exits 2 for a flag it rejects)
  130  interrupted (Ctrl-C)
"""

COMMON_FLAGS = """\
  -C DIR          the Go module (or workspace) to work on (default: the current directory)
  --rules PATH    a rule file or a folder of rule files (repeatable)
  --disable NAME  switch a built-in rule set off (repeatable, or comma-separated)
  --keep-work     keep the per-run build directory and print where it is
  --no-upgrade    refuse, rather than report, a dependency version the hooks would raise
  -h, --help      print this help
"""

COMMANDS = {
    "plan": (
        "[-C DIR] [--rules PATH]... [--disable NAME]... [--json FILE] [-tags TAGS] [PACKAGES]",
        "List the functions the rules instrument (file:line, function, rule sets, optimization),\n"
        "without compiling anything.",
        "  --json FILE     write the plan as report JSON there (checked before any work)\n",
    ),
    "build": (
        "[-C DIR] [--rules PATH]... [--disable NAME]... [--report FILE] [go build flags] [PACKAGES]",
        "Build the packages as `go build` does, with the rules' hooks compiled in; the user's\n"
        "files are never written. Takes the flags `go build` takes and exits with its status.",
        "  --report FILE   write the report JSON there (checked before any work)\n",
    ),
    "test": (
        "[-C DIR] [--rules PATH]... [--disable NAME]... [--report FILE] [go test flags] [PACKAGES] [-args ...]",
        "Test the packages as `go test` does, with the rules' hooks compiled in. Takes the flags\n"
        "`go test` takes and exits with its status.",
        "  --report FILE   write the report JSON there (checked before any work)\n",
    ),
    "diff": (
        "[-C DIR] [--rules PATH]... [--disable NAME]... [-tags TAGS] [PACKAGES]",
        "Print the rewrite as a unified diff (changed files and the generated ones).",
        "",
    ),
}


def command_usage(verb: str) -> str:
    """The help of one subcommand."""
    synopsis, what, own = COMMANDS[verb]
    return (
        f"usage: otel-go-autoinst {verb} {synopsis}\n\n{what}\n\n{COMMON_FLAGS}{own}\n{EXIT_STATUS}"
    )


USAGE = (
    "usage: otel-go-autoinst <command> [arguments]\n\n"
    "Compile-time OpenTelemetry auto-instrumentation for Go.\n\ncommands:\n"
    + "".join(f"  otel-go-autoinst {verb:<5} {COMMANDS[verb][0]}\n" for verb in COMMANDS)
    + "  otel-go-autoinst action [...]   (the GitHub Action's entrypoint)\n"
    "  otel-go-autoinst version         print the version (also --version)\n"
    "  otel-go-autoinst help COMMAND    the help of one command (also COMMAND --help)\n\n"
    + COMMON_FLAGS
    + "  --report FILE   (build, test) write the report JSON there\n"
    "  --json FILE     (plan) write the plan as report JSON there\n\n" + EXIT_STATUS
)


# go build / go test flags that take a value (the rest are booleans).
GO_VALUE_FLAGS = {
    "o", "p", "asmflags", "buildmode", "compiler", "gccgoflags", "gcflags", "installsuffix", "ldflags",
    "mod", "pgo", "pkgdir", "tags", "toolexec", "coverpkg", "covermode", "exec", "vet", "run", "skip",
    "bench", "benchtime", "count", "cpu", "parallel", "timeout", "coverprofile", "cpuprofile",
    "memprofile", "memprofilerate", "blockprofile", "blockprofilerate", "mutexprofile",
    "mutexprofilefraction", "outputdir", "trace", "shuffle", "fuzz", "fuzztime", "fuzzminimizetime",
    "list", "reflect",
}  # fmt: skip
GO_BOOL_FLAGS = {
    "a", "n", "x", "v", "work", "race", "msan", "asan", "cover", "trimpath", "linkshared",
    "modcacherw", "buildvcs", "json", "i", "c", "benchmem", "failfast", "short", "fullpath",
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
    no_upgrade: bool = False
    go_flags: list[str] = field(default_factory=list)
    gcflags: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    binary_args: list[str] = field(default_factory=list)  # after -args, for the test binary


class Done(Exception):
    """Not an error: a text to print (help, version) and the status to exit with."""

    def __init__(self, text: str, *, stdout: bool = True, exit_code: int = 0) -> None:
        super().__init__(text)
        self.text, self.stdout, self.exit_code = text, stdout, exit_code


def parse_args(argv: Sequence[str]) -> Args:
    if not argv:
        raise Done(USAGE, stdout=False, exit_code=EXIT_OURS)
    if argv[0] in ("-h", "--help"):
        raise Done(USAGE)
    if argv[0] in ("--version", "version"):
        raise Done(f"otel-go-autoinst {__version__}\n")
    if argv[0] == "help":
        if len(argv) == 1:
            raise Done(USAGE)
        if argv[1] not in COMMANDS:
            raise UserError(
                f"Unknown command {argv[1]!r}: use plan, build, test or diff (see --help)."
            )
        raise Done(command_usage(argv[1]))
    verb, rest = argv[0], list(argv[1:])
    if verb not in COMMANDS:
        raise UserError(f"Unknown command {verb!r}: use plan, build, test or diff (see --help).")
    args = Args(verb)
    i = 0
    while i < len(rest):
        token = rest[i]
        name, eq, value = token.partition("=")
        if token in ("-h", "--help", "-help"):
            raise Done(command_usage(verb))
        if name in OURS_WITH_VALUE:
            if not eq:
                if i + 1 >= len(rest):
                    raise UserError(f"{name} needs a value.")
                i += 1
                value = rest[i]
            _ours(args, name, value)
        elif token == "--keep-work":
            args.keep_work = True
        elif token == "--no-upgrade":
            args.no_upgrade = True
        elif token in ("-args", "--args") and verb == "test":
            args.binary_args = rest[i + 1 :]
            break
        elif token.startswith("-"):
            flag = name.lstrip("-")
            if flag in ("overlay", "modfile"):
                raise UserError(
                    f"-{flag} cannot be used: otel-go-autoinst passes its own to the go command."
                )
            if verb in ("plan", "diff") and flag not in GO_VALUE_FLAGS | GO_BOOL_FLAGS:
                raise UserError(
                    f"Unknown flag {name} for {verb} (see otel-go-autoinst {verb} --help)."
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
    if verb != "plan" and args.json is not None:
        raise UserError(f"--json is a flag of plan; {verb} writes its report with --report.")
    if verb == "plan" and args.report is not None and args.json is None:
        args.json, args.report = args.report, None  # the plan's report is its JSON
    if verb == "diff" and (args.report or args.json) is not None:
        raise UserError("diff writes no report: use plan --json FILE or build --report FILE.")
    for flag, path in (("--report", args.report), ("--json", args.json)):
        if path is not None:
            check_writable(path, flag)
    return args


def check_writable(path: Path, flag: str) -> None:
    """Fail now, before any work, when the report cannot be written to `path`; leaves nothing
    behind. Missing parent folders are created at the end, when their nearest existing folder is
    writable."""
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a directory; give a file name.")
    try:
        if path.exists():
            with path.open("ab"):
                pass  # opened for appending and closed: nothing written
            return
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise UserError(f"{flag} {path}: {parent} is not a directory.")
        if parent == path.parent:
            with path.open("xb"):
                pass
            path.unlink()
        else:
            tempfile.TemporaryDirectory(dir=parent).cleanup()
    except OSError as error:
        raise UserError(f"{flag} {path}: cannot be written ({error.strerror or error}).") from None


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


def _summary(report: Report) -> str:
    total = len(report.instrumented)
    inlined = sum(1 for f in report.instrumented if f.inlined)
    packages = len({f.package for f in report.instrumented})
    line = f"otel-go-autoinst: instrumented {total} function(s) in {packages} package(s)"
    if report.build is None and report.test is None:
        return line  # plan: nothing was compiled, so nothing is known of inlining
    return f"{line}, {inlined} trampoline call(s) inlined"


def run(args: Args) -> int:
    from . import cache

    status = _run(args)
    cache.trim()  # after the work (never delaying the build), at most once a day
    return status


def _run(args: Args) -> int:
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
        no_upgrade=args.no_upgrade,
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
        _print_dependency_changes(report)
        print(_summary(report), file=sys.stderr)
        return 0 if args.json is None or _write(report, args.json, "--json") else EXIT_OURS
    report, status = engine.run_go(opts, args.verb)
    for warning in report.warnings:
        print(f"otel-go-autoinst: warning: {warning}", file=sys.stderr)
    _print_dependency_changes(report)
    print(_summary(report), file=sys.stderr)
    if args.report is not None and not _write(report, args.report, "--report"):
        return status or EXIT_OURS  # go's own failure says more than ours
    return status


def _print_dependency_changes(report: Report) -> None:
    if report.dependency_changes:
        changed = ", ".join(
            f"{c.module} {c.plain} -> {c.instrumented}" for c in report.dependency_changes
        )
        print(
            f"otel-go-autoinst: the hooks' requirements changed {len(report.dependency_changes)} "
            f"dependency version(s) in the instrumented build: {changed}",
            file=sys.stderr,
        )


def _write(report: Report, path: Path, flag: str) -> bool:
    """Write the report; a failure (checked before the work, but the disk may have changed) is
    one sentence on stderr, never a traceback."""
    try:
        report.write(path)
    except OSError as error:
        print(
            f"otel-go-autoinst: {flag} {path}: the report could not be written "
            f"({error.strerror or error}).",
            file=sys.stderr,
        )
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "action":
        from entrypoint import main as action_main  # the Action's container (entrypoint/)

        return action_main(argv[1:])
    try:
        return run(parse_args(argv))
    except Done as done:
        (sys.stdout if done.stdout else sys.stderr).write(done.text)
        return done.exit_code
    except UserError as error:
        print(f"otel-go-autoinst: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("otel-go-autoinst: interrupted; the build directory was removed.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
