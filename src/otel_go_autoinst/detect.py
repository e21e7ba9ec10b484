"""Detect: the Go toolchain, the module(s) of the project and every package of the build.

Everything comes from the real toolchain (`go env`, `go mod edit -json`, `go list -deps -json`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GoError, UserError

# The rules module (OpenTelemetry SDK) needs this Go; overlays of GOROOT files need 1.16+.
MIN_GO = (1, 23)


@dataclass(frozen=True)
class GoEnv:
    version: str  # "1.26.8"
    goroot: Path
    gomodcache: Path
    goos: str
    goarch: str
    gomod: str  # the go.mod of the directory ("" or /dev/null outside a module)
    gowork: str
    # What `go env` says (settings from `go env -w` included) but _VOLATILE_SETTINGS: what a kept
    # answer of the go command was computed under (reuse.py).
    settings: str = ""


@dataclass(frozen=True)
class Module:
    path: str
    dir: Path
    go: str | None
    toolchain: str | None
    godebug: tuple[str, ...] = ()  # its `godebug key=value` lines


@dataclass(frozen=True)
class Project:
    root: Path  # the directory given with -C (where go commands run)
    modules: tuple[Module, ...]
    workspace: Path | None  # the user's go.work, when there is one
    env: GoEnv
    replaces: tuple[
        str, ...
    ] = ()  # go.work replace directives, as "old => new" with absolute paths
    work_go: str | None = None  # the user's go.work `go` line
    work_godebug: tuple[str, ...] = ()  # the user's go.work `godebug` lines

    @property
    def semantics(self) -> tuple[str, tuple[str, ...]]:
        """The `go` version and `godebug` settings that decide the build's default GODEBUG: the
        go.work's in workspace mode, else the main module's (go 1.16 when it has no go line)."""
        if self.workspace is not None:
            return self.work_go or "1.18", self.work_godebug
        main = self.modules[0]
        return main.go or "1.16", main.godebug


@dataclass
class Package:
    import_path: str
    name: str
    dir: Path
    go_files: list[Path]
    standard: bool
    module_path: str | None
    module_version: str | None  # None for the user's own (workspace) modules
    module_dir: Path | None
    deps: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # direct, as resolved (test variants' too)
    for_test: str | None = None  # set on the test variants that `go list -test` reports
    has_tests: bool = False
    error: str | None = None

    @property
    def is_command(self) -> bool:
        return self.name == "main"


def go_version_tuple(version: str) -> tuple[int, ...]:
    numbers = re.match(r"(?:go)?(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not numbers:
        return (0, 0)
    return tuple(int(n) for n in numbers.groups(default="0"))


def run_go(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            ["go", *args], cwd=cwd, env=dict(env) if env is not None else None,
            capture_output=True, text=True,
        )  # fmt: skip
    except FileNotFoundError:
        raise UserError(
            f"The Go toolchain was not found on PATH: install Go {'.'.join(map(str, MIN_GO))} or newer."
        ) from None
    if check and proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()
        raise GoError(
            f"`go {' '.join(args[:2])}` failed in {cwd}: {detail[0] if detail else 'no output'}",
            proc.returncode,
        )
    return proc


# Settings that name where things are kept rather than what a build means (GOMODCACHE does
# count: package directories are in it), or that change on every call (GOGCCFLAGS names a
# temporary directory).
_VOLATILE_SETTINGS = frozenset({"GOGCCFLAGS", "GOENV", "GOCACHE", "GOPATH", "GOTELEMETRYDIR"})


def go_env(cwd: Path, env: Mapping[str, str] | None = None) -> GoEnv:
    if shutil.which("go", path=(env or os.environ).get("PATH")) is None:
        raise UserError(
            f"The Go toolchain was not found on PATH: install Go {'.'.join(map(str, MIN_GO))} or newer."
        )
    proc = run_go(["env", "-json"], cwd, env, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no output"])[0]
        raise GoError(f"`go env` failed in {cwd}: {first}")
    data = json.loads(proc.stdout)
    version = data.get("GOVERSION", "").removeprefix("go")
    if go_version_tuple(version)[:2] < MIN_GO:
        raise UserError(
            f"Go {version or 'of unknown version'} is too old: otel-go-autoinst needs Go "
            f"{'.'.join(map(str, MIN_GO))} or newer."
        )
    return GoEnv(
        version=version,
        goroot=Path(data["GOROOT"]),
        gomodcache=Path(data["GOMODCACHE"]),
        goos=data["GOOS"],
        goarch=data["GOARCH"],
        gomod=data.get("GOMOD", ""),
        gowork=data.get("GOWORK", ""),
        settings=json.dumps(
            {k: v for k, v in data.items() if k not in _VOLATILE_SETTINGS}, sort_keys=True
        ),
    )


def _read_module(gomod: Path, env: Mapping[str, str] | None) -> Module:
    data = json.loads(run_go(["mod", "edit", "-json", str(gomod)], gomod.parent, env).stdout)
    toolchain = data.get("Toolchain")
    return Module(
        path=data["Module"]["Path"],
        dir=gomod.parent,
        go=data.get("Go"),
        toolchain=toolchain.get("Name") if isinstance(toolchain, dict) else toolchain,
        godebug=tuple(f"{d['Key']}={d['Value']}" for d in data.get("GoDebug") or []),
    )


_GODEBUG_LINE = re.compile(r"^\s*godebug\s+(?:\(\s*\n(?P<block>.*?)^\s*\)|(?P<one>\S+))", re.M | re.S)


def _work_godebug(work: Path) -> tuple[str, ...]:
    """The go.work's godebug settings (`go work edit -json` leaves them out)."""
    text = re.sub(r"//.*", "", work.read_text(encoding="utf-8"))
    found: list[str] = []
    for match in _GODEBUG_LINE.finditer(text):
        found += match["one"].split() if match["one"] else match["block"].split()
    return tuple(found)


