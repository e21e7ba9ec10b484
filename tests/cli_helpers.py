"""What the end-to-end tests share: how they run the CLI, and how they switch the built-ins off."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from otel_go_autoinst.rules import load_rule_sets

REPO = Path(__file__).resolve().parents[1]
MODULES = Path(__file__).parent / "data" / "modules"
# The CLI as a child process, without the console script's shim (some tests empty PATH).
CLI = [sys.executable, "-c", "import sys; from otel_go_autoinst.cli import main; sys.exit(main())"]


def builtin_set_names() -> list[str]:
    """The built-in rule sets, as the loader itself finds them."""
    return [rule_set.name for rule_set in load_rule_sets([]) if rule_set.builtin]


def only_user_rules() -> list[str]:
    """Arguments that switch every built-in set off, so only a test's own rules apply."""
    return ["--disable", ",".join(builtin_set_names())]


def run_ok(
    cmd: Sequence[str | Path], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run a command; the test fails with its output unless it exits 0."""
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=None if env is None else dict(env),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


def env_without_otel(**extra: str) -> dict[str, str]:
    """The caller's environment without any OTEL_* variable (a program with no OTel
    configuration), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra)
    return env


@dataclass
class Built:
    variant: str
    mod: Path
    plain: Path
    inst: Path
    report: dict[str, object]


def build_variant(name: str, variant: str, tmp: Path) -> Built:
    """The test module `name` with the go.mod of the variant (go.mod or oldest.mod), built plain
    and instrumented."""
    assert shutil.which("go"), "the Go toolchain is required"
    mod = tmp / f"{name}-{variant}"
    shutil.copytree(MODULES / name, mod)
    if variant == "oldest":
        (mod / "oldest.mod").replace(mod / "go.mod")
        (mod / "oldest.sum").replace(mod / "go.sum")
        for newest_only in mod.glob("*_newest.go"):
            newest_only.unlink()
    plain, inst, report = tmp / "plain", tmp / "inst", tmp / "report.json"
    run_ok(["go", "build", "-o", str(plain), "."], mod)
    run_ok([*CLI, "build", "-C", str(mod), "--report", str(report), "-o", str(inst), "."], REPO)
    return Built(variant, mod, plain, inst, json.loads(report.read_text()))


def run_bench(name: str, *args: str, timeout: float) -> tuple[str, ModuleType]:
    """Run bench/<name>.py with `args` (it must exit 0) and import it: its output and module."""
    script = REPO / "bench" / f"{name}.py"
    out = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stderr
    sys.path.insert(0, str(script.parent))
    try:
        return out.stdout, importlib.import_module(name)
    finally:
        sys.path.pop(0)


def table_cells(line: str) -> list[str]:
    """The cells of one Markdown table row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]
