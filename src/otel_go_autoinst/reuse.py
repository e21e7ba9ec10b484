"""What a rerun takes from the previous run instead of asking again.

A warm rebuild after a one-line change should cost what the plain one costs, plus the link. The
tool's own fixed costs were the go command's package lists (`go list -deps -json`, `go list -m
all`: hundreds of milliseconds each on a real module), parsing the files the rules target (the
standard library's largest files among them) and validating the rule files. All are kept:

- a package list is reused while everything it was computed from is unchanged: in its key, what
  `go env` says, the GO* environment, the arguments and every go.mod/go.sum/go.work the build
  uses; checked on reuse, every local package directory of the list (its file names and the
  header of each Go file: build constraints, package clause, imports, what `go list` reads, so
  that editing a function body keeps the list and adding a file or an import does not), the
  tree of a recursive pattern (`./...`), and the presence of the module cache directories it
  names;
- a parsed file, the names a package's files mention, and a validated rule file, while the
  paths and the bytes are the same. Content, not timestamps: a fresh checkout (every CI run) has
  new timestamps and the same content.

Entries are signed like the escape verdicts (cache.load_signed): a cache directory that someone
else can write to yields nothing but a recomputation; and they are loaded by an unpickler that
admits only the tool's own data classes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import __version__, cache
from .goparse import GoFile
from .plan import Reader
from .rules import RuleSet, load_rule_file

_T = TypeVar("_T")

# The first top-level declaration ends a Go file's header; comments and literals are skipped so
# that a "func" inside them does not end it early.
_TOKENS = re.compile(
    rb'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|`[^`]*`|\'(?:\\.|[^\'\\\n])*\'|'
    rb"(?<![\w.])(?P<decl>func|type|var|const)(?!\w)",
    re.S,
)
# Part of every key: another version of the tool, or another shape of an entry, finds nothing.
_FORMAT = f"{__version__} reuse 3"
# The environment the go command reads (GOWORK is replaced by its file's content).
_GO_ENV = re.compile(r"(GO\w*|CGO_\w+|CC|CXX|PKG_CONFIG)")
# Patterns whose packages cannot be told from the directories of a previous answer.
_META_PATTERNS = frozenset({"all", "std", "cmd", "tool", "work"})


def go_header(source: bytes) -> bytes:
    """What `go list` reads of a Go file: everything before its first top-level declaration."""
    for match in _TOKENS.finditer(source):
        if match["decl"]:
            return source[: match.start()]
    return source


def directory_digest(directory: Path) -> str:
    """The names in `directory` and the header of each of its Go files ("" if it is gone)."""
    digest = hashlib.sha256()
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return ""
    for name in names:
        digest.update(name.encode() + b"\0")
        if name.endswith(".go"):
            try:
                digest.update(go_header((directory / name).read_bytes()) + b"\0")
            except OSError:
                digest.update(b"\1")
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Present:
    """A dependency checked for its presence only: a module cache directory, whose content never
    changes but which `go clean -modcache` removes."""

    path: Path


def _mark(path: Path | Present) -> str:
    """A directory's digest, a file's content hash, or a presence ("" when it is absent)."""
    if isinstance(path, Present):
        return "present" if path.path.is_dir() else ""
    if path.is_dir():
        return directory_digest(path)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def tree_digest(base: Path) -> str:
    """The directories under `base` that hold Go files or a go.mod: what `./...` can match."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and d != "testdata")
        marks = [m for m in ("go", "mod") if any(_marks(f, m) for f in files)]
        if marks:
            digest.update(f"{os.path.relpath(root, base)}\0{','.join(marks)}\0".encode())
    return digest.hexdigest()


def _marks(name: str, mark: str) -> bool:
    return name.endswith(".go") if mark == "go" else name == "go.mod"


def reusable_patterns(patterns: Sequence[str]) -> bool:
    """Whether a list of `patterns` can be checked by its directories: relative or absolute paths,
    or single import paths (`./...` is checked by its tree; `all`, `std`, `x/...` are not)."""
    for pattern in patterns:
        relative = pattern.startswith((".", "/"))
        if pattern in _META_PATTERNS or ("..." in pattern and not relative):
            return False
    return True


