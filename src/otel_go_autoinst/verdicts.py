"""Escape verdicts: whether each hook keeps what it is given, read from the compiler.

A trampoline hides the CallContext (and the parameters it points at) from escape analysis only
when the compiler says the hook does not keep it. The compiler says so when it compiles the hooks
packages with -m, against the instrumented packages they import, whose trampolines in turn depend
on the verdicts. Asking is a real build of the hooks and of everything under them: the SDK and the
instrumented standard library. Probing with conservative trampolines and then building with the
final ones compiled all of that twice: about a fifth of a cold build.

So the probe compiles the trampolines the build will use, made from a guess: the verdicts this
user's runs last found for the same hooks, else those shipped with the built-in rules
(`rules/escape-hints.json`, written by scripts/escape_hints.py), else conservative. The compiler's
answer F on a guess G decides:

- F within G (nothing escapes that G hides): F is used. Every value F hides is really not kept
  by the hooks as compiled, and hiding more only lowers what their callees leak, so F's own
  answer stays within F: the argument that lets a conservative probe's verdicts be used. With a
  right guess F equals G, and the build finds everything the probe compiled in Go's cache.
- Otherwise the guess grows by what escaped and the compiler is asked again; after MAX_ROUNDS,
  the conservative probe decides, as it always did.

A probe that fails (a compile error in the user's code, say: the build will show it) still
answers for the hooks it compiled; a hook it did not compile keeps everything. Only the verdicts
of a probe that succeeded are kept for the next run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path

from . import __version__, cache
from .build import Workspace, used_dirs
from .detect import Package
from .goparse import FuncDecl
from .plan import Hook, Plan
from .rewrite import Rewrite

Verdicts = dict[tuple[str, str], list[bool]]
# The compiler's -m notes: (absolute file, line) -> messages.
Notes = Mapping[tuple[str, int], list[str]]
# One probe: the compiler's verdicts on the hooks built against trampolines made from the given
# verdicts ({}: conservative), and whether that build succeeded.
Probe = Callable[[Verdicts], tuple[bool, Verdicts]]

HINTS_FILE = "escape-hints.json"
MAX_ROUNDS = 3


def settle(
    plan: Plan, hints: Mapping[tuple[str, str], list[bool]], probe: Probe
) -> tuple[Verdicts, bool]:
    """The verdicts to build with, and whether they may be kept for the next run."""
    guess = _hinted(plan, hints)
    for _ in range(MAX_ROUNDS):
        if not guess:
            break  # no hook has a hint
        ok, found = probe(guess)
        if _within(found, guess):
            return found, ok  # a failed build's verdicts hold too, but are not kept
        guess = {
            key: [g or f for g, f in zip(g_list, _answer(found, key, g_list), strict=True)]
            for key, g_list in guess.items()
        }
    ok, found = probe({})
    return found, ok


def hooks_of(plan: Plan) -> Iterable[Hook]:
    for target in plan.targets:
        for app in target.applications:
            for hook in (app.on_enter, app.on_exit):
                if hook is not None:
                    yield hook


def _hinted(plan: Plan, hints: Mapping[tuple[str, str], list[bool]]) -> Verdicts:
    guess: Verdicts = {}
    for hook in hooks_of(plan):
        hint = hints.get((hook.package, hook.name))
        if hint is not None and len(hint) == len(hook.decl.params):
            guess[(hook.package, hook.name)] = list(hint)
    return guess


def _answer(found: Verdicts, key: tuple[str, str], guessed: list[bool]) -> list[bool]:
    """The compiler's verdict on a guessed hook; a hook it said nothing of keeps everything."""
    answer = found.get(key)
    return answer if answer is not None and len(answer) == len(guessed) else [True] * len(guessed)


def _within(found: Verdicts, guess: Verdicts) -> bool:
    """Whether nothing the guess hides escapes (hooks not guessed were probed conservatively)."""
    return all(
        guessed or not escapes
        for key, g_list in guess.items()
        for guessed, escapes in zip(g_list, _answer(found, key, g_list), strict=True)
    )


