"""Rewrite: a pure function from (sources, plan, escape verdicts) to new sources.

Every edit stays on the line it touches: names given to unnamed results and `_` parameters stay
where they were, the TJump (or a rule's injected statement) goes right after the function's "{", a
struct field right before its closing "}". Every original statement keeps its file and line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .goparse import FuncDecl
from .plan import Hook, Plan, Target
from .trampoline import (
    RUNTIME_FILE,
    EscapeVerdicts,
    Generator,
    hooks_files,
    renamed,
    runtime_source,
    trampoline_file,
)


@dataclass
class Rewrite:
    changed: dict[Path, bytes] = field(default_factory=dict)  # original file -> new content
    added: dict[Path, bytes] = field(default_factory=dict)  # new file in a package dir -> content
    # (package import path, application number) of each target, for reading the compiler's verdict
    numbers: dict[tuple[Path, int], list[int]] = field(default_factory=dict)


def _signature_edits(func: FuncDecl) -> list[tuple[int, int, str]]:
    names = renamed(func)
    edits: list[tuple[int, int, str]] = []
    receiver = (func.receiver,) if func.receiver is not None else ()
    for param, name in zip((*receiver, *func.params), names.params, strict=True):
        if param.name == "_":
            edits.append((param.name_start or 0, param.name_end or 0, name))
        elif param.name is None:
            edits.append((param.type_start, param.type_start, f"{name} "))
    if func.results and not func.results_parenthesized:
        result = func.results[0]
        edits.append(
            (
                func.results_start or 0,
                func.results_end or 0,
                f"({names.results[0]} {result.type_text})",
            )
        )
        return edits
    for param, name in zip(func.results, names.results, strict=True):
        if param.name == "_":
            edits.append((param.name_start or 0, param.name_end or 0, name))
        elif param.name is None:
            edits.append((param.type_start, param.type_start, f"{name} "))
    return edits


def _apply(source: bytes, edits: list[tuple[int, int, str]]) -> bytes:
    out = bytearray(source)
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out[start:end] = text.encode("utf-8")
    return bytes(out)


def rewrite(plan: Plan, verdicts: EscapeVerdicts) -> Rewrite:
    result = Rewrite()
    by_file: dict[Path, list[Target]] = defaultdict(list)
    for target in plan.targets:
        by_file[target.file].append(target)
    edits: dict[Path, list[tuple[int, int, str]]] = defaultdict(list)
    counters: dict[str, int] = defaultdict(int)
    runtime_dirs: dict[Path, str] = {}
    wrappers: dict[tuple[str, str, bool], Hook] = {}

    for path, targets in sorted(by_file.items()):
        pkg = targets[0].package
        gofile = plan.parsed[path]
        generator = Generator(pkg.import_path, verdicts, counters[pkg.import_path])
        for target in sorted(targets, key=lambda t: t.func.line):
            first = generator.next
            tjump = generator.tjump(target.func, target.applications)
            result.numbers[(path, target.func.line)] = list(range(first, generator.next))
            edits[path] += _signature_edits(target.func)
            body_open = target.func.body_open or 0
            edits[path].append((body_open + 1, body_open + 1, f" {tjump}"))
        counters[pkg.import_path] = generator.next
        wrappers.update(generator.wrappers)
        companion = path.parent / f"zz_otel_{path.name}"
        result.added[companion] = trampoline_file(
            gofile, [t.func for t in targets], generator.decls
        ).encode("utf-8")
        runtime_dirs[path.parent] = gofile.package

    targeted = {(t.file, t.func.line) for t in plan.targets}
    for injection in plan.injections:
        func = injection.func
        if (injection.file, func.line) not in targeted:  # else the TJump named them already
            edits[injection.file] += _signature_edits(func)
        at = (func.body_open or 0) + 1
        # Before the TJump when the function has one too: of two edits at one offset, the one
        # listed later lands first (_apply sorts stably, in reverse).
        edits[injection.file].append((at, at, f" {injection.statement};"))
    for edit in plan.struct_edits:
        edits[edit.file].append((edit.offset, edit.offset, edit.text))
    for path, file_edits in edits.items():
        result.changed[path] = _apply(path.read_bytes(), file_edits)
    for directory, package in runtime_dirs.items():
        result.added[directory / RUNTIME_FILE] = runtime_source(package).encode("utf-8")
    for hooks_path, content in hooks_files(wrappers).items():
        result.added[hooks_path] = content.encode("utf-8")
    for addition in plan.file_additions:
        result.added[addition.package.dir / addition.name] = (
            addition.content
            if addition.content is not None
            else _retarget(addition.source.read_bytes(), addition.package.name)
        )
    return result


def _retarget(source: bytes, package: str) -> bytes:
    """A file rule's file, with its package clause set to the target package's name."""
    from . import goparse

    parsed = goparse.parse_file("", source, "")
    if not parsed.package:
        return source
    marker = f"package {parsed.package}".encode()
    return source.replace(marker, f"package {package}".encode(), 1)
