"""Write rules/escape-hints.json: the compiler's escape verdicts on every hook of the built-in rules.

    python scripts/escape_hints.py [--check]

The engine builds its first probe with these verdicts, so that a cold build compiles the
instrumented packages and the SDK once instead of twice (src/otel_go_autoinst/verdicts.py). They
are a guess, checked by the compiler on every build that uses them: a stale file costs time, never
correctness. They come from compiling the hooks packages with -m in the rules module, against the
plain standard library; the instrumented one gives the same verdicts unless a hook calls an
instrumented function. `--check` exits 1 when the file differs from what this Go says.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from otel_go_autoinst.build import optimizer_note
from otel_go_autoinst.goparse import FuncDecl, parse_file
from otel_go_autoinst.plan import HOOKS_TAG
from otel_go_autoinst.rules import builtin_rules_dir, load_rule_sets
from otel_go_autoinst.verdicts import HINTS_FILE, Notes, param_verdicts


def hints(rules_dir: Path) -> dict[str, object]:
    hook_names: dict[str, set[str]] = defaultdict(set)
    for rule_set in load_rule_sets([], builtin_dir=rules_dir):
        for rule in rule_set.functions:
            for name in (rule.on_enter, rule.on_exit):
                if name:
                    hook_names[rule_set.hooks].add(name)
    found: dict[str, dict[str, list[bool]]] = {}
    by_module: dict[Path, list[str]] = defaultdict(list)
    module_path = _module_path(rules_dir)
    for package in hook_names:
        directory = rules_dir / package.removeprefix(module_path).lstrip("/")
        by_module[_module_root(directory)].append(package)
    for module_dir, packages in sorted(by_module.items()):
        for package, path, decl, notes in _compiled_hooks(module_dir, sorted(packages)):
            if decl.name in hook_names[package]:
                found.setdefault(package, {})[decl.name] = param_verdicts(decl, path, notes)
    version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True)
    return {
        "about": "Escape verdicts of the built-in hooks: a first guess for the engine's probe, "
        "checked by the compiler. Written by scripts/escape_hints.py.",
        "go": version.stdout.strip(),
        "hooks": {p: dict(sorted(h.items())) for p, h in sorted(found.items())},
    }


def _module_path(module_dir: Path) -> str:
    for line in (module_dir / "go.mod").read_text(encoding="utf-8").splitlines():
        if line.startswith("module "):
            return line.split()[1]
    raise SystemExit(f"escape_hints: no module line in {module_dir / 'go.mod'}")


def _module_root(directory: Path) -> Path:
    """The hooks of an integration are a module of their own (they require the library)."""
    while not (directory / "go.mod").exists():
        directory = directory.parent
    return directory


def _compiled_hooks(
    module_dir: Path, packages: list[str]
) -> Iterator[tuple[str, Path, FuncDecl, Notes]]:
    """Every top-level function of `packages`, with the -m notes of compiling them."""
    listed = subprocess.run(
        ["go", "list", f"-tags={HOOKS_TAG}", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \"\\t\"}}",
         *packages],
        cwd=module_dir, capture_output=True, text=True,
    )  # fmt: skip
    built = subprocess.run(
        ["go", "build", f"-tags={HOOKS_TAG}", *(f"-gcflags={p}=-m" for p in packages), *packages],
        cwd=module_dir, capture_output=True, text=True,
    )  # fmt: skip
    if listed.returncode != 0 or built.returncode != 0:
        raise SystemExit(
            f"escape_hints: {module_dir} does not build:\n{listed.stderr}{built.stderr}"
        )
    notes: dict[tuple[str, int], list[str]] = defaultdict(list)
    for line in built.stderr.splitlines():
        note = optimizer_note(line)
        if note:
            notes[(str((module_dir / note[0]).resolve()), note[1])].append(note[2])
    for row in listed.stdout.splitlines():
        package, directory, *files = row.split("\t")
        for name in files:
            path = Path(directory) / name
            for decl in parse_file(str(path), path.read_bytes(), package).functions:
                if decl.receiver is None:
                    yield package, path, decl, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    rules_dir = builtin_rules_dir()
    text = json.dumps(hints(rules_dir), indent=1) + "\n"
    target = rules_dir / HINTS_FILE
    if args.check:
        current = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
        fresh = json.loads(text)
        if current.get("go") != fresh["go"]:
            # Another Go may answer otherwise (a slower first build, never a wrong one): only
            # check that every hook has a guess.
            fresh["hooks"] = {p: {n: current.get("hooks", {}).get(p, {}).get(n) for n in h}
                              for p, h in fresh["hooks"].items()}  # fmt: skip
            if all(v is not None for h in fresh["hooks"].values() for v in h.values()):
                return 0
        elif current.get("hooks") == fresh["hooks"]:
            return 0
        print(f"{target} is stale: run python scripts/escape_hints.py", file=sys.stderr)
        return 1
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
