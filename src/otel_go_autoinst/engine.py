"""The pipeline: detect -> plan -> rewrite -> build/test -> report. Side effects live here and in
build.py; the stages in between are plain functions over plain data."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, reuse
from .build import (
    USER_ENV,
    GoRun,
    Workspace,
    compile_flags,
    gcflags_for,
    link_files,
    run_go_streaming,
    saved_user_env,
    used_dirs,
    workspace,
    write_overlay,
)
from .detect import Package, Project, detect_project, list_packages, module_versions
from .errors import GoError, UserError
from .plan import API_PACKAGE, HOOKS_TAG, Plan, make_plan
from .report import (
    DependencyChange,
    Diagnostic,
    InstrumentedFunction,
    ModuleInfo,
    Report,
    RuleInfo,
    StepOutcome,
)
from .rewrite import Rewrite, rewrite
from .rules import RuleSet, builtin_rules_dir, load_rule_sets
from .vendor import (
    hooks_dependencies,
    merge,
    read_modules_txt,
    required_versions,
    vendor_mode,
    write_vendor,
)
from .verdicts import (
    Probe,
    Verdicts,
    escape_verdicts,
    hooks_of,
    learn,
    load_hints,
    load_verdicts,
    settle,
    store_verdicts,
    verdict_key,
)


@dataclass
class Options:
    root: Path = Path(".")
    rules: list[Path] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    go_flags: list[str] = field(default_factory=list)  # passed to go build / go test as given
    gcflags: list[str] = field(default_factory=list)  # the values of the user's -gcflags
    patterns: list[str] = field(default_factory=list)
    binary_args: list[str] = field(default_factory=list)  # after -args, for the test binary
    keep_work: bool = False
    no_upgrade: bool = False  # refuse to build when the hooks would raise a dependency version

    @property
    def list_flags(self) -> list[str]:
        """The flags that change which files a build has, for go list."""
        out, flags = [], self.go_flags
        for i, flag in enumerate(flags):
            if flag.startswith("-tags=") or flag.startswith("--tags="):
                out.append(flag)
            elif flag in ("-tags", "--tags") and i + 1 < len(flags):
                out += [flag, flags[i + 1]]
        return out


@dataclass
class Prepared:
    project: Project
    rule_sets: list[RuleSet]
    packages: list[Package]
    plan: Plan
    rewrite: Rewrite
    ws: Workspace
    repo_root: Path
    hooks: dict[str, Package]
    dependency_changes: list[DependencyChange] = field(default_factory=list)
    go_flags: list[str] = field(default_factory=list)  # the user's, as the workspace takes them
    # packages the plain `go test` cannot set up and the workspace's modules let build
    unprovided: list[str] = field(default_factory=list)


def _repo_root(path: Path) -> Path:
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else path


def shown_path(path: Path, prepared: Prepared) -> str:
    """Repository-relative for the user's files; GOROOT/... and GOMODCACHE/... otherwise."""
    env = prepared.project.env
    for base, label in (
        (prepared.repo_root, None),
        (env.goroot, "GOROOT"),
        (env.gomodcache, "GOMODCACHE"),
    ):
        try:
            rel = path.resolve().relative_to(base.resolve())
        except ValueError:
            continue
        return f"{label}/{rel}" if label else str(rel)
    return str(path)


def _check_buildable(
    packages: list[Package], opts: Options, project: Project, test: bool
) -> list[str]:
    """Packages that do not load. `go test` goes on with the others and marks those
    "[setup failed]", so a test run goes on too (what passes plainly must run) and says why, in
    the warnings returned; a build stops, saying whether the plain toolchain, asked the same
    question, fails too."""
    broken = [p for p in packages if p.error and not p.standard]
    if not broken:
        return []
    plain = list_packages(
        project.root, opts.patterns or ["."], os.environ, test=test, flags=opts.list_flags
    )
    plain_broken = {p.import_path for p in plain if p.error}
    said = []
    for pkg in broken:
        error = " ".join((pkg.error or "").split())
        if pkg.import_path in plain_broken:
            said.append(
                f"Package {pkg.import_path} does not load ({error}); the plain "
                f"`go {'test' if test else 'build'}` fails {'on it ' if test else ''}too."
            )
        else:
            said.append(
                f"Package {pkg.import_path} loads in the plain build but not in the instrumented "
                f"one ({error}): please report this as a bug of otel-go-autoinst."
            )
    if not test:
        if broken[0].import_path in plain_broken:
            raise GoError(said[0])
        raise UserError(said[0])
    return said


