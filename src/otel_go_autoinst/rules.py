"""Rules: YAML files, one per integration, beside the Go package that holds its hooks.

Safe-loaded and validated; every error names the file, the line and the field.

    name: nethttp                                   # required, [a-z0-9_-]+
    hooks: github.com/org/repo/rules/nethttp        # required, import path of the hooks package
    support: false                                  # optional
    rules:
      - import_path: net/http                       # function rule
        function: RoundTrip
        receiver: "*Transport"                      # optional: T or *T
        version: "[1.21.0,)"                        # optional, see versions.py
        go_version: "[1.22,)"                       # optional
        on_enter: clientOnEnter                     # at least one of on_enter / on_exit
        on_exit: clientOnExit
        order: 10                                   # optional, default 0, lower is outermost
      - import_path: runtime                        # function rule that injects one statement
        function: gdestroy                          # (instead of hooks) on the function's "{"
        inject: "gp.otel_gls = nil"                 # line; on runtime & co. only in built-in
                                                    # support sets
      - import_path: net/http                       # struct rule
        struct: Request
        field: OtelSpan
        field_type: "any"
      - import_path: net/http                       # file rule
        file: extra_http.go                         # relative to this YAML file's folder

Entry points: `load_rule_sets` (built-in + user sets, disabling, duplicate names),
`load_rule_file` (one file) and `builtin_rules_dir`.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .errors import UserError
from .versions import VersionRange


@dataclass(frozen=True)
class FunctionRule:
    """Inject a TJump into one function or method."""

    import_path: str  # "main" matches the main package of every program in the build
    function: str
    receiver: str | None = None  # "Client", "*Client"; generic receivers by base name ("*Stack")
    version: VersionRange | None = (
        None  # of the target module (Go's version for the standard library)
    )
    go_version: VersionRange | None = None  # of the Go toolchain
    on_enter: str | None = None
    on_exit: str | None = None
    order: int = 0  # lower is outermost
    source: str = ""  # "file.yaml:LINE", for messages and the report
    # One Go statement placed right after the function's "{" (on that line), instead of hooks. An
    # unnamed result is named as the TJump names it (_otelR0, ...), so a deferred statement can
    # reach it. Packages never instrumented (the runtime) accept it from built-in support sets only.
    inject: str | None = None


@dataclass(frozen=True)
class StructRule:
    """Add a field to a struct type."""

    import_path: str
    struct: str
    field_name: str
    field_type: str
    version: VersionRange | None = None
    go_version: VersionRange | None = None
    source: str = ""


@dataclass(frozen=True)
class FileRule:
    """Add a Go file to a package (its package clause is set to the target's package name)."""

    import_path: str
    file: Path  # absolute
    version: VersionRange | None = None
    go_version: VersionRange | None = None
    source: str = ""


@dataclass(frozen=True)
class RuleSet:
    """One rule file: an integration."""

    name: str
    hooks: str  # import path of the Go package holding the hook functions
    path: Path  # the YAML file
    builtin: bool
    # A support set (e.g. the SDK set-up) applies only to builds in which another set instruments
    # something: a program that uses no instrumented library gets no change at all.
    support: bool = False
    functions: tuple[FunctionRule, ...] = ()
    structs: tuple[StructRule, ...] = ()
    files: tuple[FileRule, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Locating and loading rule sets


def builtin_rules_dir() -> Path:
    """The Go module `rules/` shipped with the tool.

    `<package dir>/rules` in a wheel install (pyproject force-include), else `<repo root>/rules`
    for an editable install. The returned folder may not exist (then there are no built-ins).
    """
    package_dir = Path(__file__).resolve().parent
    packaged = package_dir / "rules"
    if packaged.is_dir():
        return packaged
    return package_dir.parent.parent / "rules"


def load_rule_sets(
    user_paths: Sequence[Path],
    disabled: Collection[str] = (),
    *,
    builtin_dir: Path | None = None,
    load_file: Callable[..., RuleSet] | None = None,
) -> list[RuleSet]:
    """Load the built-in rule sets (minus `disabled`) and the user's, in that order.

    Built-ins are the `*.yaml` files one level below `builtin_dir` (default: `builtin_rules_dir()`),
    i.e. `rules/<integration>/*.yaml`, sorted by path. Each user path is a YAML file or a folder
    searched recursively for `*.yaml` / `*.yml` (sorted); a file reached twice is loaded once.
    `disabled` names built-in sets; a name that is no built-in set is an error. Two enabled sets
    with one name are an error (a user set may take the name of a disabled built-in, to replace
    it). Every error is a UserError naming file, line and field. `load_file` loads one file as
    load_rule_file does (the engine's reuses the files validated by earlier runs).
    """
    load_file = load_file or load_rule_file
    base = builtin_rules_dir() if builtin_dir is None else Path(builtin_dir)
    builtin_files: list[Path] = []
    if base.is_dir():
        builtin_files = sorted(p for p in base.glob("*/*.yaml") if p.is_file())
    builtins = [load_file(p, builtin=True) for p in builtin_files]
    _check_unique(builtins)

    known = sorted({s.name for s in builtins})
    off = set(disabled)
    unknown = sorted(off.difference(known))
    if unknown:
        names = ", ".join(f'"{n}"' for n in unknown)
        what = (
            "is not the name of a built-in rule set"
            if len(unknown) == 1
            else ("are not names of built-in rule sets")
        )
        listing = ", ".join(known) if known else "none"
        raise UserError(f"Cannot disable {names}: {what} (known built-in sets: {listing}).")

    users = [load_file(p, builtin=False) for p in _user_files(user_paths)]
    result = [s for s in builtins if s.name not in off] + users
    _check_unique(result)
    return result


def _user_files(user_paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()
    for given in user_paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            if not found:
                raise UserError(f"{path}: the rules folder holds no *.yaml or *.yml file.")
        elif path.exists():
            found = [path]
        else:
            raise UserError(f"{path}: no such rule file or folder.")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                files.append(p)
    return files


def _check_unique(sets: Sequence[RuleSet]) -> None:
    first: dict[str, RuleSet] = {}
    for s in sets:
        if s.name in first:
            other = first[s.name]
            raise UserError(
                f'Two rule sets are named "{s.name}": {_display(other.path)} and '
                f"{_display(s.path)} (rename one, or disable the built-in one)."
            )
        first[s.name] = s


def _display(path: Path) -> str:
    """The path relative to the current folder when it lies below it, else as given."""
    if path.is_absolute():
        cwd = Path.cwd()
        for candidate in (path, path.resolve()):
            for base in (cwd, cwd.resolve()):
                try:
                    return str(candidate.relative_to(base))
                except ValueError:
                    continue
    return str(path)


# --------------------------------------------------------------------------------------------
# The schema: shapes and types. Each leaf carries a "description" used as "expected ..." in errors.

_VERSION_RANGE = {
    "type": "string",
    "description": 'a quoted version range like "[1.9.0,1.11.0)" or "[1.22,)"',
}
_IMPORT_PATH = {
    "type": "string",
    "description": 'a Go import path like "net/http", or "main"',
}
_IDENT = {"type": "string", "description": 'a Go identifier like "RoundTrip"'}
_HOOK = {"type": "string", "description": 'the name of a hook function like "clientOnEnter"'}

_TOP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a mapping with the keys name, hooks and rules",
    "required": ["name", "hooks"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "pattern": r"^[a-z0-9_-]+$",
            "description": 'a name of lowercase letters, digits, "_" and "-" like "nethttp"',
        },
        "hooks": {
            "type": "string",
            "description": 'the import path of the hooks package, like "example.com/m/hooks"',
        },
        "support": {"type": "boolean", "description": "true or false"},
        "rules": {
            "type": "array",
            "description": "a list of rules",
            "items": {
                "type": "object",
                "description": "a rule: a mapping with import_path and function, struct or file",
            },
        },
    },
}

_COMMON = {"import_path": _IMPORT_PATH, "version": _VERSION_RANGE, "go_version": _VERSION_RANGE}

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "function": {
        "type": "object",
        "required": ["import_path", "function"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "function": _IDENT,
            "receiver": {
                "type": "string",
                "description": 'a string like "Client" or "*Client"',
            },
            "on_enter": _HOOK,
            "on_exit": _HOOK,
            "order": {"type": "integer", "description": "an integer like 10"},
            "inject": {
                "type": "string",
                "description": 'one Go statement on one line, like "gp.otel_gls = nil"',
            },
        },
    },
    "struct": {
        "type": "object",
        "required": ["import_path", "struct", "field", "field_type"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "struct": {"type": "string", "description": 'a Go type name like "Request"'},
            "field": {"type": "string", "description": 'a Go identifier like "OtelSpan"'},
            "field_type": {"type": "string", "description": 'a Go type like "any" or "*Span"'},
        },
    },
    "file": {
        "type": "object",
        "required": ["import_path", "file"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "file": {
                "type": "string",
                "description": 'a .go file next to the rule file like "extra_http.go"',
            },
        },
    },
}

