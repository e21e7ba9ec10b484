"""Plan: which function of the build gets which rules, in which order, with which hooks.

Pure data out. Files are pre-filtered by name before they are parsed; hooks are checked against
their targets here, so a mismatch is a build-time error naming both signatures.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from . import goparse
from .detect import Package
from .errors import GoError, UserError
from .goparse import TYPE_PARAM, FuncDecl, GoFile, Param
from .rules import FileRule, FunctionRule, RuleSet, StructRule


class Reader:
    """How the planner reads Go files. The engine passes one that reuses earlier runs' answers
    (reuse.py); the answers are the same."""

    def parse(self, path: str, source: bytes, package: str) -> GoFile:
        return goparse.parse_file(path, source, package)

    def words(self, paths: Sequence[Path], wanted: frozenset[str]) -> dict[str, list[Path]]:
        """For each of the `wanted` names, the files in which it appears as a word."""
        index: dict[str, list[Path]] = {}
        for path in paths:
            text = path.read_bytes().decode("utf-8", errors="replace")
            for found in wanted.intersection(_WORD.findall(text)):
                index.setdefault(found, []).append(path)
        return index


API_PACKAGE = "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
# What only the instrumented build provides: the tool's rules module (the API, gls, otelsetup...).
RULES_MODULE = "github.com/otel-go-autoinst/otel-go-autoinst/rules"
# The build tag the instrumented build sets (engine.py): a user's hooks files carry
# `//go:build otelautoinst`, so the plain build, vet and test of their module skip them.
HOOKS_TAG = "otelautoinst"
CALL_CONTEXT = f"*{API_PACKAGE}.CallContext"

# The //otel:span directive: a built-in rule set without rules, whose rules the planner makes for
# each function of the main modules that carries the directive (see rules/directive).
DIRECTIVE_SET = "directive"
DIRECTIVE_ENTER, DIRECTIVE_EXIT = "spanOnEnter", "spanOnExit"
DIRECTIVE_FILE = "zz_otel_directive.go"
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")

# Packages a hook's own machinery runs on: instrumenting them would recurse or break the runtime.
NEVER_INSTRUMENTED = re.compile(r"^(runtime|runtime/.*|internal/.*|unsafe|reflect|sync/atomic)$")
_WORD = re.compile(r"\w+")  # identifiers and keywords, Unicode letters included


@dataclass(frozen=True)
class Hook:
    package: str  # import path
    name: str
    file: Path
    line: int
    decl: FuncDecl
    uses: frozenset[str] | None  # the CallContext methods it may call; None: any of them

    @property
    def may_skip(self) -> bool:
        return self.uses is None or "SetSkipCall" in self.uses

    @property
    def params(self) -> tuple[Param, ...]:
        """The parameters after the CallContext."""
        return self.decl.params[1:]

    @property
    def call_param(self) -> str | None:
        return self.decl.params[0].name if self.decl.params else None

    def signature(self) -> str:
        return f"func({', '.join(_shown(p) for p in self.decl.params)})"


@dataclass(frozen=True)
class Application:
    """One rule applied to one function."""

    rule: FunctionRule
    rule_set: str
    on_enter: Hook | None
    on_exit: Hook | None

    def needs(self, methods: frozenset[str]) -> bool:
        """Whether a hook may call one of `methods`: the context must then carry what they read."""
        hooks = [h for h in (self.on_enter, self.on_exit) if h is not None]
        return any(h.uses is None or h.uses & methods for h in hooks)

    @property
    def optimization(self) -> str:
        if self.on_enter is None:
            return "no-onenter"
        parts = []
        if self.on_exit is None:
            parts.append("no-onexit")
        if not self.on_enter.may_skip:
            parts.append("no-skipcall")
        return "+".join(parts) or "full"


@dataclass
class Target:
    package: Package
    file: Path
    func: FuncDecl
    applications: list[Application]  # outermost first


@dataclass(frozen=True)
class Injection:
    """One Go statement placed right after a function's "{" (a function rule with inject)."""

    package: Package
    file: Path
    func: FuncDecl
    statement: str
    rule: FunctionRule
    rule_set: str