def _check_provided(
    packages: list[Package],
    plain: dict[str, str] | None,
    project: Project,
    test: bool,
    hooks: set[str],
) -> dict[str, str]:
    """Packages of yours that depend on a package no module of your build provides. The private
    workspace's modules (the hooks') can provide it, so such a package builds instrumented where
    the plain go command fails on it ("no required module provides package"): a build stops as
    the plain one would; a test run goes on, and gets back each such package with why."""
    if plain is None:  # vendor mode: the vendor merge checks the module graph
        return {}
    yours = {m.path for m in project.modules}
    provided = set(plain) | yours
    ours = API_PACKAGE.rsplit("/", 1)[0]  # hooks code without the tag: warned about elsewhere
    foreign = {
        p.import_path: p.module_path
        for p in packages
        if p.module_path
        and not p.standard
        and p.module_path not in provided
        and not (p.module_path == ours or p.module_path.startswith(ours + "/"))
    }
    # (a hooks package of yours builds only with the hooks' tag, where the workspace provides)
    own = [p for p in packages if p.module_path in yours and (p.for_test or p.import_path) not in hooks]
    # Only your packages' own imports count: a dependency the hooks raise may import a module your
    # build lacks (a reported version change), which the plain build does not need.
    direct = {
        p.import_path: missing
        for p in own
        if (missing := next((i for i in p.imports if i in foreign and not _tagged(p, i)), None))
        is not None
    }
    said: dict[str, str] = {}
    for pkg in own:
        name = pkg.for_test or pkg.import_path  # a test variant speaks for its package
        missing = direct.get(pkg.import_path) or next(
            (direct[d] for d in pkg.deps if d in direct), None
        )
        if missing is None or name in said or name.endswith(".test"):
            continue
        sentence = (
            f"Package {name} depends on {missing}, of module {foreign[missing]}, which your go.mod "
            f"does not require: the plain `go {'test' if test else 'build'}` fails on it (no "
            f"required module provides package); add it with `go get {foreign[missing]}`"
        )
        if not test:
            raise GoError(sentence + ".")
        said[name] = sentence + " (the instrumented run builds it with the hooks' modules)."
    return said


def _tagged(pkg: Package, imported: str) -> bool:
    """Whether every file of pkg that imports `imported` builds only with the hooks' tag (a
    helper of your hooks): the plain build leaves them out."""
    quoted = f'"{imported}"'
    files = [f for f in pkg.go_files if quoted in f.read_text(encoding="utf-8", errors="replace")]
    return bool(files) and all(
        re.search(rf"^//go:build .*(?<!!){HOOKS_TAG}\b", f.read_text(encoding="utf-8", errors="replace"), re.M)
        for f in files
    )


