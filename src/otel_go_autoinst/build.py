"""Build: the real `go build` / `go test` over the rewritten sources, through -overlay.

The user's tree is never written. A per-run directory outside it holds a private go.work (the user's
module(s) plus the rules module that holds the hooks and the OpenTelemetry SDK), the rewritten and
added files, and the overlay that maps them onto the user's, the module cache's and GOROOT's paths.
Go's build cache keeps working: nothing forces -a, and unchanged inputs hash the same.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import cache
from .detect import Package, Project, go_version_tuple
from .plan import RULES_MODULE, Plan
from .report import Diagnostic
from .rewrite import Rewrite

# Lines of -gcflags=-m output: kept for the report, never shown to the user.
_OPTIMIZER_NOTE = re.compile(
    r"^(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?P<col>\d+): "
    r"(?P<msg>(can inline|cannot inline|inlining call to|leaking param|.* does not escape|"
    r".* escapes to heap|moved to heap|devirtualizing|parameter .* leaks to|leaking closure|"
    r"zero-copy|mark escaped|.* captured by a closure|.*stack-allocated).*)$"
)
# Other informational lines the compiler prints under -m.
_BENIGN = re.compile(
    r": (index bounds check elided|.* ignoring self-assignment|.*inlining call to)"
)
_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<msg>.*)$"
)


@dataclass
class Workspace:
    dir: Path
    env: dict[str, str]
    project: Project
    # Where the go command may name an overlay file by its stored copy: stored -> the path it stands for.
    stored_paths: dict[str, str] = field(default_factory=dict)
    # Dependency modules with targets: module cache dir -> the copy the build uses instead.
    module_copies: dict[Path, Path] = field(default_factory=dict)

    def build_path(self, path: Path) -> Path:
        """Where the go command sees a file: its module's copy for a dependency with targets."""
        for cached, copy in self.module_copies.items():
            if path.is_relative_to(cached):
                return copy / path.relative_to(cached)
        return path

    def use_module_copies(self, packages: Iterable[Package]) -> None:
        """The go command refuses overlays of files in the module cache: a dependency module with
        targets is copied to a stable place (stable, so Go's build cache keeps its keys) and the
        private go.work replaces the module with that copy. The copy is checked against go.sum
        before every use (cache.verified_copy): one that does not match is made again."""
        replaces = []
        gomodcache = self.project.env.gomodcache
        workspace = self.project.workspace
        sum_files = cache.go_sum_files(
            self.gowork, [m.dir for m in self.project.modules],
            workspace.parent if workspace is not None else None,
        )  # fmt: skip
        # A module the user replaces (say by a fork) is replaced by the copy at whatever version
        # is selected: a versioned line would not match the required version and be ignored.
        replaced = cache.replaced_modules(
            [m.dir / "go.mod" for m in self.project.modules]
            + ([workspace] if workspace is not None else [])
        )
        for pkg in packages:
            if pkg.standard or not pkg.module_version or pkg.module_dir is None:
                continue
            if pkg.module_dir in self.module_copies or not pkg.module_dir.is_relative_to(
                gomodcache
            ):
                continue
            module, version = pkg.module_path or "", pkg.module_version
            expected = cache.expected_hashes(module, version, pkg.module_dir, gomodcache, sum_files)
            name = cache.copy_name(module, version)
            try:
                copy = _copy_once(pkg.module_dir, _cache_dir("modules") / name, module, version,
                                  expected)  # fmt: skip
            except OSError:  # no writable cache: a copy for this run only (Go recompiles it)
                copy = _copy_once(pkg.module_dir, self.dir / "modules" / name, module, version,
                                  expected)  # fmt: skip
            self.module_copies[pkg.module_dir] = copy
            pinned = "" if module in replaced else f" {version}"
            replaces.append(f"replace {module}{pinned} => {copy}")
        if replaces:
            with self.gowork.open("a", encoding="utf-8") as gowork:
                gowork.write("\n".join(replaces) + "\n")

    def use(self, modules: Iterable[Path]) -> None:
        """Add modules to the private go.work."""
        with self.gowork.open("a", encoding="utf-8") as gowork:
            gowork.write("".join(f"use {m}\n" for m in modules))

    @property
    def gowork(self) -> Path:
        return self.dir / "go.work"


