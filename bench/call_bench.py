#!/usr/bin/env python3
"""The instrumented-call benchmark: raw vs instrumented, side by side in one run.

    python bench/call_bench.py [--quick] [--count N] [--benchtime T] [--cases REGEX] [--no-http]
                               [--json FILE] [--markdown]

1. Builds bench/callbench/target's test binary once with `otel-go-autoinst test -c` (the rules in
   bench/callbench/rules instrument <Shape><Class>; <Shape>Raw, the same body, stays raw;
   <Shape>Hand<Class> calls the same no-op hooks by hand, each call recovered: the floor) and runs
   its benchmarks -count times; per case prints ns/op delta and the floor's (minimum over the
   runs), allocs/op and B/op delta (maximum), whether the enter trampoline was inlined and whether the instrumented
   function is still inlinable (report JSON, or this script's own -gcflags=-m read where the report
   says null), and the target met or MISSED by how much.
2. The SDK's real hooks sampled off: bench/callbench/httpcase (http.Client.Do against an httptest
   server) built plainly with `go test -c` (raw) and with `otel-go-autoinst test -c` and the
   built-in rule sets (instrumented), run alternately with OTEL_TRACES_SAMPLER=always_off.

Never asserts on a figure: exits non-zero only when a benchmark cannot be built or run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CALLBENCH = HERE / "callbench"
TARGET_PKG = "example.com/callbench/target"
sys.path.insert(0, str(CALLBENCH))
import gen  # noqa: E402  (the case matrix: SHAPES x CLASSES)

BENCH_LINE = re.compile(
    r"^(?P<name>Benchmark\S+?)(?:-\d+)?\s+(?P<n>\d+)\s+(?P<ns>[\d.]+) ns/op"
    r"(?:\s+(?P<bytes>[\d.]+) B/op)?(?:\s+(?P<allocs>[\d.]+) allocs/op)?"
)
COLUMNS = ["case", "class", "raw ns/op", "inst ns/op", "Δ ns", "floor Δ ns", "Δ allocs/op", "Δ B/op",
           "trampoline inlined", "still inlinable", "target", "verdict"]


class BenchError(Exception):
    """A benchmark could not be built or run."""


@dataclass
class Sample:
    ns: list[float] = field(default_factory=list)
    bytes: list[float] = field(default_factory=list)
    allocs: list[float] = field(default_factory=list)

    def add(self, m: re.Match) -> None:
        self.ns.append(float(m["ns"]))
        self.bytes.append(float(m["bytes"] or 0))
        self.allocs.append(float(m["allocs"] or 0))


@dataclass
class Row:
    case: str
    cls: str
    raw_ns: float
    inst_ns: float
    delta_ns: float
    floor_ns: float | None  # the same hooks written and called by hand, recovered (gen.hand_go)
    delta_allocs: float
    delta_bytes: float
    inlined: bool | str | None
    still_inlinable: bool | None
    target_ns: float | None
    verdict: str
    runs: int

    def cells(self) -> list[str]:
        def yn(v: bool | str | None) -> str:
            return "?" if v is None else v if isinstance(v, str) else ("yes" if v else "no")

        return [self.case, self.cls, f"{self.raw_ns:.2f}", f"{self.inst_ns:.2f}", f"{self.delta_ns:+.2f}",
                "-" if self.floor_ns is None else f"{self.floor_ns:+.2f}", f"{self.delta_allocs:+g}", f"{self.delta_bytes:+g}", yn(self.inlined), yn(self.still_inlinable),
                "-" if self.target_ns is None else f"≤{self.target_ns:g} ns, +0 allocs", self.verdict]


def run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout + proc.stderr


def tool() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    return [exe] if exe else [sys.executable, "-m", "otel_go_autoinst"]


def builtin_sets() -> list[str]:
    """Names of the built-in rule sets present in this checkout (to switch them all off)."""
    names = []
    for f in sorted((REPO / "rules").glob("*/*.yaml")):
        m = re.search(r"^name:\s*(\S+)", f.read_text(), re.M)
        if m:
            names.append(m[1])
    return names


def parse_bench(out: str, samples: dict[str, Sample]) -> None:
    for line in out.splitlines():
        m = BENCH_LINE.match(line.strip())
        if m:
            samples.setdefault(m["name"].removeprefix("Benchmark"), Sample()).add(m)


# -- 1. the call matrix --------------------------------------------------------------------------


def own_inlining(work: Path) -> dict[str, tuple[bool | None, bool | None]]:
    """(enter trampoline inlined, function still inlinable) per instrumented function, read from
    -gcflags=-m of the kept overlay: used where the report says null (generic functions, whose
    trampolines are inlined where they are instantiated)."""
    overlay = json.loads((work / "overlay.json").read_text())["Replace"]
    src = next((Path(v) for k, v in overlay.items() if k.endswith("callbench/target/target.go")), None)
    if src is None:
        return {}
    env = {**os.environ, "GOWORK": str(work / "go.work")}
    out = run(["go", "test", f"-overlay={work / 'overlay.json'}", f"-gcflags={TARGET_PKG}=-m", "-c",
               "-o", os.devnull, "./target"], cwd=CALLBENCH, env=env, what="go test -gcflags=-m")
    result = {}
    for lineno, line in enumerate(src.read_text().splitlines(), start=1):
        m = re.match(r"func (?:\([^)]*\) )?(\w+)(\[[^\]]*\])?\(", line)
        if not m or "_otelEnter" not in line and "_otelExit" not in line:
            continue
        name, ks = m[1], re.findall(r"_otelEnter(\d+)", line)
        at = f"target/target.go:{lineno}:"
        notes = [n for n in out.splitlines() if n.startswith(at)]
        inlined = all(any(re.search(rf"inlining call to (target\.)?_otelEnter{k}\b", n) for n in notes)
                      for k in ks) if ks else None
        # A generic function's dictionary wrapper ("Name[int]") is always inlinable; the shaped body
        # ("Name[go.shape.int]") is the function that matters.
        shaped = [n for n in notes if "can inline" in n and "go.shape" in n and "deferwrap" not in n]
        plain = [n for n in notes if re.search(rf"can inline (\(\*?\w+\)\.)?{name}( |$)", n)]
        result[name] = (inlined, bool(shaped or plain) if m[2] is None else bool(shaped))
    return result


def call_matrix(args: argparse.Namespace, tmp: Path) -> list[Row]:
    report = tmp / "report.json"
    binary = tmp / "target_inst.test"
    disable = [a for name in builtin_sets() for a in ("--disable", name)]
    out = run([*tool(), "test", "-C", str(CALLBENCH), "--rules", str(CALLBENCH / "rules"), *disable,
               "--report", str(report), "--keep-work", "-c", "-o", str(binary), "./target"],
              cwd=REPO, what="instrumented build of bench/callbench/target")
    kept = re.search(r"build directory kept at (\S+)", out)
    by_func = {f["function"]: f for f in json.loads(report.read_text())["instrumented"]}
    own: dict[str, tuple[bool | None, bool | None]] = {}
    if kept:
        try:
            own = own_inlining(Path(kept[1]))
        finally:
            shutil.rmtree(kept[1], ignore_errors=True)

    pattern = re.compile(args.cases) if args.cases else None
    cases = [(s, c) for s, c in gen.cases() if not pattern or pattern.search(f"{s}{c}")]
    if not cases:
        raise BenchError(f"no case matches --cases {args.cases!r}")
    names = sorted({f"{s}Raw" for s, _ in cases} | {f"{s}{c}" for s, c in cases} | {f"{s}Hand{c}" for s, c in cases})
    regex = "^Benchmark(" + "|".join(names) + ")$"
    samples: dict[str, Sample] = {}
    for _ in range(args.count):  # one run = every case once: raw and instrumented stay side by side
        out = run([str(binary), "-test.run", "^$", "-test.bench", regex, "-test.benchmem",
                   "-test.benchtime", args.benchtime, "-test.count", "1"],
                  cwd=CALLBENCH / "target", what="call benchmark")
        parse_bench(out, samples)

    rows = []
    for shape, cls in cases:
        name, optimization, *_, target = f"{shape}{cls}", *gen.CLASSES[cls]
        raw, inst, hand = samples.get(f"{shape}Raw"), samples.get(name), samples.get(f"{shape}Hand{cls}")
        if raw is None or inst is None or hand is None:
            raise BenchError(f"benchmark {name}, {shape}Hand{cls} or {shape}Raw did not run")
        fn = by_func.get(name, {})
        if fn.get("optimization") not in (None, optimization):
            optimization = f"{fn['optimization']} (expected {optimization})"
        inlined, inlinable = fn.get("inlined"), fn.get("raw_inlinable")
        if name in own and (inlined is None or shape == "Generic"):
            # The report reads generic functions' notes from the wrong place (see bench/README.md).
            inlined, inlinable = own[name]
        if not gen.CLASSES[cls][1]:
            inlined = "n/a"  # no onEnter, no enter trampoline
        d_ns = min(inst.ns) - min(raw.ns)
        d_allocs = max(inst.allocs) - max(raw.allocs)
        d_bytes = max(inst.bytes) - max(raw.bytes)
        misses = []
        if d_ns > target:
            misses.append(f"{d_ns - target:.2f} ns")
        if d_allocs > 0:
            misses.append(f"{d_allocs:g} allocs")
        verdict = "met" if not misses else "MISSED by " + ", ".join(misses)
        rows.append(Row(shape, optimization, min(raw.ns), min(inst.ns), d_ns, min(hand.ns) - min(raw.ns),
                        d_allocs, d_bytes,
                        inlined, inlinable, target, verdict, len(inst.ns)))
    return rows


# -- 2. the SDK's real hooks, sampled off --------------------------------------------------------


def http_case(args: argparse.Namespace, tmp: Path) -> Row:
    raw_bin, inst_bin, report = tmp / "http_raw.test", tmp / "http_inst.test", tmp / "http.json"
    run(["go", "test", "-c", "-o", str(raw_bin), "./httpcase"], cwd=CALLBENCH, what="plain build of httpcase")
    run([*tool(), "test", "-C", str(CALLBENCH), "--report", str(report), "-c", "-o", str(inst_bin), "./httpcase"],
        cwd=REPO, what="instrumented build of httpcase (built-in rules)")
    fns = json.loads(report.read_text())["instrumented"]
    hooked = [f for f in fns if f["package"] == "net/http"]
    if not hooked:
        raise BenchError("the built-in nethttp rules instrumented nothing in net/http")
    # A test binary sets the SDK up only when told to export (else its hooks return at once):
    # exporter "none" sets it up, so the hooks run as in a program sampled off.
    env = {**os.environ, "OTEL_TRACES_SAMPLER": "always_off", "OTEL_TRACES_EXPORTER": "none",
           "OTEL_SERVICE_NAME": "callbench"}
    raw, inst = Sample(), Sample()
    for _ in range(args.count):  # alternate the two binaries
        for binary, sample in ((raw_bin, raw), (inst_bin, inst)):
            out = run([str(binary), "-test.run", "^$", "-test.bench", "^BenchmarkHTTPClientDo$",
                       "-test.benchmem", "-test.benchtime", args.http_benchtime, "-test.count", "1"],
                      cwd=CALLBENCH / "httpcase", env=env, what="http benchmark")
            parse_bench(out, s := {})
            if "HTTPClientDo" not in s:
                raise BenchError(f"{binary.name} printed no benchmark line:\n{out[-2000:]}")
            for k in ("ns", "bytes", "allocs"):
                getattr(sample, k).extend(getattr(s["HTTPClientDo"], k))
    opts = sorted({f"{f['receiver'] or ''}.{f['function']}={f['optimization']}" for f in hooked})
    inlined = all(f["inlined"] for f in hooked) if all(f["inlined"] is not None for f in hooked) else None
    inlinable = any(f["raw_inlinable"] for f in hooked) if hooked else None
    d_ns = statistics.median(inst.ns) - statistics.median(raw.ns)
    d_allocs = statistics.median(inst.allocs) - statistics.median(raw.allocs)
    d_bytes = statistics.median(inst.bytes) - statistics.median(raw.bytes)
    verdict = "met" if d_allocs <= 0 else f"MISSED by {d_allocs:g} allocs"
    return Row("HTTPClientDo (nethttp, sampled off)", ", ".join(opts), statistics.median(raw.ns),
               statistics.median(inst.ns), d_ns, None, d_allocs, d_bytes, inlined, inlinable, None, verdict, len(inst.ns))


# -- output --------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    cells = [COLUMNS, *[r.cells() for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} CPUs, {go}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short run for CI: -count 3, -benchtime 100ms")
    ap.add_argument("--count", type=int, default=None, help="runs of every benchmark (default 10, quick 3)")
    ap.add_argument("--benchtime", default=None, help="-benchtime per call benchmark (default 500ms, quick 100ms)")
    ap.add_argument("--http-benchtime", default=None, help="-benchtime of the http case (default 1s, quick 200ms)")
    ap.add_argument("--cases", help="only the cases whose <Shape><Class> matches this regex")
    ap.add_argument("--no-http", action="store_true", help="skip the SDK-hooks (net/http) case")
    ap.add_argument("--json", type=Path, help="write the rows as JSON there")
    args = ap.parse_args(argv)
    args.count = args.count or (3 if args.quick else 10)
    args.benchtime = args.benchtime or ("100ms" if args.quick else "500ms")
    args.http_benchtime = args.http_benchtime or ("200ms" if args.quick else "1s")

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="otel-callbench-"))
    try:
        rows = call_matrix(args, tmp)
        http_row = None
        if not args.no_http:
            try:
                http_row = http_case(args, tmp)
            except BenchError as e:
                print(f"call_bench: the SDK-hooks case could not run: {e}", file=sys.stderr)
                return 1
    except BenchError as e:
        print(f"call_bench: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"## Instrumented call: no-op hooks vs raw ({machine()})")
    print(f"ns/op: minimum of {args.count} runs of -benchtime {args.benchtime}; allocs and B: maximum.\n")
    print(table(rows))
    if http_row:
        print(f"\n## SDK's real hooks (rules/nethttp), OTEL_TRACES_SAMPLER=always_off: median of {args.count} "
              f"alternating runs of -benchtime {args.http_benchtime}\n")
        print(table([http_row]))
    missed = [r for r in rows if r.verdict != "met"]
    print(f"\ntargets met: {len(rows) - len(missed)} of {len(rows)} call cases; took {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": [asdict(r) for r in rows],
                                         "http": asdict(http_row) if http_row else None}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