def _load(opts: Options, ws: Workspace, project: Project, test: bool) -> Prepared:
    """Detect the packages and plan; the rewrite is conservative (no escape verdicts yet)."""
    rule_sets = load_rule_sets(opts.rules, opts.disabled, load_file=reuse.rule_file)
    go_flags, vendored = _module_mode(opts, ws, project)
    go_flags = with_hooks_tag(go_flags)
    ws.env["GOFLAGS"] = _goflags_with_hooks_tag(ws.env.get("GOFLAGS", ""))
    modules_of = {rs.name: _hooks_module(rs) for rs in rule_sets}
    used: set[Path | None] = {m.dir.resolve() for m in project.modules}
    used |= {builtin_rules_dir().resolve(), None}
    vendor_changes: list[DependencyChange] = []
    if vendored is not None:
        vendor_changes = _use_vendor(ws, project, vendored, rule_sets, modules_of, used)
    lists = _Lists(project, ws, reusable=vendored is None)
    with ThreadPoolExecutor(max_workers=4) as pool:  # the go list runs at once
        build = pool.submit(
            lists.packages, opts.patterns or ["."], test=test, flags=with_hooks_tag(opts.list_flags)
        )
        plain_versions = pool.submit(lists.versions, ours=False)
        packages = build.result()
        # An integration whose hooks are a module of their own joins the workspace only when the
        # build has one of its targets, so its requirements raise nothing in other builds.
        present = {p.import_path for p in packages} | (
            {"main"} if any(p.is_command for p in packages) else set()
        )
        joining = sorted({
            module for rs in rule_sets
            if (module := modules_of[rs.name]) is not None and module not in used
            and _targets(rs) & present
        })  # fmt: skip
        if joining:
            ws.use(joining)
            used.update(joining)
            if vendored is not None:
                vendor_changes = _use_vendor(ws, project, vendored, rule_sets, modules_of, used)
        hooks_paths = sorted({rs.hooks for rs in rule_sets if modules_of[rs.name] in used})
        # With their dependencies: the verdicts on the hooks depend on the local ones too.
        listed = pool.submit(lists.packages, hooks_paths)
        # (vendor mode has no module graph to compare: the vendor merge reports its changes)
        our_versions = pool.submit(lists.versions, ours=True)
        hooks = {p.import_path: p for p in listed.result()} if hooks_paths else {}
        built = {p.module_path for p in packages if p.module_path}
        changes = vendor_changes + [
            change
            for change in _dependency_changes(plain_versions.result(), our_versions.result())
            if change.module in built
        ]
    rule_sets = [rs for rs in rule_sets if modules_of[rs.name] in used]
    unloadable = _check_buildable(packages, opts, project, test)
    unprovided = _check_provided(
        packages, plain_versions.result(), project, test, {rs.hooks for rs in rule_sets}
    )
    if changes and opts.no_upgrade:
        raised = ", ".join(f"{c.module} {c.plain} -> {c.instrumented}" for c in changes)
        raise UserError(
            f"The hooks need newer versions of {len(changes)} dependency module(s) ({raised}) and "
            "--no-upgrade is set: raise them in go.mod, or drop --no-upgrade to build with them."
        )
    main_modules = {m.path for m in project.modules}
    plan = make_plan(
        rule_sets, packages, project.env.version, hooks, main_modules, reuse.RememberingReader()
    )
    plan.warnings[:0] = unloadable + list(unprovided.values())
    return Prepared(
        project,
        rule_sets,
        packages,
        plan,
        rewrite(plan, {}),
        ws,
        _repo_root(project.root),
        hooks,
        changes,
        go_flags,
        sorted(unprovided),
    )