@dataclass(frozen=True)
class StructEdit:
    package: Package
    file: Path
    offset: int  # at the struct's closing "}" (on its line): the new field comes last
    text: str  # "Field Type; " with what the place needs around it
    rule: StructRule


@dataclass(frozen=True)
class FileAddition:
    package: Package
    source: Path
    name: str  # the new file's name in the package directory
    rule: FileRule | None  # None for a file the planner generates (content)
    content: bytes | None = None  # the file as it is added, instead of `source`'s


@dataclass
class Plan:
    targets: list[Target] = field(default_factory=list)
    struct_edits: list[StructEdit] = field(default_factory=list)
    file_additions: list[FileAddition] = field(default_factory=list)
    injections: list[Injection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    parsed: dict[Path, GoFile] = field(default_factory=dict)  # every target file, parsed once

    @property
    def hooks_packages(self) -> list[str]:
        found = {
            hook.package
            for target in self.targets
            for app in target.applications
            for hook in (app.on_enter, app.on_exit)
            if hook is not None
        }
        return sorted(found)

    @property
    def instrumented_packages(self) -> list[str]:
        """The packages the rewrite changes, less those of the runtime's own machinery, which get
        no TJump (only support sets' fields, files and statements) and so need no compiler notes."""
        names = {t.package.import_path for t in self.targets}
        names |= {e.package.import_path for e in self.struct_edits}
        names |= {a.package.import_path for a in self.file_additions}
        names |= {i.package.import_path for i in self.injections}
        return sorted(n for n in names if not NEVER_INSTRUMENTED.match(n) or n in self._targeted)

    @property
    def _targeted(self) -> set[str]:
        return {t.package.import_path for t in self.targets}


def _shown(p: Param) -> str:
    return f"{p.name} {p.type_text}" if p.name else p.type_text


def _rule_applies(
    rule: FunctionRule | StructRule | FileRule, pkg: Package, go_version: str
) -> bool:
    if rule.go_version is not None and not rule.go_version.contains(go_version, go=True):
        return False
    if rule.version is None:
        return True
    if pkg.standard:
        return rule.version.contains(go_version, go=True)
    if pkg.module_version is None:
        return True  # the user's own modules carry no version: their rules are theirs
    return rule.version.contains(pkg.module_version)


def _matches_package(import_path: str, pkg: Package) -> bool:
    if import_path == "main":
        return pkg.is_command and not pkg.import_path.endswith(".test")
    return pkg.import_path == import_path


def _receiver_matches(rule: FunctionRule, func: FuncDecl) -> bool:
    if rule.receiver is None:
        return func.receiver_base is None
    return func.display_receiver == rule.receiver


def buildable_packages(packages: Iterable[Package]) -> list[Package]:
    """One entry per package directory: test variants share their package's files."""
    seen: dict[str, Package] = {}
    for pkg in packages:
        if pkg.for_test or not pkg.go_files or pkg.import_path.endswith(".test"):
            continue
        seen.setdefault(pkg.import_path, pkg)
    return list(seen.values())


class Planner:
    def __init__(
        self,
        rule_sets: Sequence[RuleSet],
        go_version: str,
        hooks_dirs: dict[str, Package],
        reader: Reader,
    ):
        self.rule_sets = rule_sets
        self.reader = reader
        self.go_version = go_version
        self.hooks_dirs = hooks_dirs
        self._hooks: dict[tuple[str, str], Hook] = {}
        self._bodies: dict[str, dict[str, tuple[list[str], Node | None]]] = {}
        # Indexes, so that planning is linear in the number of rules:
        self._words: dict[str, dict[str, list[Path]]] = {}  # package -> word -> files with it
        self._wanted: dict[str, set[str]] = {}  # package -> every name some rule looks for there
        self._by_name: dict[Path, dict[str, list[FuncDecl]]] = {}  # file -> name -> functions
        self._hook_decls: dict[str, dict[str, tuple[Path, FuncDecl]]] = {}  # hooks package
        self._targets: dict[tuple[Path, int], Target] = {}
        self._generic_types: dict[tuple[str, str], tuple[goparse.TypeParam, ...] | None] = {}
        self._plain_checked: set[str] = set()  # hooks packages checked by _check_plain_build
        self.plan = Plan()

    # -- files ---------------------------------------------------------------------------------

    def _parse(self, path: Path, pkg: Package) -> GoFile:
        if path not in self.plan.parsed:
            parsed = self.reader.parse(str(path), path.read_bytes(), pkg.import_path)
            if parsed.syntax_error is not None:
                line, col = parsed.syntax_error
                raise GoError(
                    f"{path}:{line}:{col}: syntax error in a file that rules target; the plain "
                    "`go build` fails on it too."
                )
            self.plan.parsed[path] = parsed
        return self.plan.parsed[path]

    def want(self, pkg: Package, names: Iterable[str]) -> None:
        """Names rules will look for in `pkg`: its files are then read once for all of them."""
        self._wanted.setdefault(pkg.import_path, set()).update(names)

    def _candidate_files(self, pkg: Package, word: str) -> list[Path]:
        """The files of `pkg` in which `word` appears as a word: only those can declare it. Each
        file is read once, for every name wanted in the package."""
        index = self._words.get(pkg.import_path)
        if index is None or word not in self._wanted.get(pkg.import_path, ()):
            self.want(pkg, [word])
            index = self.reader.words(pkg.go_files, frozenset(self._wanted[pkg.import_path]))
            self._words[pkg.import_path] = index
        return index.get(word, [])

    def _functions_named(self, path: Path, pkg: Package, name: str) -> list[FuncDecl]:
        if path not in self._by_name:
            by_name: dict[str, list[FuncDecl]] = {}
            for func in self._parse(path, pkg).functions:
                by_name.setdefault(func.name, []).append(func)
            self._by_name[path] = by_name
        return self._by_name[path].get(name, [])

    # -- hooks ---------------------------------------------------------------------------------

    def _hook(self, rule_set: RuleSet, name: str, rule: FunctionRule) -> Hook:
        key = (rule_set.hooks, name)
        if key in self._hooks:
            return self._hooks[key]
        pkg = self.hooks_dirs.get(rule_set.hooks)
        if pkg is None or pkg.error or not pkg.go_files:
            reason = pkg.error if pkg is not None and pkg.error else "it was not found in the build"
            raise UserError(
                f"{rule.source}: hooks package {rule_set.hooks} cannot be loaded: {reason}."
            )
        if not rule_set.builtin:
            self._check_plain_build(pkg)
        declared = self._hook_declarations(pkg).get(name)
        if declared is None:
            raise UserError(
                f"{rule.source}: hook function {name} is not declared in {rule_set.hooks}."
            )
        path, decl = declared
        functions = self._hook_functions(pkg)
        call_name = decl.params[0].name if decl.params else None
        body = functions[name][1] if name in functions else None
        uses = goparse.context_methods(body, call_name, functions)
        hook = Hook(pkg.import_path, name, path, decl.line, decl, uses)
        self._hooks[key] = hook
        return hook

    def _hook_declarations(self, pkg: Package) -> dict[str, tuple[Path, FuncDecl]]:
        """The hooks package's top-level functions, each file parsed once."""
        if pkg.import_path not in self._hook_decls:
            found: dict[str, tuple[Path, FuncDecl]] = {}
            for path in pkg.go_files:
                parsed = self.reader.parse(str(path), path.read_bytes(), pkg.import_path)
                for decl in parsed.functions:
                    if decl.receiver is None:
                        found.setdefault(decl.name, (path, decl))
            self._hook_decls[pkg.import_path] = found
        return self._hook_decls[pkg.import_path]

    def _check_plain_build(self, pkg: Package) -> None:
        """A warning, once per file, for a file of the user's hooks that imports a package of the
        rules module without `//go:build otelautoinst`: the plain build of the module fails on it."""
        if pkg.import_path in self._plain_checked:
            return
        self._plain_checked.add(pkg.import_path)
        for path in pkg.go_files:
            parsed = self.reader.parse(str(path), path.read_bytes(), pkg.import_path)
            ours = [
                i.path for i in parsed.imports
                if i.path == RULES_MODULE or i.path.startswith(RULES_MODULE + "/")
            ]  # fmt: skip
            if ours and not _requires_hooks_tag(parsed.build_constraint):
                self.plan.warnings.append(
                    f"{path}: imports {ours[0]}, which only the instrumented build provides, but "
                    f"has no `//go:build {HOOKS_TAG}` line: the plain `go build`, `go vet` and "
                    "`go test` of your module fail on it (add the line at the top of the file)."
                )

    def _hook_functions(self, pkg: Package) -> dict[str, tuple[list[str], Node | None]]:
        if pkg.import_path not in self._bodies:
            found: dict[str, tuple[list[str], Node | None]] = {}
            for path in pkg.go_files:
                found.update(goparse.function_bodies(path.read_bytes()))
            self._bodies[pkg.import_path] = found
        return self._bodies[pkg.import_path]

    def _check_hook(self, hook: Hook, expected: Sequence[Param], kind: str, target: str) -> None:
        want = ", ".join(["call *api.CallContext", *(_shown(p) for p in expected)])
        params = hook.decl.params
        ok = (
            bool(params)
            and params[0].canonical == CALL_CONTEXT
            and len(params) == len(expected) + 1
        )
        if ok:
            for got, exp in zip(params[1:], expected, strict=True):
                if got.canonical == "any":
                    continue
                if exp.canonical == TYPE_PARAM or got.canonical != exp.canonical:
                    ok = False
        if not ok:
            what = "receiver and parameters" if kind == "onEnter" else "results"
            raise UserError(
                f"{hook.file}:{hook.line}: {kind} hook {hook.name} has signature {hook.signature()} "
                f"but its target {target} needs func({want}) (the CallContext, then the target's "
                f"{what}; any parameter may be `any`, and must be where the type mentions a type "
                "parameter)."
            )

    # -- matching ------------------------------------------------------------------------------

    def add_function_rule(
        self, rule_set: RuleSet, rule: FunctionRule, packages: Sequence[Package]
    ) -> None:
        """Apply `rule` to the functions it names in `packages` (make_plan passes those of its
        import path: see package_index)."""
        hits = [p for p in packages if _matches_package(rule.import_path, p)]
        hits = [p for p in hits if _rule_applies(rule, p, self.go_version)]
        for pkg in hits:
            if rule.inject is not None and _trusted(rule_set):
                pass  # the runtime's own support statements (see rules/gls)
            elif NEVER_INSTRUMENTED.match(pkg.import_path):
                self.plan.warnings.append(
                    f"{rule.source}: {pkg.import_path} cannot be instrumented; rule skipped."
                )
                continue
            found = False
            for path in self._candidate_files(pkg, rule.function):
                parsed = self._parse(path, pkg)
                for func in self._functions_named(path, pkg, rule.function):
                    if not _receiver_matches(rule, func):
                        continue
                    found = True
                    if func.body_open is None or parsed.ignored or func.ignored:
                        continue  # no body to jump from, or excluded with //otel:ignore
                    if parsed.has_dot_import:
                        self.plan.warnings.append(
                            f"{path}:{func.line}: {func.qualified_name} is in a file with a dot import; skipped."
                        )
                        continue
                    if rule.inject is not None:
                        self.plan.injections.append(
                            Injection(pkg, path, func, rule.inject, rule, rule_set.name)
                        )
                        continue
                    self._apply(rule_set, rule, pkg, path, func)
            if not found:
                shown = f"({rule.receiver}).{rule.function}" if rule.receiver else rule.function
                self.plan.warnings.append(
                    f"{rule.source}: {pkg.import_path} has no function {shown}; rule skipped."
                )

    def _apply(
        self,
        rule_set: RuleSet,
        rule: FunctionRule,
        pkg: Package,
        path: Path,
        func: FuncDecl,
        *,
        context_only: bool = False,
    ) -> None:
        """`context_only`: the hooks take the CallContext alone, whatever the target's signature
        (the directive's, which read what they need through it)."""
        func = self._with_receiver_constraints(func, pkg)
        target_name = f"{pkg.import_path}.{func.qualified_name}"
        on_enter = self._hook(rule_set, rule.on_enter, rule) if rule.on_enter else None
        on_exit = self._hook(rule_set, rule.on_exit, rule) if rule.on_exit else None
        receiver = (func.receiver,) if func.receiver is not None else ()
        if context_only:
            for hook, kind in ((on_enter, "onEnter"), (on_exit, "onExit")):
                if hook is not None:
                    self._check_hook(hook, (), kind, "any function")
        else:
            try:
                if on_enter is not None:
                    self._check_hook(on_enter, (*receiver, *func.params), "onEnter", target_name)
                if on_exit is not None:
                    self._check_hook(on_exit, func.results, "onExit", target_name)
            except UserError as mismatch:
                if not rule_set.builtin:
                    raise  # the user's own rule: theirs to fix
                # A release of the library the built-in hooks do not know yet (or a local copy of
                # it, which has no version to choose between rules by): trace less, never break
                # the build.
                self.plan.warnings.append(f"{mismatch} The built-in rule is skipped.")
                return
        app = Application(rule, rule_set.name, on_enter, on_exit)
        target = self._targets.get((path, func.line))
        if target is not None:
            # After those of a lower or equal order: file order on ties.
            bisect.insort_right(target.applications, app, key=lambda a: a.rule.order)
            return
        target = Target(pkg, path, func, [app])
        self._targets[(path, func.line)] = target
        self.plan.targets.append(target)

    def _with_receiver_constraints(self, func: FuncDecl, pkg: Package) -> FuncDecl:
        """A generic method's trampolines need its type's constraints, declared with the type."""
        if func.receiver_base is None or not func.type_params or func.type_params[0].constraint:
            return func
        declared = self._generic_type(pkg, func.receiver_base)
        if declared is not None and len(declared) == len(func.type_params):
            params = tuple(
                goparse.TypeParam(mine.name, theirs.constraint)
                for mine, theirs in zip(func.type_params, declared, strict=True)
            )
            return _replace_type_params(func, params)
        return _replace_type_params(
            func, tuple(goparse.TypeParam(p.name, "any") for p in func.type_params)
        )

    def _generic_type(self, pkg: Package, name: str) -> tuple[goparse.TypeParam, ...] | None:
        """The type parameters of the generic type `name` of `pkg`, found once per type."""
        key = (pkg.import_path, name)
        if key not in self._generic_types:
            self._generic_types[key] = None
            pattern = re.compile(rb"\b" + re.escape(name.encode()) + rb"\s*\[")
            for path in pkg.go_files:
                source = path.read_bytes()
                if not pattern.search(source):
                    continue
                parsed = self.plan.parsed.get(path) or self.reader.parse(
                    str(path), source, pkg.import_path
                )
                declared = parsed.types.get(name)
                if declared and declared[0]:
                    self._generic_types[key] = declared[0]
                    break
        return self._generic_types[key]

    def add_directives(self, rule_set: RuleSet, packages: Sequence[Package]) -> None:
        """A rule for each function of `packages` (the main modules') with //otel:span above it,
        and in each such package a file that registers the spans' names and attributes."""
        for pkg in packages:
            registrations: list[str] = []
            for path in pkg.go_files:
                if goparse.SPAN_DIRECTIVE.encode() not in path.read_bytes():
                    continue
                parsed = self._parse(path, pkg)
                for func in parsed.functions:
                    if func.span_directive is None or func.ignored or parsed.ignored:
                        continue
                    where = f"{path}:{func.span_directive_line}"
                    name, attributes = _span_arguments(func.span_directive, where)
                    if func.body_open is None:
                        self.plan.warnings.append(
                            f"{where}: //otel:span on {func.qualified_name}, which has no body; skipped."
                        )
                        continue
                    if parsed.has_dot_import:
                        self.plan.warnings.append(
                            f"{where}: //otel:span on {func.qualified_name}, in a file with a dot import; skipped."
                        )
                        continue
                    rule = FunctionRule(
                        import_path=pkg.import_path,
                        function=func.name,
                        receiver=func.display_receiver,
                        on_enter=DIRECTIVE_ENTER,
                        on_exit=DIRECTIVE_EXIT,
                        source=where,
                    )
                    self._apply(rule_set, rule, pkg, path, func, context_only=True)
                    registrations.append(_registration(pkg, func, name, attributes))
            if registrations:
                self.plan.file_additions.append(
                    FileAddition(
                        pkg, pkg.dir / DIRECTIVE_FILE, DIRECTIVE_FILE, None,
                        _registration_file(pkg.name, rule_set.hooks, registrations),
                    )
                )  # fmt: skip

    def add_struct_rule(
        self, rule_set: RuleSet, rule: StructRule, packages: Sequence[Package]
    ) -> None:
        for pkg in packages:
            if pkg.import_path != rule.import_path or not _rule_applies(rule, pkg, self.go_version):
                continue
            if not self._may_change(rule_set, rule.source, pkg):
                continue
            for path in self._candidate_files(pkg, rule.struct):
                declared = self._parse(path, pkg).types.get(rule.struct)
                if declared is not None and declared[1] is not None:
                    offset, text = _field_at_end(
                        path.read_bytes(), declared[1], f"{rule.field_name} {rule.field_type};"
                    )
                    self.plan.struct_edits.append(StructEdit(pkg, path, offset, text, rule))
                    break
            else:
                self.plan.warnings.append(
                    f"{rule.source}: {pkg.import_path} has no struct type {rule.struct}; rule skipped."
                )

    def _may_change(self, rule_set: RuleSet, source: str, pkg: Package) -> bool:
        """The runtime's own machinery takes fields and files from built-in support sets only."""
        if NEVER_INSTRUMENTED.match(pkg.import_path) and not _trusted(rule_set):
            self.plan.warnings.append(
                f"{source}: {pkg.import_path} cannot be changed by a user's rule; rule skipped."
            )
            return False
        return True

    def add_file_rule(self, rule_set: RuleSet, rule: FileRule, packages: Sequence[Package]) -> None:
        for pkg in packages:
            if (
                _matches_package(rule.import_path, pkg)
                and _rule_applies(rule, pkg, self.go_version)
                and self._may_change(rule_set, rule.source, pkg)
            ):
                name = f"zz_otel_{rule_set.name}_{rule.file.name}"
                self.plan.file_additions.append(FileAddition(pkg, rule.file, name, rule))


def _trusted(rule_set: RuleSet) -> bool:
    """Built-in support sets may add to the runtime's own machinery (NEVER_INSTRUMENTED)."""
    return rule_set.builtin and rule_set.support


def _requires_hooks_tag(constraint: str | None) -> bool:
    """Whether a `//go:build` line keeps its file out of every build without HOOKS_TAG: the tag
    is a term of a conjunction of terms (`otelautoinst`, `otelautoinst && linux`)."""
    if constraint is None:
        return False
    expression = constraint.removeprefix("//go:build").strip()
    if "||" in expression or "(" in expression:
        return False
    return HOOKS_TAG in [term.strip() for term in expression.split("&&")]


def _span_arguments(text: str, where: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The span name (None: the default) and the attributes of a //otel:span line's arguments:
    `name=VALUE` and `key=VALUE` pairs separated by spaces, each VALUE a word or a Go string
    literal in double quotes."""
    name: str | None = None
    attributes: list[tuple[str, str]] = []
    pattern = re.compile(r'\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?=\s|$)')
    at = 0
    text = text.strip()
    while at < len(text):
        match = pattern.match(text, at)
        if match is None or not match.group(2):
            token = text[at:].split()[0]
            raise UserError(
                f"{where}: //otel:span takes name=VALUE and key=VALUE pairs separated by spaces "
                f'(a VALUE with spaces in double quotes), got "{token}".'
            )
        key, raw = match.group(1), match.group(2)
        value = raw
        if raw.startswith('"'):
            try:
                value = json.loads(raw)
            except ValueError:
                raise UserError(
                    f"{where}: //otel:span: {raw} is not a valid quoted string."
                ) from None
        if not _ATTRIBUTE_KEY.fullmatch(key):
            raise UserError(
                f'{where}: //otel:span: "{key}" is not an attribute key (letters, digits, "_", "." '
                'and "-", not starting with a digit).'
            )
        if key == "name":
            if name is not None or not value:
                raise UserError(f"{where}: //otel:span: name must be given once, not empty.")
            name = value
        elif any(key == k for k, _ in attributes):
            raise UserError(f'{where}: //otel:span: the key "{key}" is given twice.')
        else:
            attributes.append((key, value))
        at = match.end()
    return name, attributes


def _go_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\ufeff", "\\ufeff")


def _registration(
    pkg: Package, func: FuncDecl, name: str | None, attributes: list[tuple[str, str]]
) -> str:
    """One rules/directive.Register call: the function as the CallContext names it, the span's
    name (pkg.Func, pkg.(*T).Method by default, as Go's stack traces name them), its full name,
    the CallContext index of its context.Context parameter and of its error result (-1: none)."""
    if func.receiver_base is None:
        shown = func.name
    elif func.receiver_pointer:
        shown = f"(*{func.receiver_base}).{func.name}"
    else:
        shown = f"{func.receiver_base}.{func.name}"
    first = 1 if func.receiver is not None else 0
    ctx = next(
        (first + i for i, p in enumerate(func.params) if p.canonical == "context.Context"), -1
    )
    error = len(func.results) - 1 if func.results and func.results[-1].canonical == "error" else -1
    args = [
        pkg.import_path,
        func.qualified_name,
        name if name is not None else f"{pkg.name}.{shown}",
        f"{pkg.import_path}.{shown}",
    ]
    pairs = [v for pair in attributes for v in pair]
    return (
        f"\t_otelDirective.Register({', '.join(_go_string(a) for a in args)}, {ctx}, {error}"
        + "".join(f", {_go_string(v)}" for v in pairs)
        + ")\n"
    )


def _registration_file(package: str, hooks: str, registrations: list[str]) -> bytes:
    return (
        "// Code generated by otel-go-autoinst. DO NOT EDIT.\n\n"
        f"package {package}\n\nimport _otelDirective {_go_string(hooks)}\n\n"
        f"func init() {{\n{''.join(registrations)}}}\n"
    ).encode()


def _field_at_end(source: bytes, struct_open: int, field_text: str) -> tuple[int, str]:
    """Where and how a new field goes last in the struct whose "{" ends at `struct_open`: at the
    closing "}", on its line. Last, because a field first would move every other field (assembly
    reads runtime.g's stack guard at a fixed offset; a leading 64-bit word is what 32-bit atomics
    rely on being aligned; a *T is used as a pointer to its first field)."""
    depth, i, n = 1, struct_open, len(source)
    while i < n:
        c = source[i : i + 1]
        if c == b"{":
            depth += 1
        elif c == b"}":
            depth -= 1
            if depth == 0:
                break
        elif source.startswith(b"//", i):
            i = source.find(b"\n", i)
            i = n if i < 0 else i
            continue
        elif source.startswith(b"/*", i):
            i = source.find(b"*/", i + 2)
            i = n if i < 0 else i + 2
            continue
        elif c in (b'"', b"'", b"`"):
            j = i + 1
            while j < n and source[j : j + 1] != c:
                j += 2 if c != b"`" and source[j : j + 1] == b"\\" else 1
            i = j + 1
            continue
        i += 1
    before = source[struct_open:i].rstrip(b" \t")
    if not before.strip():  # an empty struct: struct{} or struct {\n}
        return i, f" {field_text} "
    if before.endswith(b"\n"):  # "}" opens its line: the field before it ended with the newline
        return i, f"{field_text} "
    return i, f"; {field_text} "


def _replace_type_params(func: FuncDecl, params: tuple[goparse.TypeParam, ...]) -> FuncDecl:
    from dataclasses import replace

    return replace(func, type_params=params)


def package_index(packages: Iterable[Package]) -> dict[str, list[Package]]:
    """The packages a rule's import_path names, looked up once per rule: by import path, and
    "main" for the main package of every program."""
    index: dict[str, list[Package]] = {}
    for pkg in packages:
        index.setdefault(pkg.import_path, []).append(pkg)
        if _matches_package("main", pkg):
            index.setdefault("main", []).append(pkg)
    return index


def make_plan(
    rule_sets: Sequence[RuleSet],
    packages: Sequence[Package],
    go_version: str,
    hooks_dirs: dict[str, Package],
    main_modules: Collection[str] = (),
    reader: Reader | None = None,
) -> Plan:
    """Linear in the rules and in the size of the packages they name: packages are looked up by
    import path, each file a rule can match is read once for all the names looked for in its
    package, and parsed once. //otel:span directives are looked for in the packages of
    `main_modules` (module paths) only: never in dependencies or the standard library. `reader`
    reads the files (the engine's reuses earlier runs' answers)."""
    planner = Planner(rule_sets, go_version, hooks_dirs, reader or Reader())
    buildable = buildable_packages(packages)
    index = package_index(buildable)
    own = [
        p for p in buildable
        if not p.standard and p.module_version is None and p.module_path in main_modules
    ]  # fmt: skip
    for rule_set in rule_sets:
        for rule in rule_set.functions:
            for pkg in index.get(rule.import_path, ()):
                planner.want(pkg, [rule.function])
        for struct_rule in rule_set.structs:
            for pkg in index.get(struct_rule.import_path, ()):
                planner.want(pkg, [struct_rule.struct])
    # Support sets (the SDK set-up) apply only when another set instruments something.
    for support in (False, True):
        if support and not planner.plan.targets:
            break
        for rule_set in rule_sets:
            if rule_set.support != support:
                continue
            if rule_set.builtin and rule_set.name == DIRECTIVE_SET:
                planner.add_directives(rule_set, own)
            for rule in rule_set.functions:
                planner.add_function_rule(rule_set, rule, index.get(rule.import_path, []))
            for struct_rule in rule_set.structs:
                planner.add_struct_rule(
                    rule_set, struct_rule, index.get(struct_rule.import_path, [])
                )
            for file_rule in rule_set.files:
                planner.add_file_rule(rule_set, file_rule, index.get(file_rule.import_path, []))
    planner.plan.targets.sort(key=lambda t: (t.package.import_path, str(t.file), t.func.line))
    return planner.plan
