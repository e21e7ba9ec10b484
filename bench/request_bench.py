#!/usr/bin/env python3
"""The traced request: one small HTTP service built three ways, side by side in one run.

    python bench/request_bench.py [--quick] [--requests N] [--concurrency C] [--rounds R]
                                  [--warmup W] [--samplers always_on,always_off] [--json FILE]
                                  [--at REV] [--profile DIR]

bench/requestsvc is a Go module: svc (the handler: GET /api/items/{id} makes one outgoing
http.Client call to a backend on 127.0.0.1, decodes its JSON and answers a small JSON document),
cmd/service (that handler, no instrumentation in the code), cmd/manual (the same handler wrapped
by hand with otelhttp.NewHandler / otelhttp.NewTransport, the SDK's OTLP/HTTP exporter behind a
batch span processor, W3C propagators: the SDK version of rules/go.mod), cmd/upstream (the backend
and an OTLP/HTTP sink counting spans, its own process) and cmd/load (the load generator: N requests,
C keep-alive clients).

Builds: plain = `go build ./cmd/service`; ours = `otel-go-autoinst build ./cmd/service` (the tool on
PATH, or with --at REV the tool and rules of that commit); manual = `go build ./cmd/manual`. For each sampler (OTEL_TRACES_SAMPLER=always_on, always_off) the three
services run at once, are warmed up, then measured in alternating rounds (the order rotates):
CPU time of the service process only (utime+stime of /proc/<pid>/stat) and its allocations
(runtime.MemStats.Mallocs through GET /debug/mallocs), before and after each round's load, per
request. Figures are medians over rounds; the deltas are medians of the per-round differences.

--profile DIR: instead of the table, runs each build under each sampler with a CPU profile and an
allocation profile (every allocation sampled) of the load phase, writes them and `go tool pprof
-top` of each under DIR, and prints the top entries of ours.

Never fails on a figure: exits non-zero only when something cannot be built or run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODULE = HERE / "requestsvc"
BUILDS = ("plain", "ours", "manual")
SAMPLERS = ("always_on", "always_off")
COLUMNS = [
    "sampler",
    "build",
    "CPU µs/req",
    "allocs/req",
    "KB/req",
    "Δ CPU µs vs plain",
    "Δ allocs vs plain",
    "req/s",
    "spans/req",
]
VERDICT_COLUMNS = ["target", "sampler", "ours", "bound", "verdict"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PLAIN_MARGIN = 0.05  # sampled off, ours within 5 % of plain's CPU per request


class BenchError(Exception):
    """Something could not be built or run."""


# -- building ------------------------------------------------------------------------------------


def run(cmd: list[str], *, cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError(f"{what} could not run: {e}") from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout + proc.stderr


def tool(at: str | None) -> tuple[list[str], dict[str, str] | None, str]:
    """(command, environment, description) of the otel-go-autoinst to build "ours" with: the one
    on PATH (this work tree, with whatever is uncommitted), or `git archive AT` of this repository,
    extracted once to $TMPDIR/otel-request-tool-<sha> and reused."""
    if at is None:
        exe = shutil.which("otel-go-autoinst")
        cmd = [exe] if exe else [sys.executable, "-m", "otel_go_autoinst"]
        return cmd, None, "otel-go-autoinst of the work tree"
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{at}^{{commit}}"],
                         capture_output=True, text=True)  # fmt: skip
    if git.returncode != 0:
        raise BenchError(f"--at {at}: not a commit of {REPO}.")
    sha = git.stdout.strip()
    snap = Path(tempfile.gettempdir()) / f"otel-request-tool-{sha[:12]}"
    if not (snap / "src").is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{snap.name}.", dir=snap.parent))
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha], capture_output=True)
        untar = subprocess.run(["tar", "-x", "-C", str(staging)], input=archive.stdout)
        if archive.returncode != 0 or untar.returncode != 0:
            raise BenchError(f"--at {at}: git archive of {sha[:12]} failed.")
        try:
            staging.rename(snap)
        except OSError:  # another run of the same commit got there first
            shutil.rmtree(staging, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(snap / "src"))
    cmd = [
        sys.executable,
        "-c",
        "import sys; from otel_go_autoinst.cli import main; sys.exit(main())",
    ]
    return cmd, env, f"otel-go-autoinst at commit {sha[:12]} (git archive)"


def build_all(out: Path, ours: tuple[list[str], dict[str, str] | None, str]) -> dict[str, Path]:
    """The three services and the helpers, built into out."""
    bins = {name: out / name for name in ("plain", "ours", "manual", "upstream", "load")}
    run(
        ["go", "build", "-o", str(bins["upstream"]), "./cmd/upstream"],
        cwd=MODULE,
        what="building the upstream",
    )
    run(
        ["go", "build", "-o", str(bins["load"]), "./cmd/load"],
        cwd=MODULE,
        what="building the load generator",
    )
    run(
        ["go", "build", "-o", str(bins["plain"]), "./cmd/service"],
        cwd=MODULE,
        what="the plain build",
    )
    run([*ours[0], "build", "-C", str(MODULE), "-o", str(bins["ours"]), "./cmd/service"], cwd=MODULE,
        env=ours[1], what="the otel-go-autoinst build")  # fmt: skip
    run(
        ["go", "build", "-o", str(bins["manual"]), "./cmd/manual"],
        cwd=MODULE,
        what="the manual build",
    )
    return bins


# -- processes -----------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "REQUESTSVC_"))}


class Proc:
    """A process that prints "listening on ADDR" first."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._logf: IO[str] = log.open("w")
        self.p = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=self._logf, text=True
        )
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        m = re.match(r"listening on (\S+)", line)
        if not m:
            self.stop()
            raise BenchError(f"{name} did not start: {line.strip()!r} {self.stderr_tail()}")
        self.addr = m.group(1)
        self.url = f"http://{self.addr}"

    def stderr_tail(self) -> str:
        self._logf.flush()
        return " ".join(self.log.read_text(errors="replace").strip().splitlines()[-5:])

    def cpu_ticks(self) -> int:
        """utime + stime of the process, in clock ticks."""
        stat = Path(f"/proc/{self.p.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self.p.stdout:
            self.p.stdout.close()
        self._logf.close()


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError) as e:
        raise BenchError(f"GET {url} failed: {e}") from e