@dataclass
class _Lists:
    """The go command's package and module lists of this run, reused from the previous run when
    nothing they depend on changed (reuse.py); asked afresh in vendor mode, whose private vendor
    directory is made anew each run."""

    project: Project
    ws: Workspace
    reusable: bool

    def _inputs(self, kind: str, ours: bool, args: Sequence[str]) -> reuse.Inputs:
        inputs = reuse.Inputs(kind, self.project.root, self.ws.env if ours else os.environ, args)
        if self.project.workspace is not None:
            inputs.add_file(self.project.workspace)
            inputs.add_file(self.project.workspace.with_name("go.work.sum"))
        used = [Path(d) for d in used_dirs(self.ws.gowork)] if ours else []
        inputs.add_modules([m.dir for m in self.project.modules] + used)
        inputs.add(self.project.env.settings)
        return inputs

    def packages(
        self, patterns: list[str], *, test: bool = False, flags: Sequence[str] = ()
    ) -> list[Package]:
        def listed() -> list[Package]:
            return list_packages(self.project.root, patterns, self.ws.env, test=test, flags=flags)

        if not (self.reusable and reuse.reusable_patterns(patterns)):
            return listed()
        inputs = self._inputs("packages", True, [*patterns, f"test={test}", *flags])
        trees = [self.project.root / p.removesuffix("...") for p in patterns if "..." in p]
        return reuse.remembered(
            inputs, listed, _local_inputs, trees, keep=lambda ps: not any(p.error for p in ps)
        )

    def versions(self, *, ours: bool) -> dict[str, str] | None:
        def listed() -> dict[str, str] | None:
            return module_versions(self.project.root, self.ws.env if ours else os.environ)

        if not self.reusable:
            return listed()
        inputs = self._inputs("versions", ours, [f"ours={ours}"])
        return reuse.remembered(
            inputs, listed, self._replaced_modules, keep=lambda v: v is not None
        )

    def _replaced_modules(self, versions: dict[str, str] | None) -> list[Path]:
        """The go.mod of each module replaced by a directory: its requirements are in the graph."""
        found = [v.split("=> ", 1)[1].strip() for v in (versions or {}).values() if "=> " in v]
        main = self.project.modules[0].dir
        return [main / d / "go.mod" for d in found if d.startswith(("/", "."))]


def _local_inputs(packages: list[Package]) -> list[Path | reuse.Present]:
    """What a package list depends on besides its key: the directories of the packages that are
    not in the module cache or GOROOT and their modules' requirements, and the presence of the
    module cache directories (the plan reads their files)."""
    local = [p for p in packages if not p.standard and p.module_version is None and p.dir.parts]
    modules = {p.module_dir for p in local if p.module_dir is not None}
    cached = {p.module_dir for p in packages if p.module_version and p.module_dir is not None}
    return [
        *(p.dir for p in local),
        *(m / name for m in modules for name in ("go.mod", "go.sum")),
        *(reuse.Present(m) for m in cached),
    ]


def with_hooks_tag(flags: list[str]) -> list[str]:
    """`flags` with HOOKS_TAG added to each -tags value (a command-line -tags replaces GOFLAGS'):
    the whole instrumented build has the tag (a custom tag changes nothing else), so the files of
    the user's hooks that carry `//go:build otelautoinst` are in it, and out of the plain build."""
    out: list[str] = []
    pending = False  # the previous flag was a -tags waiting for its value
    for flag in flags:
        name, eq, value = flag.partition("=")
        if pending:
            out.append(_add_hooks_tag(flag))
        elif name.lstrip("-") == "tags" and name.startswith("-") and eq:
            out.append(f"{name}={_add_hooks_tag(value)}")
        else:
            out.append(flag)
        pending = not pending and flag in ("-tags", "--tags")
    return out


def _add_hooks_tag(value: str) -> str:
    tags = [t for t in re.split(r"[,\s]+", value) if t]
    return ",".join(tags if HOOKS_TAG in tags else [*tags, HOOKS_TAG])


def _goflags_with_hooks_tag(goflags: str) -> str:
    flags = goflags.split()
    if any(f.lstrip("-").startswith("tags=") for f in flags):
        return " ".join(with_hooks_tag(flags))
    return " ".join([*flags, f"-tags={HOOKS_TAG}"])


def _flag_value(flags: list[str], name: str) -> str | None:
    """The value of the last -name=value (or --name=value) among flags."""
    found = None
    for flag in flags:
        key, eq, value = flag.lstrip("-").partition("=")
        if eq and key == name and flag.startswith("-"):
            found = value
    return found