def detect_project(root: Path, env: Mapping[str, str] | None = None) -> Project:
    """The module(s) of the directory given with -C, as the go command itself sees them."""
    root = root.resolve()
    if not root.is_dir():
        raise UserError(f"{root} is not a directory.")
    goenv = go_env(root, env)
    if goenv.gowork and goenv.gowork != "off":
        work = Path(goenv.gowork)
        data = json.loads(run_go(["work", "edit", "-json", str(work)], work.parent, env).stdout)
        modules = tuple(
            _read_module((work.parent / use["DiskPath"]).resolve() / "go.mod", env)
            for use in data.get("Use") or []
        )
        replaces = tuple(_replace_line(r, work.parent) for r in data.get("Replace") or [])
        return Project(
            root, modules, work, goenv, replaces, data.get("Go"), _work_godebug(work)
        )
    if not goenv.gomod or goenv.gomod == os.devnull:
        raise GoError(
            f"No go.mod found in {root} or any parent directory: run otel-go-autoinst in a Go module "
            "(or pass -C DIR)."
        )
    return Project(root, (_read_module(Path(goenv.gomod), env),), None, goenv)


def _replace_line(replace: dict[str, dict[str, str]], base: Path) -> str:
    old, new = replace["Old"], replace["New"]
    old_text = old["Path"] + (f" {old['Version']}" if old.get("Version") else "")
    if new.get("Version"):
        return f"{old_text} => {new['Path']} {new['Version']}"
    return f"{old_text} => {(base / new['Path']).resolve()}"


def list_packages(
    cwd: Path,
    patterns: Sequence[str],
    env: Mapping[str, str],
    *,
    test: bool = False,
    deps: bool = True,
    flags: Sequence[str] = (),
) -> list[Package]:
    """Every package of the build of `patterns` (with -test: the test variants and test mains)."""
    args = ["list", "-e", "-json", *(["-deps"] if deps else []), *flags]
    if test:
        args.append("-test")
    proc = run_go([*args, "--", *patterns], cwd, env, check=False)
    if proc.returncode != 0 and not proc.stdout:
        first = (proc.stderr.strip().splitlines() or ["no output"])[0]
        raise GoError(f"`go list` could not load {' '.join(patterns) or '.'}: {first}")
    return [_package(raw) for raw in _json_stream(proc.stdout)]


def _json_stream(text: str) -> list[dict[str, object]]:
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)
    return out


def _package(raw: dict) -> Package:  # type: ignore[type-arg]
    directory = Path(raw.get("Dir", ""))
    module = raw.get("Module") or {}
    replace = module.get("Replace") or {}
    # A module replaced by a directory, or one of the workspace's, has no version of its own.
    version = (
        None
        if (module.get("Main") or (replace and not replace.get("Version")))
        else (replace.get("Version") or module.get("Version"))
    )
    error = raw.get("Error")
    return Package(
        import_path=raw["ImportPath"],
        name=raw.get("Name", ""),
        dir=directory,
        go_files=[directory / f for f in raw.get("GoFiles") or []],
        standard=bool(raw.get("Standard")),
        module_path=module.get("Path"),
        module_version=version,
        module_dir=Path(replace.get("Dir") or module["Dir"]) if module.get("Dir") else None,
        deps=list(raw.get("Deps") or []),
        imports=list(raw.get("Imports") or []),
        for_test=raw.get("ForTest"),
        has_tests=bool(raw.get("TestGoFiles") or raw.get("XTestGoFiles")),
        error=error.get("Err") if isinstance(error, dict) else None,
    )


def module_versions(
    cwd: Path, env: Mapping[str, str], flags: Sequence[str] = ()
) -> dict[str, str] | None:
    """The selected version of every module in the build list (`go list -m all`), a replacement
    spelled "=> path version"; None when the go command cannot say (vendor mode, say)."""
    template = "{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}"
    proc = run_go(["list", "-m", "-f", template, *flags, "all"], cwd, env, check=False)
    if proc.returncode != 0:
        return None
    versions: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        path, _, version = line.partition(" ")
        if version.strip():
            versions[path] = version.strip()
    return versions