class Inputs:
    """The key material of one list: what it was computed from, in the order given."""

    def __init__(self, kind: str, cwd: Path, env: Mapping[str, str], args: Sequence[str]):
        self.digest = hashlib.sha256()
        self.slot = hashlib.sha256(f"{kind}\0{cwd}\0{args}".encode()).hexdigest()[:32]
        self.add(_FORMAT, kind, str(cwd), *args)
        gowork = env.get("GOWORK", "")
        for name in sorted(n for n in env if _GO_ENV.fullmatch(n) and n != "GOWORK"):
            self.add(f"{name}={env[name]}")
        if gowork and gowork != "off":
            self.add_file(Path(gowork), anonymous=Path(gowork).parent)
        else:
            self.add(f"GOWORK={gowork}")

    def add(self, *parts: str) -> None:
        for part in parts:
            self.digest.update(part.encode() + b"\0")

    def add_file(self, path: Path, anonymous: Path | None = None) -> None:
        """A file's content; `anonymous`: a per-run directory named in it, left out of the key."""
        try:
            content = path.read_bytes()
        except OSError:
            content = b"\1absent"
        name = str(path)
        if anonymous is not None:
            content = content.replace(str(anonymous).encode(), b"<run>")
            name = name.replace(str(anonymous), "<run>")
        self.digest.update(name.encode() + b"\0" + content + b"\0")

    def add_modules(self, directories: Iterable[Path]) -> None:
        for directory in sorted(set(directories)):
            for name in ("go.mod", "go.sum", "vendor/modules.txt"):
                self.add_file(directory / name)


def remembered(
    inputs: Inputs,
    compute: Callable[[], _T],
    depends_on: Callable[[_T], Iterable[Path | Present]],
    trees: Sequence[Path] = (),
    keep: Callable[[_T], bool] = lambda _: True,
) -> _T:
    """`compute()`, or its value from a previous run with the same inputs whose directories and
    files (`depends_on(value)`, and the `trees` of recursive patterns) are unchanged. A value that
    `keep` refuses (an answer with errors, which may be transient) is not kept."""
    key = inputs.digest.hexdigest()
    found = _recall("lists", inputs.slot, key)
    if isinstance(found, tuple) and len(found) == 3:
        marks, tree_marks, value = found
        if (
            tree_marks == [tree_digest(t) for t in trees]
            and all(isinstance(d, Path | Present) for d, _ in marks)
            and all(_mark(d) == mark for d, mark in marks)
        ):
            return value  # type: ignore[no-any-return]
    value = compute()
    if keep(value):
        marks = [(d, _mark(d)) for d in set(depends_on(value))]
        _keep("lists", inputs.slot, key, (marks, [tree_digest(t) for t in trees], value))
    return value


class RememberingReader(Reader):
    """The planner's reader, with the answers of earlier runs on the same bytes."""

    def parse(self, path: str, source: bytes, package: str) -> GoFile:
        key = _digest(path, package, source)
        found = _recall("parsed", key[:32], key)
        if isinstance(found, GoFile):
            found.source = source
            return found
        result = super().parse(path, source, package)
        _keep("parsed", key[:32], key, GoFile(**{**result.__dict__, "source": b""}))
        return result

    def words(self, paths: Sequence[Path], wanted: frozenset[str]) -> dict[str, list[Path]]:
        key = _digest(*sorted(wanted), *(_digest(str(p), p.read_bytes()) for p in paths))
        found = _recall("words", key[:32], key)
        if isinstance(found, dict):
            return {word: [Path(p) for p in files] for word, files in found.items()}
        index = super().words(paths, wanted)
        _keep("words", key[:32], key, {w: [str(p) for p in files] for w, files in index.items()})
        return index


def rule_file(path: Path, *, builtin: bool) -> RuleSet:
    """`load_rule_file`, or the rule set an earlier run loaded and validated from the same bytes
    (a file that does not load is never kept: its error is given again; nor is one whose Go
    files next to it are gone)."""
    try:
        key = _digest(str(path.absolute()), str(builtin), path.read_bytes())
    except OSError:
        return load_rule_file(path, builtin=builtin)  # which says why it cannot be read
    found = _recall("rules", key[:32], key)
    # (what loading checks besides the file: the Go files next to it)
    if isinstance(found, RuleSet) and all(rule.file.is_file() for rule in found.files):
        return found
    loaded = load_rule_file(path, builtin=builtin)
    _keep("rules", key[:32], key, loaded)
    return loaded


# The only classes an entry may name besides the tool's own data classes: it is signed, and even
# so it never names a function to call.
_FOREIGN = frozenset(
    {("pathlib", "PosixPath"), ("pathlib", "WindowsPath"), ("semver.version", "Version")}
)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _FOREIGN:
            return super().find_class(module, name)
        if module.startswith("otel_go_autoinst."):
            found = super().find_class(module, name)
            if isinstance(found, type) and dataclasses.is_dataclass(found):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a kept value")


def _recall(kind: str, slot: str, key: str) -> object | None:
    """The value kept in `kind`/`slot` for `key`, or None (absent, not signed by this user's
    runs, or written by another version of the tool)."""
    raw = cache.load_signed(kind, slot, key)
    if raw is None:
        return None
    try:
        return _Unpickler(io.BytesIO(raw)).load()
    except Exception:
        return None


def _keep(kind: str, slot: str, key: str, value: object) -> None:
    cache.store_signed(kind, slot, key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _digest(*parts: str | bytes) -> str:
    digest = hashlib.sha256(_FORMAT.encode())
    for part in parts:
        digest.update(b"\0" + (part.encode() if isinstance(part, str) else part))
    return digest.hexdigest()