def _module_mode(opts: Options, ws: Workspace, project: Project) -> tuple[list[str], Path | None]:
    """The user's go flags as the private workspace can take them, and the vendor directory when
    the plain build reads one. -mod (flag or GOFLAGS) is honoured; -modfile and -overlay, which
    would replace ours, are refused rather than dropped."""
    goflags = os.environ.get("GOFLAGS", "").split()
    for name in ("modfile", "overlay"):
        if _flag_value(goflags, name) is not None:
            raise UserError(
                f"GOFLAGS sets -{name}, which otel-go-autoinst cannot honour: it builds through "
                f"its own -{name == 'modfile' and 'private go.work' or 'overlay'}; unset it for "
                "the instrumented build."
            )
    mod = _flag_value(opts.go_flags, "mod") or _flag_value(goflags, "mod")
    go_flags = [f for f in opts.go_flags if _flag_value([f], "mod") is None]
    vendor_dir = (
        project.workspace.parent if project.workspace is not None else project.modules[0].dir
    ) / "vendor"
    if not vendor_mode(project.modules, vendor_dir, mod):
        # -mod=mod only lets the go command edit go.mod, which a workspace never does.
        return go_flags + (["-mod=readonly"] if mod == "readonly" else []), None
    return go_flags, vendor_dir


def _use_vendor(
    ws: Workspace,
    project: Project,
    user_vendor: Path,
    rule_sets: list[RuleSet],
    modules_of: dict[str, Path | None],
    used: set[Path | None],
) -> list[DependencyChange]:
    """Build from the user's vendor/: a workspace vendor directory with their vendored packages
    and the dependencies of our hooks modules in the workspace; returns the versions raised."""
    if not (user_vendor / "modules.txt").is_file():
        raise UserError(f"-mod=vendor is set but {user_vendor}/modules.txt does not exist.")
    # The user's own hooks are in their module, vendored with it; ours need the SDK added.
    rules_dir = builtin_rules_dir().resolve()
    ours: dict[Path, set[str]] = {}
    for rs in rule_sets:
        module = modules_of[rs.name]
        if module is not None and module in used and module.is_relative_to(rules_dir):
            ours.setdefault(module, set()).add(rs.hooks)
    hooks = [dep for module, paths in sorted(ours.items())
             for dep in hooks_dependencies(module, sorted(paths), ws.env)]  # fmt: skip
    gomods = [m.dir / "go.mod" for m in project.modules] + [m / "go.mod" for m in sorted(ours)]
    required = required_versions(gomods, ws.env)
    modules, changes = merge(
        read_modules_txt(user_vendor / "modules.txt"), user_vendor, hooks, required
    )
    write_vendor(ws.dir / "vendor", modules, required)
    if "-mod=vendor" not in ws.env.get("GOFLAGS", "").split():
        ws.env["GOFLAGS"] = " ".join([*ws.env.get("GOFLAGS", "").split(), "-mod=vendor"])
    return changes


def _hooks_module(rule_set: RuleSet) -> Path | None:
    """The directory of the Go module of a built-in rule set's hooks (its nearest go.mod); None
    for the user's rule sets, whose hooks the go command finds in the user's own modules."""
    if not rule_set.builtin:
        return None
    for directory in rule_set.path.resolve().parents:
        if (directory / "go.mod").is_file():
            return directory
    return None


def _targets(rule_set: RuleSet) -> set[str]:
    return (
        {r.import_path for r in rule_set.functions}
        | {r.import_path for r in rule_set.structs}
        | {r.import_path for r in rule_set.files}
    )


def _dependency_changes(
    plain: dict[str, str] | None, instrumented: dict[str, str] | None
) -> list[DependencyChange]:
    """The modules of the plain build list whose version the hooks' requirements changed."""
    if plain is None or instrumented is None:
        return []
    return [
        DependencyChange(module, version, instrumented[module])
        for module, version in sorted(plain.items())
        if instrumented.get(module, version) != version
    ]


