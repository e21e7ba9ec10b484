"""`matrix` mode: plan only. Lists the repository's Go modules as a JSON matrix (the `matrix`
output), so a monorepo can fan out across matrix jobs. Runs nothing.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from entrypoint.context import Context, Inputs, rel_to, resolve_workdir
from entrypoint.gomod import go_directives
from otel_go_autoinst.errors import UserError
from otel_go_autoinst.publish.workflow import Log, write_outputs

SKIP_DIRS = {"vendor", "testdata", "node_modules"}


def find_modules(root: Path) -> list[Path]:
    """Module directories under root: the `use` lines of a go.work, else every go.mod outside
    vendor/, testdata/ and folders Go ignores (`.x`, `_x`)."""
    gowork = root / "go.work"
    if gowork.is_file():
        dirs: list[Path] = []
        text = gowork.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"//.*", "", text)
        for block in re.findall(r"^\s*use\s*\(([^)]*)\)", text, re.M):
            dirs += [root / d.strip().strip('"') for d in block.split() if d.strip()]
        for single in re.findall(r"^\s*use\s+([^\s(]+)\s*$", text, re.M):
            dirs.append(root / single.strip('"'))
        found = [d.resolve() for d in dirs if (d / "go.mod").is_file()]
        if found:
            return sorted(set(found))
    modules = []
    for current, subdirs, files in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs if d not in SKIP_DIRS and not d.startswith((".", "_"))
        )
        if "go.mod" in files:
            modules.append(Path(current).resolve())
    return modules


def mode_matrix(ctx: Context, inputs: Inputs, log: Log) -> int:
    workdir = resolve_workdir(ctx, inputs)
    modules = find_modules(workdir)
    if not modules:
        raise UserError(f"No go.mod under {rel_to(workdir, ctx.workspace)}: no module to plan.")
    include = []
    for mod_dir in modules:
        text = (mod_dir / "go.mod").read_text(encoding="utf-8", errors="replace")
        match = re.search(r"^\s*module\s+(\S+)", text, re.M)
        go_line, _ = go_directives(mod_dir / "go.mod")
        rel_dir = rel_to(mod_dir, ctx.workspace)
        include.append(
            {
                "working_directory": rel_dir or ".",
                "module": match.group(1).strip('"') if match else "",
                "go": go_line or "",
                "name": re.sub(r"[^A-Za-z0-9._-]+", "-", rel_dir.strip("./") or "root"),
            }
        )
    matrix = {"include": include}
    with log.group(f"{len(include)} Go module(s)"):
        for item in include:
            log.untrusted(f"{item['working_directory']}: {item['module']}")
    write_outputs(
        ctx.env,
        {"matrix": json.dumps(matrix, separators=(",", ":")), "count": str(len(include))},
        log,
    )
    return 0