def get(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            resp.read()
    except OSError as e:
        raise BenchError(f"GET {url} failed: {e}") from e


def load(bins: dict[str, Path], svc: Proc, n: int, c: int, rate: float = 0) -> float:
    """Sends n requests with c clients (at `rate` per second, if not 0); returns the wall time."""
    cmd = [str(bins["load"]), "-url", svc.url + "/api/items/{i}", "-n", str(n), "-c", str(c)]
    out = run([*cmd, "-rate", str(rate)], cwd=MODULE, what=f"the load on {svc.name}")
    res = json.loads(out.strip().splitlines()[-1])
    if res["errors"]:
        raise BenchError(f"{res['errors']} of {n} requests to {svc.name} failed: {res.get('first_error')} "
                         f"{svc.stderr_tail()}")  # fmt: skip
    return float(res["seconds"])


def start_service(name: str, bins: dict[str, Path], upstream: Proc, sampler: str, logs: Path,
                  extra: dict[str, str] | None = None) -> Proc:  # fmt: skip
    env = base_env()
    env.update(REQUESTSVC_BACKEND=upstream.url, OTEL_TRACES_SAMPLER=sampler, OTEL_SERVICE_NAME="requestsvc",
               OTEL_EXPORTER_OTLP_ENDPOINT=f"{upstream.url}/{name}-{sampler}")  # fmt: skip
    env.update(extra or {})
    return Proc(name, [str(bins[name])], env, logs / f"{name}-{sampler}.log")


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Round:
    cpu_us: float  # per request
    allocs: float  # per request
    kbytes: float  # per request
    rps: float


@dataclass
class Result:
    sampler: str
    build: str
    rounds: list[Round] = field(default_factory=list)
    requests_sent: int = 0
    spans: int | None = None

    def med(self, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in self.rounds))