def _stage(
    opts: Options, ws: Workspace, project: Project, test: bool, *, building: bool = True
) -> Prepared:
    """Plan, then rewrite with the compiler's escape verdicts on the hooks (a build to come has
    its libraries compiled by the probe too)."""
    prepared = _load(opts, ws, project, test)
    plan, conservative = prepared.plan, prepared.rewrite
    ws.use_module_copies(
        [t.package for t in plan.targets]
        + [e.package for e in plan.struct_edits]
        + [a.package for a in plan.file_additions]
    )
    verdicts: Verdicts = {}
    if plan.hooks_packages:
        # What the hooks packages are compiled against: their own dependencies' rewrites.
        hooks_deps = {d for h in plan.hooks_packages for d in prepared.hooks[h].deps}
        dep_dirs = {p.dir for p in prepared.packages if p.import_path in hooks_deps}
        # Local packages (the hooks', the helpers they call, the API): edited without a version.
        local = [p for p in prepared.hooks.values() if not p.standard and p.module_version is None]
        # The flags the probe compiles with: -gcflags=all=-l, say, changes what escapes.
        build_flags = _probe_build_flags(prepared, test)
        flags = [*build_flags, *(f"-gcflags={v}" for v in opts.gcflags)]
        # A profile inlines differently once it changes, so the key has its bytes, not its name.
        profiles = [project.root / v for v in _split_pgo(build_flags)[0] if v not in ("auto", "off")]
        flags += [f"pgo={hashlib.sha256(p.read_bytes()).hexdigest()}" for p in profiles if p.is_file()]
        key = verdict_key(ws, plan, conservative, dep_dirs, local, flags)
        cached = load_verdicts(key)
        if cached is not None:
            verdicts = cached
        else:
            go_version = project.env.version
            verdicts, ok = settle(
                plan,
                load_hints(builtin_rules_dir(), go_version),
                _prober(opts, prepared, building, build_flags),
            )
            if ok:
                store_verdicts(key, verdicts)
                learn(go_version, verdicts)
    if verdicts:
        prepared.rewrite = rewrite(plan, verdicts)
    return prepared


def _noted(plan: Plan) -> list[str]:
    """The packages compiled with -m, by the probe and the build alike (so that the build finds
    the probe's work in Go's cache): the instrumented ones (for the report) and the hooks (for
    the verdicts)."""
    return sorted({*plan.instrumented_packages, *plan.hooks_packages})


def _noted_files(prepared: Prepared) -> set[Path]:
    """The files whose -m notes are read: the hooks' declarations and the targets' sources."""
    files = {hook.file.resolve() for hook in hooks_of(prepared.plan)}
    return files | {prepared.ws.build_path(t.file).resolve() for t in prepared.plan.targets}


def _probe_build_flags(prepared: Prepared, test: bool) -> list[str]:
    """The build's flags that change what compiles, for the probe. With -pgo=auto (the default)
    each command's default.pgo is given to everything the command links; the probe builds no
    command, so it names that profile itself when the build's commands share one, and the build
    then finds what the probe compiled in Go's cache instead of compiling it all again with the
    profile (go test's profiles are left to it)."""
    flags = compile_flags(prepared.go_flags)
    environment = compile_flags(prepared.ws.env.get("GOFLAGS", "").split())
    pgo, _ = _split_pgo([*environment, *flags])
    if test or (pgo and pgo[-1] != "auto"):
        return flags
    profiles = {
        p.dir / "default.pgo"
        for p in prepared.packages
        if p.is_command and not p.for_test and (p.dir / "default.pgo").is_file()
    }
    if len(profiles) != 1:
        return flags
    return [*_split_pgo(flags)[1], f"-pgo={profiles.pop()}"]


def _split_pgo(flags: Sequence[str]) -> tuple[list[str], list[str]]:
    """The values of -pgo ("-pgo=v" or "-pgo v") among `flags`, and the other flags."""
    values: list[str] = []
    others: list[str] = []
    args = iter(flags)
    for flag in args:
        name, eq, value = flag.lstrip("-").partition("=")
        if name == "pgo" and flag.startswith("-"):
            values.append(value if eq else next(args, ""))
        else:
            others.append(flag)
    return values, others


