#!/usr/bin/env python3
"""The planning benchmark: `otel-go-autoinst plan` with N and 5N generated rules, side by side.

    python bench/plan_bench.py [--rules N[,M...]] [--quick] [--rounds R] [--json FILE]

Generates a module (in a temporary directory) whose packages gen/p0 .. gen/p9 hold 500 functions
each, in files of 25 functions, and whose main package imports them all and net/http (so the build
has a hundred-odd packages, the standard library's among them). For each N (default 1,000 and
5,000) it writes a rule file of N function rules, each on a different function, spread over the ten
packages, all with one no-op onEnter hook, and runs `otel-go-autoinst plan` on the module (wall
time of the whole command, minimum of R rounds after a warm-up; go list is served from the build
cache) and the planning stage alone in this process. Planning is linear when the time grows about
as N does: the ratio of the largest N to the smallest is printed beside N's ratio.

Prints figures; never fails on one; exits non-zero only when a plan cannot run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PACKAGES = 10
PER_PACKAGE = 500
PER_FILE = 25
API = "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
sys.path.insert(0, str(REPO / "src"))  # run from a checkout without installing

if TYPE_CHECKING:
    from otel_go_autoinst.plan import Plan


def tool() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    if exe:
        return [exe]
    return [
        sys.executable,
        "-c",
        "import sys; from otel_go_autoinst.cli import main; sys.exit(main())",
    ]


def generate(root: Path) -> None:
    """The module: ten packages of generated functions, a main that uses them, a hooks package."""
    (root / "hooks").mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/planbench\n\ngo 1.23\n")
    for p in range(PACKAGES):
        pkg = root / "gen" / f"p{p}"
        pkg.mkdir(parents=True)
        for f in range(PER_PACKAGE // PER_FILE):
            funcs = "".join(
                f"// F{n} is generated.\nfunc F{n}(a int) int {{ return a*{n % 7 + 1} + {p} }}\n\n"
                for n in range(f * PER_FILE, (f + 1) * PER_FILE)
            )
            (pkg / f"f{f}.go").write_text(f"package p{p}\n\n{funcs}")
    imports = "".join(f'\t"example.com/planbench/gen/p{p}"\n' for p in range(PACKAGES))
    calls = " + ".join(f"p{p}.F{p}(1)" for p in range(PACKAGES))
    (root / "main.go").write_text(
        f'package main\n\nimport (\n\t"net/http"\n\n{imports})\n\n'
        f"func main() {{ println({calls}, http.StatusOK) }}\n"
    )
    (root / "hooks" / "hooks.go").write_text(
        f'package hooks\n\nimport "{API}"\n\nfunc enter(call *api.CallContext, a int) {{}}\n'
    )


def rule_file(root: Path, n: int) -> Path:
    """n rules, each on its own function, round-robin over the packages."""
    if n > PACKAGES * PER_PACKAGE:
        raise SystemExit(
            f"at most {PACKAGES * PER_PACKAGE} rules: the module has that many functions"
        )
    lines = ["name: planbench", "hooks: example.com/planbench/hooks", "rules:"]
    for i in range(n):
        lines += [
            f"  - import_path: example.com/planbench/gen/p{i % PACKAGES}",
            f"    function: F{i // PACKAGES}",
            "    on_enter: enter",
        ]
    path = root / f"rules-{n}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_seconds(root: Path, rules: Path, n: int) -> float:
    """Wall time of `otel-go-autoinst plan`, checking it planned what it should."""
    cmd = [
        *tool(),
        "plan",
        "-C",
        str(root),
        "--disable",
        builtin_names(),
        "--rules",
        str(rules),
        ".",
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"plan failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    planned = sum(1 for line in proc.stdout.splitlines() if "\tplanbench\t" in line)
    if planned != n:
        raise SystemExit(f"plan instrumented {planned} functions, expected {n}")
    return elapsed


def builtin_names() -> str:
    from otel_go_autoinst.rules import load_rule_sets

    return ",".join(s.name for s in load_rule_sets([]) if s.builtin)


def plan_once(root: Path, rules: Path) -> tuple[Plan, float]:
    """The planning stage alone, in this process (rules loaded and packages listed beforehand, as
    the engine does): the plan and the seconds make_plan took."""
    from otel_go_autoinst.build import workspace
    from otel_go_autoinst.detect import detect_project, list_packages
    from otel_go_autoinst.plan import make_plan
    from otel_go_autoinst.rules import builtin_rules_dir, load_rule_sets

    rule_sets = [s for s in load_rule_sets([rules]) if not s.builtin]
    project = detect_project(root)
    with workspace(project, builtin_rules_dir(), False) as ws:
        packages = list_packages(project.root, ["."], ws.env)
        listed = list_packages(project.root, [rule_sets[0].hooks], ws.env, deps=False)
        hooks = {p.import_path: p for p in listed}
        started = time.perf_counter()
        plan = make_plan(rule_sets, packages, project.env.version, hooks)
        return plan, time.perf_counter() - started


def stage_seconds(root: Path, rules: Path, n: int) -> float:
    plan, seconds = plan_once(root, rules)
    if len(plan.targets) != n:
        raise SystemExit(f"make_plan instrumented {len(plan.targets)} functions, expected {n}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rules", default="1000,5000", help="rule counts, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one round, 200 and 1,000 rules")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    counts = [200, 1000] if args.quick else [int(x) for x in args.rules.split(",")]
    rounds = 1 if args.quick else args.rounds
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
        root = Path(tmp) / "planbench"
        generate(root)
        files = {n: rule_file(root, n) for n in counts}
        cli_seconds(root, files[counts[0]], counts[0])  # warm-up: go list and the build cache
        for n in counts:
            results[n] = {
                "cli_s": min(cli_seconds(root, files[n], n) for _ in range(rounds)),
                "plan_s": min(stage_seconds(root, files[n], n) for _ in range(rounds)),
            }
    low = counts[0]
    print(
        f"## Planning: generated rules on a module of {PACKAGES * PER_PACKAGE} functions "
        f"in {PACKAGES} packages (plus net/http's build)\n"
    )
    print("| rules | `plan` s | ratio | make_plan s | ratio | rules ratio |")
    print("|---|---|---|---|---|---|")
    for n in counts:
        r = results[n]
        print(
            f"| {n} | {r['cli_s']:.2f} | {r['cli_s'] / results[low]['cli_s']:.2f} | "
            f"{r['plan_s']:.2f} | {r['plan_s'] / results[low]['plan_s']:.2f} | {n / low:.1f} |"
        )
    print(
        "\nLinear planning: each ratio stays at or below the rules ratio (a fixed cost comes first)."
    )
    if args.json:
        args.json.write_text(json.dumps({str(n): r for n, r in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