def measure(bins: dict[str, Path], svc: Proc, n: int, c: int, rate: float) -> Round:
    m0 = get_json(svc.url + "/debug/mallocs")
    t0 = svc.cpu_ticks()
    secs = load(bins, svc, n, c, rate)
    t1 = svc.cpu_ticks()
    m1 = get_json(svc.url + "/debug/mallocs")
    return Round(cpu_us=(t1 - t0) / CLK_TCK * 1e6 / n, allocs=(m1["mallocs"] - m0["mallocs"]) / n,
                 kbytes=(m1["total_alloc"] - m0["total_alloc"]) / n / 1024, rps=n / secs)  # fmt: skip


def bench(bins: dict[str, Path], args: argparse.Namespace, logs: Path) -> list[Result]:
    results: list[Result] = []
    with Upstream(bins, logs) as upstream:
        for sampler in args.samplers:
            builds: tuple[str, ...] = tuple(args.builds)
            svcs = {b: start_service(b, bins, upstream, sampler, logs) for b in builds}
            res = {b: Result(sampler, b) for b in builds}
            try:
                for b in builds:
                    load(bins, svcs[b], args.warmup, args.concurrency)
                    res[b].requests_sent += args.warmup
                for r in range(args.rounds):
                    order = builds[r % len(builds) :] + builds[: r % len(builds)]
                    for b in order:
                        res[b].rounds.append(
                            measure(bins, svcs[b], args.requests, args.concurrency, args.rate)
                        )
                        res[b].requests_sent += args.requests + 2  # the two /debug/mallocs
                    print(f"  {sampler} round {r + 1}/{args.rounds}: "
                          + ", ".join(f"{b} {res[b].rounds[-1].cpu_us:.1f} µs" for b in builds),
                          file=sys.stderr, flush=True)  # fmt: skip
            finally:
                for s in svcs.values():
                    s.stop()  # SIGTERM: ours and manual flush their spans
            counts = get_json(upstream.url + "/spans")
            for b in builds[1:]:
                res[b].spans = int(counts.get(f"{b}-{sampler}", {}).get("spans", 0))
            results.extend(res.values())
    return results


class Upstream:
    def __init__(self, bins: dict[str, Path], logs: Path) -> None:
        self.bins, self.logs = bins, logs

    def __enter__(self) -> Proc:
        self.proc = Proc(
            "upstream", [str(self.bins["upstream"])], base_env(), self.logs / "upstream.log"
        )
        return self.proc

    def __exit__(self, *exc: object) -> None:
        self.proc.stop()


# -- reporting -----------------------------------------------------------------------------------


def paired(results: list[Result], sampler: str, build: str, attr: str) -> float:
    """Median over rounds of build − plain (same round)."""
    by = {r.build: r for r in results if r.sampler == sampler}
    pairs = zip(by[build].rounds, by["plain"].rounds, strict=True)
    return float(statistics.median(getattr(a, attr) - getattr(p, attr) for a, p in pairs))


def table_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        delta_cpu = delta_allocs = "-"
        if r.build != "plain":
            delta_cpu = f"{paired(results, r.sampler, r.build, 'cpu_us'):+.1f}"
            delta_allocs = f"{paired(results, r.sampler, r.build, 'allocs'):+.1f}"
        spans = (
            "-" if r.spans is None or not r.requests_sent else f"{r.spans / r.requests_sent:.2f}"
        )
        rows.append([r.sampler, r.build, f"{r.med('cpu_us'):.1f}", f"{r.med('allocs'):.1f}",
                     f"{r.med('kbytes'):.2f}", delta_cpu, delta_allocs, f"{r.med('rps'):.0f}", spans])  # fmt: skip
    return rows