def _prober(opts: Options, prepared: Prepared, building: bool, flags: Sequence[str]) -> Probe:
    """Builds the hooks packages against trampolines made from given verdicts, as the build will
    compile them (same flags for the instrumented packages), and reads the compiler's verdicts."""
    plan, ws = prepared.plan, prepared.ws
    # With a build to come, its other libraries too: compiled alongside the hooks by one go
    # command, they are in Go's cache when the build comes (its commands and test variants are
    # left to it).
    libraries = [
        p.import_path
        for p in prepared.packages
        if building
        and not (p.standard or p.is_command or p.for_test or p.error or not p.go_files)
        and not p.import_path.endswith(".test")
    ]

    def probe(guess: Verdicts) -> tuple[bool, Verdicts]:
        candidate = rewrite(plan, guess) if guess else prepared.rewrite
        overlay = write_overlay(ws, candidate, {}, "probe")
        run = run_go_streaming(
            ws,
            ["build", f"-overlay={overlay}", *flags,
             *gcflags_for(_noted(plan), opts.gcflags, "-m"), *plan.hooks_packages, *libraries],
            _noted(plan),
            show=False,
            known=_noted_files(prepared),
        )  # fmt: skip
        return run.exit_code == 0, escape_verdicts(plan, run.notes)

    return probe


def _report(prepared: Prepared, notes: dict[tuple[str, int], list[str]] | None) -> Report:
    project, plan = prepared.project, prepared.plan
    report = Report(
        root=shown_path(project.root, prepared) or ".",
        go_version=project.env.version,
        tool_version=__version__,
        modules=[
            ModuleInfo(m.path, shown_path(m.dir, prepared) or ".", m.go, m.toolchain)
            for m in project.modules
        ],
        rules=[RuleInfo(rs.name, rs.hooks, rs.builtin, str(rs.path)) for rs in prepared.rule_sets],
        warnings=list(plan.warnings),
        dependency_changes=list(prepared.dependency_changes),
    )
    compiled = {file for file, _ in notes} if notes else set()
    for target in plan.targets:
        func, numbers = target.func, prepared.rewrite.numbers[(target.file, target.func.line)]
        file = str(prepared.ws.build_path(target.file).resolve())
        inlined: bool | None = None
        raw_inlinable: bool | None = None
        if notes is not None and file in compiled:
            at_brace = notes.get((file, func.brace_line or 0), [])
            entered = [
                k for k, app in zip(numbers, target.applications, strict=True) if app.on_enter
            ]
            if entered:
                found = [
                    any(re.match(rf"inlining call to _otelEnter{k}(\[|$)", m) for m in at_brace)
                    for k in entered
                ]
                # A generic function is compiled where it is instantiated, maybe not with -m.
                inlined = True if all(found) else (None if func.type_params else False)
            own = re.compile(rf"can inline (?:\S+\.)?{re.escape(func.name)}(?:\[.*\])?(?: |$)")
            # For a generic function "can inline F[int]" is its dictionary wrapper, not its body.
            if not func.type_params:
                raw_inlinable = any(own.match(m) for m in notes.get((file, func.line), []))
        optimizations = [app.optimization for app in target.applications]
        report.instrumented.append(
            InstrumentedFunction(
                package=target.package.import_path,
                file=shown_path(target.file, prepared),
                line=func.line,
                function=func.name,
                receiver=func.display_receiver,
                rules=[app.rule_set for app in target.applications],
                optimization=optimizations[0]
                if len(set(optimizations)) == 1
                else ",".join(optimizations),
                inlined=inlined,
                raw_inlinable=raw_inlinable,
                module="std" if target.package.standard else (target.package.module_path or ""),
                module_version=target.package.module_version,
            )
        )
    return report