def escape_verdicts(plan: Plan, notes: Notes) -> Verdicts:
    """Per hook, whether each parameter escapes, from the compiler's -m notes on the hooks package;
    a hook whose file was not compiled with -m gets none (it stays conservative)."""
    compiled = {file for file, _ in notes}
    verdicts: Verdicts = {}
    for hook in hooks_of(plan):
        if (hook.package, hook.name) not in verdicts and str(hook.file.resolve()) in compiled:
            verdicts[(hook.package, hook.name)] = param_verdicts(hook.decl, hook.file, notes)
    return verdicts


def param_verdicts(decl: FuncDecl, file: Path, notes: Notes) -> list[bool]:
    """Whether each parameter of `decl` leaks, by the notes on the lines of its signature."""
    last = decl.brace_line or decl.line
    messages = [
        m for line in range(decl.line, last + 1) for m in notes.get((str(file.resolve()), line), [])
    ]
    return [
        p.name not in (None, "_") and any(_leaks(m, p.name or "") for m in messages)
        for p in decl.params
    ]


def _leaks(message: str, name: str) -> bool:
    return bool(re.match(rf"leaking param( content)?: {re.escape(name)}\b", message))


# -- hints ------------------------------------------------------------------------------------


def load_hints(rules_dir: Path, go_version: str) -> dict[tuple[str, str], list[bool]]:
    """What this user's runs last found for each hook, over the shipped verdicts of the built-in
    hooks. A guess only: every one is checked by the compiler before it is built with."""
    hints: dict[tuple[str, str], list[bool]] = {}
    try:
        shipped = json.loads((rules_dir / HINTS_FILE).read_text(encoding="utf-8"))["hooks"]
        for package, hooks in shipped.items():
            for name, verdict in hooks.items():
                if isinstance(verdict, list) and all(isinstance(v, bool) for v in verdict):
                    hints[(package, name)] = verdict
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    hints.update(cache.load_verdicts(_hints_key(go_version), "hints") or {})
    return hints


def learn(go_version: str, verdicts: Verdicts) -> None:
    """Keep the settled verdicts as the next runs' hints for these hooks."""
    key = _hints_key(go_version)
    cache.store_verdicts(key, {**(cache.load_verdicts(key, "hints") or {}), **verdicts}, "hints")


def _hints_key(go_version: str) -> str:
    return hashlib.sha256(f"hints\0{__version__}\0{go_version}".encode()).hexdigest()


# -- the exact verdicts of a build, kept -------------------------------------------------------


def verdict_key(
    ws: Workspace,
    plan: Plan,
    conservative: Rewrite,
    dep_dirs: Collection[Path],
    local: Iterable[Package],
    flags: Sequence[str],
) -> str:
    """A hash of everything the compiler's verdicts on the hooks depend on: the tool and the Go
    toolchain and environment, the modules' requirements, the sources of the `local` packages
    (the hooks packages and the unversioned packages they import) and the conservative rewrite of
    the packages (in `dep_dirs`) the hooks are compiled against."""
    digest = hashlib.sha256()
    env = ws.project.env
    for part in (__version__, env.version, env.goos, env.goarch, ws.env.get("GOFLAGS", ""), *flags):
        digest.update(part.encode() + b"\0")
    digest.update(ws.gowork.read_bytes())
    modules = [m.dir for m in ws.project.modules] + [Path(p) for p in used_dirs(ws.gowork)]
    for directory in sorted(set(modules)):
        for name in ("go.mod", "go.sum"):
            if (directory / name).exists():
                digest.update((directory / name).read_bytes())
    for path, content in [
        *sorted(conservative.changed.items()),
        *sorted(conservative.added.items()),
    ]:
        if path.parent in dep_dirs:
            digest.update(str(path).encode() + b"\0" + content)
    for path in sorted({f for pkg in local for f in pkg.go_files}):
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def load_verdicts(key: str) -> Verdicts | None:
    """The kept verdicts for `key`, only when bound to it by this user's MAC (cache.py)."""
    return cache.load_verdicts(key)


def store_verdicts(key: str, verdicts: Mapping[tuple[str, str], list[bool]]) -> None:
    """Keep the verdicts for the next run; without a writable cache, the next run asks again."""
    cache.store_verdicts(key, verdicts)