def verdict_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    samplers = list(dict.fromkeys(r.sampler for r in results))
    for sampler in samplers:
        for attr, what, unit in (("cpu_us", "CPU", " µs"), ("allocs", "allocs", "")):
            ours = paired(results, sampler, "ours", attr)
            manual = paired(results, sampler, "manual", attr)
            verdict = "met" if ours <= manual else f"MISSED by {ours - manual:.1f}{unit}"
            rows.append([f"ours' added {what} ≤ manual's", sampler, f"{ours:+.1f}{unit}", f"{manual:+.1f}{unit}",
                         verdict])  # fmt: skip
    if "always_off" in samplers:
        plain = next(r for r in results if r.sampler == "always_off" and r.build == "plain").med(
            "cpu_us"
        )
        pct = paired(results, "always_off", "ours", "cpu_us") / plain * 100
        verdict = (
            "met" if pct <= PLAIN_MARGIN * 100 else f"MISSED by {pct - PLAIN_MARGIN * 100:.1f} %"
        )
        rows.append(
            ["ours' CPU within 5 % of plain's", "always_off", f"{pct:+.1f} %", "≤ +5.0 %", verdict]
        )
    return rows


def markdown(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    go = (
        subprocess.run(["go", "version"], capture_output=True, text=True)
        .stdout.strip()
        .removeprefix("go version ")
    )
    load1 = os.getloadavg()[0]
    return (f"{model}, {os.cpu_count()} CPUs (nproc), {go}, {platform.system().lower()}; "
            f"load average {load1:.1f} at the start")  # fmt: skip


# -- profiling -----------------------------------------------------------------------------------


def pprof_top(args: list[str], n: int) -> str:
    proc = subprocess.run(
        ["go", "tool", "pprof", "-top", f"-nodecount={n}", *args], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BenchError(f"go tool pprof failed: {proc.stderr.strip()}")
    return proc.stdout


def profile(bins: dict[str, Path], args: argparse.Namespace, out: Path, logs: Path) -> None:
    """Per build and sampler, two runs of the load: one with a CPU profile, one with every
    allocation sampled (its CPU profile would mostly show the allocation profiler)."""
    out.mkdir(parents=True, exist_ok=True)
    with Upstream(bins, logs) as upstream:
        for sampler in args.samplers:
            for b in args.builds:
                d = (out / f"{b}-{sampler}").resolve()
                d.mkdir(exist_ok=True)
                for allocs in ("0", "1"):
                    extra = {"REQUESTSVC_PROFILE": str(d), "REQUESTSVC_ALLOCS": allocs}
                    svc = start_service(b, bins, upstream, sampler, logs, extra)
                    try:
                        load(bins, svc, args.warmup, args.concurrency)
                        get(svc.url + "/debug/profile/start")
                        load(bins, svc, args.requests, args.concurrency, args.rate)
                        get(svc.url + "/debug/profile/stop")
                    finally:
                        svc.stop()
                    if allocs == "0":
                        (d / "cpu.pprof").rename(d / "cpu-kept.pprof")
                (d / "cpu-kept.pprof").replace(d / "cpu.pprof")
                shutil.copy2(bins[b], d / "binary")
                cpu = pprof_top([str(d / "binary"), str(d / "cpu.pprof")], 40)
                heap = [
                    "-diff_base",
                    str(d / "heap0.pprof"),
                    str(d / "binary"),
                    str(d / "heap1.pprof"),
                ]
                allocs_top = pprof_top(["-sample_index=alloc_objects", *heap], 40)
                (d / "cpu-top.txt").write_text(cpu)
                (d / "allocs-top.txt").write_text(allocs_top)
                if b == "ours":
                    print(f"\n### ours, {sampler}: CPU (top 25, flat)\n")
                    print("\n".join(cpu.splitlines()[:31]))
                    print(
                        f"\n### ours, {sampler}: allocations, {args.requests} requests (top 25)\n"
                    )
                    print("\n".join(allocs_top.splitlines()[:31]))
    print(
        f"\nProfiles and their tops: {out}/<build>-<sampler>/ (binary, cpu.pprof, heap0/heap1.pprof)"
    )


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="CI: 2,000 requests, 1 round, short warm-up"
    )
    parser.add_argument(
        "--requests", type=int, help="requests per build per round (default 20,000; quick 2,000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="concurrent keep-alive clients (default 8)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="requests per second (default 0: saturate the service)",
    )
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 5; quick 1)")
    parser.add_argument(
        "--warmup", type=int, help="warm-up requests per service (default 3,000; quick 500)"
    )
    parser.add_argument(
        "--samplers", default=",".join(SAMPLERS), help="OTEL_TRACES_SAMPLER values to run"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also build ours with the tool and rules of this commit, as the build ours@REV",
    )
    parser.add_argument(
        "--at",
        metavar="REV",
        help="build ours with the tool and rules of this commit (git archive)",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="profile each build instead of the table"
    )
    args = parser.parse_args(argv)
    args.requests = args.requests or (2000 if args.quick else 20000)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.warmup = args.warmup if args.warmup is not None else (500 if args.quick else 3000)
    args.samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    bad = [s for s in args.samplers if s not in SAMPLERS]
    if bad or not args.samplers:
        parser.error(
            f"--samplers takes always_on and/or always_off, not {','.join(bad) or 'nothing'}"
        )
    if args.requests < 1 or args.rounds < 1 or args.concurrency < 1 or args.warmup < 1:
        parser.error("--requests, --rounds, --concurrency and --warmup must be at least 1")
    if shutil.which("go") is None:
        print("request_bench: the Go toolchain is required (go is not on PATH).", file=sys.stderr)
        return 2
    if not Path("/proc/self/stat").exists():
        print("request_bench: needs Linux's /proc to read a process's CPU time.", file=sys.stderr)
        return 2

    header = machine()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        with tempfile.TemporaryDirectory(prefix="otel-request-bench-") as tmp:
            work = Path(tmp)
            logs = work / "logs"
            logs.mkdir()
            t0 = time.monotonic()
            ours = tool(args.at)
            bins = build_all(work, ours)
            args.builds = list(BUILDS)
            if args.baseline:
                base = tool(args.baseline)
                name = "ours@" + base[2].split("commit ")[1].split()[0][:7]
                bins[name] = work / name
                run([*base[0], "build", "-C", str(MODULE), "-o", str(bins[name]), "./cmd/service"],
                    cwd=MODULE, env=base[1], what=f"the {name} build")  # fmt: skip
                args.builds.insert(2, name)
            print(f"built the five programs in {time.monotonic() - t0:.1f} s", file=sys.stderr)
            if args.profile:
                profile(bins, args, args.profile, logs)
                return 0
            results = bench(bins, args, logs)
    except BenchError as e:
        print(f"request_bench: {e}", file=sys.stderr)
        return 1

    print(f"Measured {date} on {header}; ours built by {ours[2]}"
          + (f", ours@ by {base[2]}." if args.baseline else "."))  # fmt: skip
    print(f"{args.requests} requests per build per round, {args.concurrency} concurrent keep-alive clients, "
          f"{args.rounds} alternating round(s) after {args.warmup} warm-up requests; medians over rounds "
          "(Δ: median of the per-round differences). CPU: the service process's utime+stime; allocs: "
          "runtime.MemStats.Mallocs; spans/req: spans the sink received per request served.\n")  # fmt: skip
    print(markdown(COLUMNS, table_rows(results)))
    print()
    print(markdown(VERDICT_COLUMNS, verdict_rows(results)))
    if args.json:
        data = {"date": date, "machine": header, "requests": args.requests, "concurrency": args.concurrency,
                "rounds": args.rounds, "warmup": args.warmup, "results": [asdict(r) for r in results]}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