def _outcome(command: list[str], run: GoRun, seconds: float, prepared: Prepared) -> StepOutcome:
    errors = [
        Diagnostic(shown_path(Path(d.file), prepared), d.line, d.column, d.message)
        for d in run.diagnostics
    ]
    return StepOutcome(
        command=command,
        status="passed" if run.exit_code == 0 else "failed",
        exit_code=run.exit_code,
        duration_s=round(seconds, 3),
        errors=errors,
        output_tail="\n".join(run.output.splitlines()[-40:]),
    )


def run_plan(opts: Options, *, test: bool = False) -> Report:
    project = detect_project(opts.root)
    with workspace(project, builtin_rules_dir(), opts.keep_work) as ws:
        return _report(_load(opts, ws, project, test), None)


def run_go(opts: Options, verb: str) -> tuple[Report, int]:
    """`go build` or `go test` of the instrumented sources; returns the report and Go's status."""
    project = detect_project(opts.root)
    test = verb == "test"
    with workspace(project, builtin_rules_dir(), opts.keep_work) as ws:
        prepared = _stage(opts, ws, project, test)
        links = link_files(prepared.plan, prepared.packages, prepared.hooks, test)
        overlay = write_overlay(ws, prepared.rewrite, links, "overlay")
        if test:  # for the test binaries (USER_ENV_PACKAGE): the user's, not the workspace's
            ws.env[USER_ENV] = saved_user_env(os.environ)
        command = [
            verb, f"-overlay={overlay}",
            *gcflags_for(_noted(prepared.plan), opts.gcflags, "-m"),
            *prepared.go_flags, *opts.patterns, *(["-args", *opts.binary_args] if opts.binary_args else []),
        ]  # fmt: skip
        started = time.monotonic()
        run = run_go_streaming(ws, command, _noted(prepared.plan), known=_noted_files(prepared))
        elapsed = time.monotonic() - started
        if prepared.unprovided and run.exit_code == 0:
            run.exit_code = 1  # the plain `go test` fails those packages' setup (warned above)
        report = _report(prepared, run.notes)
        shown = ["go", verb, *opts.go_flags, *opts.patterns]
        outcome = _outcome(shown, run, elapsed, prepared)
        if test:
            report.test = outcome
        else:
            report.build = outcome
        if run.exit_code != 0 and outcome.errors and _plain_build_fails(opts, project, verb):
            report.warnings.append(
                f"The plain `go {verb}` fails too: the failure is not caused by instrumentation."
            )
        return report, run.exit_code


def _plain_build_fails(opts: Options, project: Project, verb: str) -> bool:
    """Whether the same packages fail to compile without instrumentation (test binaries are
    compiled and not run)."""
    patterns = opts.patterns or ["."]
    if verb == "test":
        args = ["go", "test", "-count=1", "-exec=/bin/true", *opts.list_flags, *patterns]
    else:
        args = ["go", "build", "-o", os.devnull, *opts.list_flags, *patterns]
    proc = subprocess.run(args, cwd=project.root, capture_output=True, text=True)
    return proc.returncode != 0


def run_diff(opts: Options) -> str:
    def lines(data: bytes) -> list[str]:
        """Lines with their own endings (CRLF stays CRLF, so only edited lines differ); only
        "\n" ends a line, as for git."""
        return re.findall(r"[^\n]*\n|[^\n]+$", data.decode("utf-8", errors="replace"))

    def unified(old: list[str], new: list[str], a: str, b: str) -> list[str]:
        out = []
        for line in difflib.unified_diff(old, new, a, b):
            out.append(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n")
        return out

    project = detect_project(opts.root)
    with workspace(project, builtin_rules_dir(), opts.keep_work) as ws:
        prepared = _stage(opts, ws, project, test=False, building=False)
        chunks: list[str] = []
        for path, content in sorted(prepared.rewrite.changed.items()):
            name = shown_path(path, prepared)
            chunks += unified(lines(path.read_bytes()), lines(content), f"a/{name}", f"b/{name}")
        for path, content in sorted(prepared.rewrite.added.items()):
            name = shown_path(path, prepared)
            chunks += unified([], lines(content), "/dev/null", f"b/{name}")
        return "".join(chunks)