@contextmanager
def workspace(project: Project, rules_dir: Path, keep: bool = False) -> Iterator[Workspace]:
    """A private go.work in a fresh directory, removed afterwards whatever happens."""
    run_dir = Path(tempfile.mkdtemp(prefix="otel-go-autoinst-"))
    try:
        uses = [m.dir for m in project.modules]
        if rules_dir.resolve() not in [u.resolve() for u in uses]:
            uses.append(rules_dir)
        versions = [m.go for m in project.modules if m.go] + [_module_go(rules_dir)]
        # "1.23.0" is newer than "1.23" to the go command: at equal numbers, the longer spelling.
        go_line = max(
            (v for v in versions if v), key=lambda v: (go_version_tuple(v), len(v)), default="1.23"
        )
        # The go line of a workspace must be at least every module's, and it sets the default
        # GODEBUG: keep the plain build's, spelled out (default=go1.N, then the user's own lines).
        base_go, godebug = project.semantics
        lines = [f"go {go_line}", "", "godebug ("]
        lines += [f"\t{setting}" for setting in (f"default=go{base_go}", *godebug)]
        lines += [")", "", "use ("] + [f"\t{u.resolve()}" for u in uses] + [")"]
        lines += [f"replace {r}" for r in project.replaces]
        (run_dir / "go.work").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if project.workspace is not None and (project.workspace.parent / "go.work.sum").exists():
            shutil.copy(project.workspace.parent / "go.work.sum", run_dir / "go.work.sum")
        env = dict(os.environ)
        env["GOWORK"] = str(run_dir / "go.work")
        # The toolchain the user runs is the one we measure and report; -mod/-modfile don't mix
        # with a workspace.
        flags = [
            f for f in env.get("GOFLAGS", "").split() if not f.startswith(("-mod=", "-modfile="))
        ]
        env["GOFLAGS"] = " ".join(flags)
        yield Workspace(run_dir, env, project)
    finally:
        if keep:
            print(f"otel-go-autoinst: build directory kept at {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def _copy_once(source: Path, copy: Path, module: str, version: str, expected: set[str]) -> Path:
    """`copy` of the module directory `source`, made whole or not at all (runs may race to make
    it) and matching one of the `expected` h1: hashes."""
    return cache.verified_copy(source, copy, module, version, expected)


def _mkdirs(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _module_go(module_dir: Path) -> str | None:
    match = re.search(r"^go\s+(\S+)", (module_dir / "go.mod").read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


def write_overlay(ws: Workspace, rewrite: Rewrite, extra: Mapping[Path, bytes], name: str) -> Path:
    """Write the new sources into the run directory and the overlay file that maps them."""
    files_dir = ws.dir / name
    files_dir.mkdir(exist_ok=True)
    replace: dict[str, str] = {}
    for index, (path, content) in enumerate(
        sorted({**rewrite.changed, **rewrite.added, **extra}.items())
    ):
        stored = files_dir / f"{index}_{path.name}"
        stored.write_bytes(content)
        replace[str(ws.build_path(path))] = str(stored)
    overlay = ws.dir / f"{name}.json"
    overlay.write_text(json.dumps({"Replace": replace}, indent=1), encoding="utf-8")
    ws.stored_paths.update({stored: path for path, stored in replace.items()})
    return overlay


# Linked into every test binary: gives it, and what it starts, the user's GOWORK and GOFLAGS.
USER_ENV_PACKAGE = f"{RULES_MODULE}/userenv"
USER_ENV = "OTEL_GO_AUTOINST_USER_ENV"  # userenv.Saved
_USER_ENV_NAMES = ("GOWORK", "GOFLAGS")


def saved_user_env(environ: Mapping[str, str]) -> str:
    """The value of USER_ENV that puts back the user's GOWORK and GOFLAGS in a test binary:
    "NAME" when unset, NAME=<Go-quoted value> when set (JSON's escapes are Go's)."""
    return "\n".join(
        name if name not in environ else f"{name}={json.dumps(environ[name], ensure_ascii=False)}"
        for name in _USER_ENV_NAMES
    )


def link_files(
    plan: Plan, packages: Sequence[Package], hooks: Mapping[str, Package], test: bool
) -> dict[Path, bytes]:
    """Blank imports that link the hooks into every program and test binary that needs them,
    and USER_ENV_PACKAGE into every test binary.

    A binary needs the hooks of every instrumented package it links, whatever brought that package
    in: its own imports, or the hooks themselves (the SDK that the hooks import links net/http, say,
    into a test binary whose package never imports it)."""
    hooks_of: dict[str, set[str]] = defaultdict(set)
    for target in plan.targets:
        for app in target.applications:
            for hook in (app.on_enter, app.on_exit):
                if hook is not None:
                    hooks_of[target.package.import_path].add(hook.package)
    by_path = {p.import_path: p for p in packages if not p.for_test}
    files: dict[Path, bytes] = {}
    for pkg in packages:
        if pkg.for_test:
            continue
        linked = [dep.split(" ")[0] for dep in [*pkg.deps, pkg.import_path]]
        if test and pkg.import_path.endswith(".test") and pkg.is_command:
            tested = by_path.get(pkg.import_path.removesuffix(".test"))
            # A package may have only _test.go files: its test binary links the hooks all the same.
            if tested is None or not tested.name:
                continue
            name, package, directory = "zz_otel_link_test.go", f"{tested.name}_test", tested.dir
            # A hooks package's own tests too: they link instrumented packages (os, say) like any.
            needed = {USER_ENV_PACKAGE, *_hooks_linked(linked, hooks_of, hooks)}
        elif pkg.is_command and not pkg.import_path.endswith(".test") and pkg.go_files:
            name, package, directory = "zz_otel_link.go", "main", pkg.dir
            needed = _hooks_linked(linked, hooks_of, hooks)
        else:
            continue
        if needed:
            imports = "".join(f'\t_ "{h}"\n' for h in sorted(needed))
            files[directory / name] = (
                f"// Code generated by otel-go-autoinst. DO NOT EDIT.\n\npackage {package}\n\n"
                f"import (\n{imports})\n"
            ).encode()
    return files


def _hooks_linked(
    linked: Iterable[str], hooks_of: Mapping[str, set[str]], hooks: Mapping[str, Package]
) -> set[str]:
    """The hooks packages a binary that links `linked` needs: those of its instrumented packages,
    then those of the instrumented packages the hooks packages link in turn, to a fixed point."""
    needed: set[str] = set()
    pending = list(linked)
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for hook_pkg in hooks_of.get(path, ()):
            if hook_pkg not in needed:
                needed.add(hook_pkg)
                listed = hooks.get(hook_pkg)
                pending.extend(listed.deps if listed is not None else ())
    return needed


# -- running go ------------------------------------------------------------------------------


@dataclass
class GoRun:
    exit_code: int
    notes: dict[tuple[str, int], list[str]] = field(
        default_factory=dict
    )  # (abs file, line) -> -m notes
    diagnostics: list[Diagnostic] = field(default_factory=list)
    output: str = ""  # what was shown to the user (stderr less the optimizer's notes)


def run_go_streaming(
    ws: Workspace,
    args: Sequence[str],
    quiet: Collection[str] = (),
    *,
    show: bool = True,
    known: Collection[Path] = (),
) -> GoRun:
    """Run go and show its output. Compiler output of the `quiet` packages (compiled with -m) is
    kept for the report and shown only when the build fails, less the optimizer's notes.

    Go replays the output of a compile it finds in its cache as printed then: relative to the
    directory that build ran in, not this one. A note whose file does not exist here goes to the
    one `known` file (the files whose notes are read) its path ends with.

    `go test` prints compiler output on stdout, among the tests' own: there both streams are read
    as one, and shown on stdout."""
    merged = args[0] == "test"
    sink = sys.stdout if merged else sys.stderr
    cwd, env = ws.project.root, ws.env
    # The go command may name a stored copy absolutely or relative to the directory it runs in.
    spellings = {**ws.stored_paths}
    spellings.update({os.path.relpath(copy, cwd): path for copy, path in ws.stored_paths.items()})
    stored = sorted(spellings.items(), key=lambda kv: -len(kv[0]))

    run_dir = ws.dir.name  # in every spelling of a stored copy

    def original(line: str) -> str:
        if run_dir not in line:
            return line
        for copy, path in stored:
            if copy in line:
                line = line.replace(copy, path)
        return line

    @functools.cache
    def absolute(file: str) -> str:
        path = (cwd / file).resolve()
        if path.exists() or not known:
            return str(path)
        tail = "".join(f"/{part}" for part in Path(file).parts if part not in ("..", "."))
        matches = {str(k) for k in known if str(k).endswith(tail)}
        return matches.pop() if len(matches) == 1 else str(path)

    proc = subprocess.Popen(
        ["go", *args], cwd=cwd, env=dict(env),
        stdout=subprocess.PIPE if merged else (None if show else subprocess.DEVNULL),
        stderr=subprocess.STDOUT if merged else subprocess.PIPE, text=True,
    )  # fmt: skip
    run = GoRun(exit_code=0)
    shown: list[str] = []
    held: list[str] = []  # lines of quiet sections that are not notes
    in_quiet = False
    try:
        stream = proc.stdout if merged else proc.stderr
        assert stream is not None
        for raw in stream:
            line = original(raw.rstrip("\n"))
            if line.startswith("# "):
                # "pkg", "pkg [pkg.test]", and the test main "pkg.test", compiled with pkg's flags.
                in_quiet = (
                    line[2:].split(" ")[0].removesuffix(".test").removesuffix("_test") in quiet
                )
                (held if in_quiet else shown).append(line)
                if show and not in_quiet:
                    print(line, file=sink, flush=True)
                continue
            note = optimizer_note(line)
            if note:
                run.notes.setdefault((absolute(note[0]), note[1]), []).append(note[2])
                continue
            if in_quiet and (
                _DIAGNOSTIC.match(line) or line.startswith(("<autogenerated>", " ", "\t"))
            ):
                if not line.startswith("<autogenerated>") and not _BENIGN.search(line):
                    held.append(line)
                continue
            in_quiet = False  # not compiler output: the tests' own, say
            shown.append(line)
            if show:
                print(line, file=sink, flush=True)
        proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    run.exit_code = proc.returncode
    if run.exit_code != 0:
        # A section's header is worth showing only with an error under it.
        errors = [line for i, line in enumerate(held) if not line.startswith("# ") or (
            i + 1 < len(held) and not held[i + 1].startswith("# "))]  # fmt: skip
        shown.extend(errors)
        if show and errors:
            print("\n".join(errors), file=sink, flush=True)
    run.output = "\n".join(shown)
    for line in shown:
        match = _DIAGNOSTIC.match(line)
        if match:
            run.diagnostics.append(
                Diagnostic(
                    absolute(match["file"]),
                    int(match["line"]),
                    int(match["col"] or 0),
                    match["msg"],
                )
            )
    return run


def optimizer_note(line: str) -> tuple[str, int, str] | None:
    """(file as printed, line, message) of a line of the compiler's -m output."""
    note = _OPTIMIZER_NOTE.match(line)
    return (note["file"], int(note["line"]), note["msg"]) if note else None


# The go command's build flags that change how a package compiles, hence its key in Go's build
# cache (the others name outputs, select tests, or only print).
_COMPILE_VALUE_FLAGS = {
    "tags", "asmflags", "buildmode", "compiler", "gccgoflags", "installsuffix", "mod", "pgo",
    "toolexec", "p",
}  # fmt: skip
_COMPILE_BOOL_FLAGS = {"race", "msan", "asan", "trimpath", "linkshared", "modcacherw"}


def compile_flags(go_flags: Sequence[str]) -> list[str]:
    """The flags among `go_flags` that change what compiles ("-name=value" or "-name value")."""
    out: list[str] = []
    flags = iter(go_flags)
    for flag in flags:
        name, eq, _ = flag.lstrip("-").partition("=")
        if not flag.startswith("-"):
            continue
        if name in _COMPILE_BOOL_FLAGS or (name in _COMPILE_VALUE_FLAGS and eq):
            out.append(flag)
        elif name in _COMPILE_VALUE_FLAGS:
            out += [flag, next(flags, "")]
    return out


def gcflags_for(packages: Sequence[str], user_flags: Sequence[str], extra: str = "-m") -> list[str]:
    """-gcflags that add `extra` for the given packages and keep the user's own -gcflags for them."""
    user: list[tuple[str | None, str]] = []
    for value in user_flags:
        pattern, sep, rest = value.partition("=")
        if sep and pattern and not pattern.startswith("-"):
            user.append((pattern, rest))
        else:
            user.append((None, value))
    out = [f"-gcflags={v}" for v in user_flags]
    for pkg in packages:
        theirs = ""
        for scope, flags in user:
            if scope in ("all", pkg) or (
                scope and scope.endswith("/...") and pkg.startswith(scope[:-4])
            ):
                theirs = flags
        out.append(f"-gcflags={pkg}={(theirs + ' ' + extra).strip()}")
    return out


def _cache_dir(name: str) -> Path:
    return cache.cache_dir(name)


def used_dirs(gowork: Path) -> list[str]:
    """The directories a go.work uses, in its `use ( ... )` block and `use DIR` lines."""
    text = gowork.read_text(encoding="utf-8")
    block = re.search(r"^use \($(.*?)^\)", text, re.M | re.S)
    return (block[1].split() if block else []) + re.findall(r"^use ([^(\s]\S*)$", text, re.M)
