"""The `go` and `toolchain` lines of a go.mod / go.work, read without running Go."""

from __future__ import annotations

import re
from pathlib import Path

_GO_LINE = re.compile(r"^\s*go\s+([0-9][^\s/]*)\s*(?://.*)?$", re.M)


_TOOLCHAIN_LINE = re.compile(r"^\s*toolchain\s+(\S+)\s*(?://.*)?$", re.M)


def go_directives(gomod: Path) -> tuple[str | None, str | None]:
    text = gomod.read_text(encoding="utf-8", errors="replace")
    go = _GO_LINE.search(text)
    tc = _TOOLCHAIN_LINE.search(text)
    return (go.group(1) if go else None, tc.group(1) if tc else None)


def find_gomod(workdir: Path, workspace: Path) -> Path | None:
    for directory in [workdir, *workdir.parents]:
        for name in ("go.work", "go.mod"):
            if (directory / name).is_file():
                return directory / name
        if directory == workspace:
            break
    return None