_KINDS = ("function", "struct", "file")


@functools.cache
def _validators() -> tuple[Any, dict[str, Any]]:
    """The top-level validator and one per rule kind. jsonschema is imported only when a file is
    validated: a rerun takes validated files from reuse.py."""
    import jsonschema

    validator_class = jsonschema.Draft202012Validator
    kinds = {kind: validator_class(schema) for kind, schema in _KIND_SCHEMAS.items()}
    return validator_class(_TOP_SCHEMA), kinds


_GO_KEYWORDS = frozenset(
    "break case chan const continue default defer else fallthrough for func go goto if import "
    "interface map package range return select struct switch type var".split()
)
_IMPORT_PATH_RE = re.compile(r"^[A-Za-z0-9._~+-]+(/[A-Za-z0-9._~+-]+)*$")


def _is_go_identifier(text: str) -> bool:
    if not text or text == "_" or text in _GO_KEYWORDS:
        return False
    if not (text[0].isalpha() or text[0] == "_"):
        return False
    return all(c.isalnum() or c == "_" for c in text)


# --------------------------------------------------------------------------------------------
# One file

Path_ = tuple[str | int, ...]


class _File:
    """A rule file being loaded: its name for messages and its YAML node tree for line numbers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = _display(path)
        self.root: yaml.Node | None = None

    def fail(self, line: int, where: Path_ | str, message: str) -> NoReturn:
        field_name = where if isinstance(where, str) else _field(where)
        message = message.rstrip(".")
        prefix = f"{self.shown}:{line}: "
        if field_name:
            prefix += f"{field_name}: "
        raise UserError(prefix + message + ".") from None

    def fail_at(self, where: Path_, message: str, *, key: bool = False) -> NoReturn:
        self.fail(self.line(where, key=key), where, message)

    def line(self, where: Path_, *, key: bool = False) -> int:
        """1-based line of the value at `where` (of its key with key=True), else of its parent."""
        node, key_node, _ = self._find(where)
        if key and key_node is not None:
            node = key_node
        return node.start_mark.line + 1 if node is not None else 1

    def got(self, where: Path_, value: Any) -> str:
        """How to show a bad value: as written too when YAML read an unquoted scalar as non-text."""
        shown = _describe(value)
        node, _, exact = self._find(where)
        if exact and isinstance(node, yaml.ScalarNode) and node.style in (None, ""):  # plain
            if not isinstance(value, str) and node.value != shown:
                return f"{node.value}, which YAML reads as {shown}"
        return shown

    def _find(self, where: Path_) -> tuple[yaml.Node | None, yaml.Node | None, bool]:
        """The node at `where` (or its nearest parent), its key node, and whether it was found."""
        node = self.root
        key_node: yaml.Node | None = None
        if node is None:
            return None, None, False
        for step in where:
            child: yaml.Node | None = None
            key_node = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(step):
                        key_node, child = k, v
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if 0 <= step < len(node.value):
                    child = node.value[step]
            if child is None:
                return node, None, False
            node = child
        return node, key_node, True


def _field(where: Path_) -> str:
    out = ""
    for step in where:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + step
    return out


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


def load_rule_file(path: Path, *, builtin: bool = False) -> RuleSet:
    """Load and validate one rule file; raises UserError naming file, line and field."""
    path = Path(path)
    f = _File(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{f.shown}: cannot read the rule file ({e.strerror or e}).") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        f.fail(line, "", f"the file is not UTF-8 text (byte 0x{raw[e.start]:02x})")

    data = _parse_yaml(f, text)
    if data is None:
        f.fail(1, "", "the file is empty; expected a mapping with the keys name, hooks and rules")
    if not isinstance(data, dict):
        f.fail_at(
            (), f"expected a mapping with the keys name, hooks and rules, got {_describe(data)}"
        )

    _validate(f, _validators()[0], data, ())
    rule_set_dir = path.absolute().parent
    functions: list[FunctionRule] = []
    structs: list[StructRule] = []
    files: list[FileRule] = []
    hooks: str = data["hooks"]
    if not _IMPORT_PATH_RE.match(hooks):
        f.fail_at(
            ("hooks",),
            f"expected {_TOP_SCHEMA['properties']['hooks']['description']}, got {_describe(hooks)}",
        )

    for i, entry in enumerate(data.get("rules", [])):
        where: Path_ = ("rules", i)
        present = [k for k in _KINDS if k in entry]
        if not present:
            all_keys = list(
                dict.fromkeys(k for s in _KIND_SCHEMAS.values() for k in s["properties"])
            )
            for key in entry:
                if key not in all_keys:
                    _unknown_key(f, (*where, key), all_keys)
            f.fail_at(where, "a rule needs exactly one of the keys function, struct or file")
        if len(present) > 1:
            f.fail_at(
                (*where, present[1]),
                f"a rule has exactly one of function, struct or file, got both {present[0]} "
                f"and {present[1]}",
                key=True,
            )
        kind = present[0]
        _validate(f, _validators()[1][kind], entry, where)
        source = f"{f.shown}:{f.line(where)}"
        import_path: str = entry["import_path"]
        if import_path != "main" and not _IMPORT_PATH_RE.match(import_path):
            f.fail_at(
                (*where, "import_path"),
                f"expected {_IMPORT_PATH['description']}, got {_describe(import_path)}",
            )
        version = _range(f, entry, (*where, "version"))
        go_version = _range(f, entry, (*where, "go_version"))

        if kind == "function":
            _identifier(
                f, entry, (*where, "function"), 'a Go function or method name like "RoundTrip"'
            )
            receiver = entry.get("receiver")
            if receiver is not None:
                base = receiver[1:] if receiver.startswith("*") else receiver
                if not _is_go_identifier(base):
                    hint = ""
                    if "[" in base:
                        hint = ' (a generic receiver is named by its base name, like "*Stack")'
                    f.fail_at(
                        (*where, "receiver"),
                        f'expected a string like "Client" or "*Client", got {_describe(receiver)}'
                        + hint,
                    )
            inject = entry.get("inject")
            if inject is not None:
                if "on_enter" in entry or "on_exit" in entry:
                    f.fail_at(
                        (*where, "inject"),
                        "a function rule has either inject or hooks (on_enter, on_exit), not both",
                        key=True,
                    )
                inject = inject.strip()
                if not inject or "\n" in inject or "\r" in inject:
                    f.fail_at(
                        (*where, "inject"),
                        'expected one Go statement on one line, like "gp.otel_gls = nil", '
                        f"got {_describe(entry['inject'])}",
                    )
            elif "on_enter" not in entry and "on_exit" not in entry:
                f.fail_at(where, "a function rule needs on_enter, on_exit or both (or inject)")
            for hook in ("on_enter", "on_exit"):
                if hook in entry:
                    _identifier(
                        f, entry, (*where, hook), 'a hook function name like "clientOnEnter"'
                    )
            functions.append(
                FunctionRule(
                    import_path=import_path,
                    function=entry["function"],
                    receiver=receiver,
                    version=version,
                    go_version=go_version,
                    on_enter=entry.get("on_enter"),
                    on_exit=entry.get("on_exit"),
                    order=int(entry.get("order", 0)),
                    source=source,
                    inject=inject,
                )
            )
        elif kind == "struct":
            _identifier(f, entry, (*where, "struct"), 'a Go type name like "Request"')
            _identifier(f, entry, (*where, "field"), 'a Go identifier like "OtelSpan"')
            field_type: str = entry["field_type"].strip()
            if not field_type or "\n" in field_type or ";" in field_type:
                f.fail_at(
                    (*where, "field_type"),
                    'expected a Go type like "any" or "*Span", '
                    f"got {_describe(entry['field_type'])}",
                )
            structs.append(
                StructRule(
                    import_path=import_path,
                    struct=entry["struct"],
                    field_name=entry["field"],
                    field_type=field_type,
                    version=version,
                    go_version=go_version,
                    source=source,
                )
            )
        else:
            name: str = entry["file"]
            if not name.endswith(".go"):
                f.fail_at(
                    (*where, "file"),
                    f"expected a file whose name ends in .go, got {_describe(name)}",
                )
            target = Path(os.path.normpath(rule_set_dir / name))
            if not target.is_file():
                f.fail_at(
                    (*where, "file"),
                    f"{_describe(name)} is not a file next to the rule file "
                    f"(looked for {_display(target)})",
                )
            files.append(
                FileRule(
                    import_path=import_path,
                    file=target,
                    version=version,
                    go_version=go_version,
                    source=source,
                )
            )

    return RuleSet(
        name=data["name"],
        hooks=hooks,
        path=path.absolute(),
        builtin=builtin,
        support=bool(data.get("support", False)),
        functions=tuple(functions),
        structs=tuple(structs),
        files=tuple(files),
    )


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)  # libyaml, when PyYAML was built with it


def _parse_yaml(f: _File, text: str) -> Any:
    """Compose the node tree (kept for line numbers), then construct the data from it.

    With libyaml first (a rule file of thousands of rules loads in a fraction of the pure-Python
    time); any YAML error is then reported by the pure-Python loader, whose messages are the ones
    this module's errors are made of."""
    if _FAST_LOADER is not None:
        fast = _FAST_LOADER(text)
        try:
            node = fast.get_single_node()
            if node is None:
                return None
            f.root = node
            _check_duplicate_keys(f, node, ())
            return fast.construct_document(node)
        except yaml.YAMLError:
            f.root = None
        finally:
            fast.dispose()
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        f.root = node
        _check_duplicate_keys(f, node, ())
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = ", ".join(p for p in (e.context, e.problem) if p) or "unreadable YAML"
        constructing = isinstance(e, yaml.constructor.ConstructorError)
        kind = "invalid YAML" if constructing else "YAML syntax error"
        f.fail(line, "", f"{kind}: {problem}")
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        f.fail(line, "", f"invalid YAML: {e.reason} (character #x{e.character:04x})")
    except yaml.YAMLError as e:
        f.fail(1, "", f"invalid YAML: {' '.join(str(e).split())}")
    finally:
        if loader is not None:
            loader.dispose()


