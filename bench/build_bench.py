#!/usr/bin/env python3
"""The build benchmark: plain `go build` vs `otel-go-autoinst build`, side by side in one run.

    python bench/build_bench.py [--quick] [--cold-rounds N] [--warm-rounds N] [--modules NAME,...]
                                [--files N] [--json FILE]

On the bundled example service (examples/service), on bench/bigmodule (gin, gRPC, pgx, a MySQL
driver and the Prometheus client: a few hundred packages) and on a real public service fetched
through the Go module proxy (nats-server, pinned), each copied to a temporary directory:

- cold: a fresh, empty GOCACHE for each build (and, for the tool, an empty cache of its own),
  plain and instrumented alternately;
- warm: after a one-line change in a user file, on the user's GOCACHE and the tool's cache,
  alternately; the instrumented figure is split into its `go build` (from the report's
  build.duration_s: the plain build's work plus the larger link) and the tool's own time;
- the tool's own time: wall time of `otel-go-autoinst plan` (detect + plan) and of `diff` (detect +
  plan + rewrite), on a warm cache, against the `instrumented − plain` warm build delta;
- linearity: `plan` on generated modules with N and 2N files in the package a rule targets.

The instrumented builds use the built-in rule sets (what a user gets). Prints ratios; never asserts
on them; exits non-zero only when a build cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODULES = {
    # name: (source dir, or module@version fetched through the module proxy; user file the warm
    # rebuild edits)
    "service": (REPO / "examples" / "service", "main.go"),
    "bigmodule": (HERE / "bigmodule", "store/store.go"),
    "nats-server": ("github.com/nats-io/nats-server/v2@v2.15.2", "main.go"),
}
FALLBACK_SERVICE = HERE / "callbench"  # used when examples/service is absent


class BenchError(Exception):
    pass


def tool() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    return [exe] if exe else [sys.executable, "-m", "otel_go_autoinst"]


def timed(cmd: list[str], *, cwd: Path, env: dict[str, str], what: str) -> float:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return elapsed


class Module:
    def __init__(self, name: str, src: Path, user_file: str, tmp: Path):
        self.name = name
        self.dir = tmp / name
        shutil.copytree(src, self.dir, ignore=shutil.ignore_patterns(".git", "*.test"))
        subprocess.run(["chmod", "-R", "u+w", str(self.dir)], check=True)  # a module cache copy is read-only
        self.user_file = self.dir / user_file
        self.original = self.user_file.read_text()
        self.bin = tmp / f"{name}.bin"
        self.edits = 0

    def edit(self) -> None:
        """The one-line change: a new value of an unexported variable in a user file."""
        self.edits += 1
        self.user_file.write_text(self.original + f'\nvar benchEdit = "edit {self.edits}"\n')

    def build(
        self, variant: str, gocache: Path, what: str, tool_cache: Path | None = None
    ) -> tuple[float, float]:
        """(wall time, of which `go build`'s own: the report's build.duration_s)."""
        env = {**os.environ, "GOCACHE": str(gocache), "GOFLAGS": os.environ.get("GOFLAGS", "")}
        if tool_cache is not None:
            env["XDG_CACHE_HOME"] = str(tool_cache)
        report = self.bin.with_suffix(".json")
        if variant == "plain":
            cmd = ["go", "build", "-o", str(self.bin), "."]
        else:
            cmd = [*tool(), "build", "-C", str(self.dir), "--report", str(report), "-o", str(self.bin), "."]
        wall = timed(cmd, cwd=self.dir, env=env, what=f"{variant} {what} build of {self.name}")
        if variant == "plain":
            return wall, wall
        return wall, json.loads(report.read_text())["build"]["duration_s"]

    def packages(self) -> int:
        out = subprocess.run(["go", "list", "-deps", "."], cwd=self.dir, capture_output=True, text=True)
        return len(out.stdout.split())


def fetch(module_at_version: str) -> Path:
    """The module's directory in the module cache, downloaded through the module proxy, with every
    dependency its main package needs."""
    out = subprocess.run(["go", "mod", "download", "-json", module_at_version], capture_output=True, text=True)
    info = json.loads(out.stdout or "{}")
    if out.returncode != 0 or "Dir" not in info:
        raise BenchError(f"cannot download {module_at_version}: {info.get('Error') or out.stderr.strip()}")
    return Path(info["Dir"])


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b > 0 else "-"


def verdict(value: float, limit: float, unit: str = "×") -> str:
    return "met" if value <= limit else f"MISSED by {value - limit:.2f}{unit}"


def measure_module(mod: Module, args: argparse.Namespace, tmp: Path, cold: bool) -> dict:
    res: dict = {"module": mod.name, "packages": mod.packages()}
    if cold:
        plain, inst = [], []
        for r in range(args.cold_rounds):
            for variant, out in (("plain", plain), ("instrumented", inst)):
                cache = Path(tempfile.mkdtemp(prefix=f"gocache-{variant}-", dir=tmp))
                out.append(mod.build(variant, cache / "go", "cold", tool_cache=cache / "tool")[0])
                shutil.rmtree(cache, ignore_errors=True)
        res["cold"] = {"plain": plain, "instrumented": inst}
    # Warm builds use the user's own GOCACHE (shared by both variants: every build follows its own
    # one-line edit, so each recompiles the edited package and relinks).
    default = Path(subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True).stdout.strip())
    caches = {v: default for v in ("plain", "instrumented")}
    for variant, cache in caches.items():  # fill each variant's cache (not measured)
        mod.build(variant, cache, "warm-up")
    plain, inst, go_part = [], [], []
    for _ in range(args.warm_rounds):
        for variant, out in (("plain", plain), ("instrumented", inst)):
            mod.edit()
            wall, go_build = mod.build(variant, caches[variant], "warm")
            out.append(wall)
            if variant == "instrumented":
                go_part.append(go_build)
    res["warm"] = {"plain": plain, "instrumented": inst, "go_build": go_part}
    env = {**os.environ, "GOCACHE": str(caches["instrumented"])}
    res["plan"] = [timed([*tool(), "plan", "-C", str(mod.dir), "."], cwd=mod.dir, env=env, what="plan")
                   for _ in range(args.warm_rounds)]
    res["diff"] = [timed([*tool(), "diff", "-C", str(mod.dir), "."], cwd=mod.dir, env=env, what="diff")
                   for _ in range(max(1, args.warm_rounds // 2))]
    mod.user_file.write_text(mod.original)
    return res


def linear_module(root: Path, files: int) -> Path:
    """A module whose package cand has `files` files; a rule targets one function of it, so every
    file of cand is a file that can match."""
    (root / "cand").mkdir(parents=True)
    (root / "hooks").mkdir()
    (root / "go.mod").write_text("module example.com/lin\n\ngo 1.23\n")
    for i in range(files):
        funcs = "".join(f"func F{i}_{j}(a, b int) int {{ return a*{j} + b }}\n\n" for j in range(10))
        (root / "cand" / f"f{i}.go").write_text(f"package cand\n\n{funcs}")
    (root / "cand" / "target.go").write_text("package cand\n\nfunc Target(a int) int { return a + 1 }\n")
    (root / "main.go").write_text('package main\n\nimport "example.com/lin/cand"\n\n'
                                  "func main() { println(cand.Target(1), cand.F0_1(1, 2)) }\n")
    (root / "hooks" / "hooks.go").write_text(
        'package hooks\n\nimport "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"\n\n'
        "func targetEnter(call *api.CallContext, a int) {}\n")
    (root / "lin.yaml").write_text(
        "name: lin\nhooks: example.com/lin/hooks\nrules:\n"
        "  - import_path: example.com/lin/cand\n    function: Target\n    on_enter: targetEnter\n")
    return root


def measure_linear(args: argparse.Namespace, tmp: Path) -> dict:
    out = {}
    for n in (args.files, 2 * args.files):
        root = linear_module(tmp / f"lin{n}", n)
        env = dict(os.environ)
        cmd = [*tool(), "plan", "-C", str(root), "--rules", str(root / "lin.yaml"), "."]
        timed(cmd, cwd=root, env=env, what="plan (warm-up)")
        out[n] = min(timed(cmd, cwd=root, env=env, what="plan") for _ in range(3))
    return out


def report(results: list[dict], linear: dict | None) -> str:
    med = statistics.median
    lines = ["## Build: plain `go build` vs `otel-go-autoinst build` (built-in rules), side by side", ""]
    lines += ["| module | packages | build | plain s | instrumented s | ratio | target | verdict |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for kind, limit in (("cold", 1.5 if r["module"] != "service" else None), ("warm", 1.1)):
            if kind not in r:
                lines.append(f"| {r['module']} | {r['packages']} | {kind} | skipped | skipped | - | - | - |")
                continue
            p, i = med(r[kind]["plain"]), med(r[kind]["instrumented"])
            target = f"≤{limit}×" if limit else "-"
            v = verdict(i / p, limit) if limit else "-"
            n = len(r[kind]["plain"])
            lines.append(f"| {r['module']} | {r['packages']} | {kind} (median of {n}) | {p:.2f} | {i:.2f} | "
                         f"{ratio(i, p)} | {target} | {v} |")
    lines += ["", "Warm, where the instrumented time goes: its `go build` (the plain build's work plus the link of a "
              "binary that carries the SDK) and the tool's own time (the rest).", "",
              "| module | plain s | instrumented s | of which go build s | go build / plain | tool's own s |",
              "|---|---|---|---|---|---|"]
    for r in results:
        p, i, g = med(r["warm"]["plain"]), med(r["warm"]["instrumented"]), med(r["warm"]["go_build"])
        lines.append(f"| {r['module']} | {p:.2f} | {i:.2f} | {g:.2f} | {ratio(g, p)} | {i - g:.2f} |")
    lines += ["", "| module | packages | plan s (detect+plan) | diff s (+rewrite) | warm instrumented − plain s | target | verdict |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        plan, diff = min(r["plan"]), min(r["diff"])
        delta = med(r["warm"]["instrumented"]) - med(r["warm"]["plain"])
        lines.append(f"| {r['module']} | {r['packages']} | {plan:.2f} | {diff:.2f} | {delta:+.2f} | <2 s | "
                     f"{verdict(diff, 2.0, ' s')} |")
    if linear:
        (n1, t1), (n2, t2) = sorted(linear.items())
        lines += ["", f"Linearity: `plan` with {n1} candidate files {t1:.2f} s, with {n2} {t2:.2f} s: "
                      f"ratio {t2 / t1:.2f} for 2× the files (≤2 is linear or better; fixed costs such as "
                      "`go list` make it less than 2)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="CI: the example service only, no cold builds, 2 warm rounds, 100 candidate files")
    ap.add_argument("--cold", action="store_true", help="with --quick: measure cold builds too")
    ap.add_argument("--cold-rounds", type=int)
    ap.add_argument("--warm-rounds", type=int)
    ap.add_argument("--modules", help="comma-separated, of: service, bigmodule, nats-server "
                    "(default all three; quick: service)")
    ap.add_argument("--files", type=int, help="N for the linearity measurement (N and 2N files)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    args.cold_rounds = args.cold_rounds or 1
    args.warm_rounds = args.warm_rounds or (2 if args.quick else 5)
    args.files = args.files or (100 if args.quick else 300)
    args.modules = args.modules or ("service" if args.quick else "service,bigmodule,nats-server")

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="otel-buildbench-"))
    results = []
    try:
        for name in args.modules.split(","):
            if name not in MODULES:
                raise BenchError(f"unknown module {name!r} (known: {', '.join(MODULES)})")
            spec, user_file = MODULES[name]
            src = fetch(spec) if isinstance(spec, str) else spec
            if not src.is_dir():
                if name != "service":
                    raise BenchError(f"{src} is missing")
                print(f"build_bench: {src} is absent; measuring bench/callbench instead", file=sys.stderr)
                src, user_file = FALLBACK_SERVICE, "target/target.go"
            mod = Module(name, src, user_file, tmp)
            cold = args.cold or not args.quick
            print(f"build_bench: {name}: {'cold and ' if cold else ''}warm builds...", file=sys.stderr, flush=True)
            results.append(measure_module(mod, args, tmp, cold))
        print("build_bench: linearity...", file=sys.stderr, flush=True)
        linear = measure_linear(args, tmp)
    except BenchError as e:
        print(f"build_bench: {e}", file=sys.stderr)
        return 1
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(tmp)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU") if Path("/proc/cpuinfo").exists() else "unknown CPU"
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu}, {os.cpu_count()} CPUs, {go}; load average {os.getloadavg()[0]:.1f}\n")
    print(report(results, linear))
    print(f"\ntook {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "linear": linear}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