def _check_duplicate_keys(f: _File, node: yaml.Node, where: Path_) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                line = k.start_mark.line + 1
                if k.value in seen:
                    f.fail(
                        line,
                        (*where, k.value),
                        f"the key appears twice (first on line {seen[k.value]})",
                    )
                seen[k.value] = line
                _check_duplicate_keys(f, v, (*where, k.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicate_keys(f, item, (*where, i))


def _validate(f: _File, validator: Any, instance: Any, base: Path_) -> None:
    errors = list(validator.iter_errors(instance))
    if not errors:
        return

    # Report the first problem in the file's order; one sentence, one field.
    def place(e: Any) -> tuple[int, str]:  # a jsonschema.ValidationError
        where = (*base, *e.absolute_path)
        return f.line(where), _field(where)

    error = min(errors, key=place)
    if error.validator == "required":
        # A misspelt key explains the missing one: report the typo.
        for other in errors:
            if other.validator == "additionalProperties" and other.path == error.path:
                error = other
    where: Path_ = (*base, *error.absolute_path)
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    expected = schema.get("description", "a valid value")
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in value]
        f.fail_at((*where, missing[0]), "missing, it is required")
    if error.validator == "additionalProperties":
        known = list(schema.get("properties", {}))
        extras = [k for k in value if k not in known]
        key = extras[0]
        _unknown_key(f, (*where, key), known)
    f.fail_at(where, f"expected {expected}, got {f.got(where, value)}")


def _unknown_key(f: _File, where: Path_, known: Sequence[str]) -> NoReturn:
    close = difflib.get_close_matches(str(where[-1]), known, n=1)
    typo = f', perhaps a typo of "{close[0]}"' if close else ""
    f.fail_at(where, f"unknown key{typo} (known keys: {', '.join(known)})", key=True)


def _range(f: _File, entry: dict[str, Any], where: Path_) -> VersionRange | None:
    text = entry.get(str(where[-1]))
    if text is None:
        return None
    try:
        return VersionRange.parse(text)
    except ValueError as e:
        f.fail_at(where, str(e))


def _identifier(f: _File, entry: dict[str, Any], where: Path_, expected: str) -> None:
    value = entry[str(where[-1])]
    if not _is_go_identifier(value):
        f.fail_at(where, f"expected {expected}, got {f.got(where, value)}")
