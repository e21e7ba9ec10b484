#!/usr/bin/env python3
"""Soak of goroutine-local context: is anything kept that grows with traffic?

    python bench/soak.py [--requests N] [--concurrency C] [--json FILE]

Builds the test service tests/data/modules/gls with `otel-go-autoinst build` (every call it makes
carries no context: http.Get in the handler and in a goroutine it starts, a worker goroutine reused
by every request, db.Query and db.Exec), starts it exporting its spans over OTLP/HTTP to a receiver
in this process, and sends N requests (default 5000, each route in turn) from C threads (default
16). Before, half-way and after, the service's /stats answers, after a runtime.GC(), its goroutine
count, live heap and live heap objects; the figures are printed side by side with the spans
received. A mechanism that kept something per request would show the heap and the objects growing
from the half-way mark to the end.

Never asserts on a figure: exits non-zero only when the service cannot be built or run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODULE = REPO / "tests" / "data" / "modules" / "gls"
sys.path.insert(0, str(REPO / "tests"))
from otlp_receiver import OTLPReceiver  # noqa: E402

ROUTES = ("/noctx/{i}", "/go/{i}", "/worker/{i}", "/db/{i}")


def _cli() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    return [exe] if exe else [sys.executable, "-m", "otel_go_autoinst.cli"]


def stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(base + "/stats", timeout=60) as resp:
        words = resp.read().decode().split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def fetch(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            resp.read()
            return resp.status == 200
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if shutil.which("go") is None:
        print("soak: the Go toolchain is required (go is not on PATH).", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="otel-soak-") as tmp:
        binary = Path(tmp) / "gls"
        build = subprocess.run(
            [*_cli(), "build", "-C", str(MODULE), "-o", str(binary), "."],
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            print(f"soak: the instrumented build failed:\n{build.stderr}", file=sys.stderr)
            return 1
        with OTLPReceiver() as rx:
            env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
            env.update(OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, OTEL_BSP_SCHEDULE_DELAY="200")
            proc = subprocess.Popen(
                [str(binary)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            try:
                assert proc.stdout is not None
                m = re.match(r"listening on (\S+)", proc.stdout.readline())
                if not m:
                    print(f"soak: the service did not start: {proc.stderr}", file=sys.stderr)
                    return 1
                base = f"http://{m.group(1)}"
                figures = run(base, rx, args.requests, args.concurrency)
            finally:
                proc.terminate()
                proc.communicate(timeout=30)
    print_table(figures, args.requests, args.concurrency)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def run(base: str, rx: OTLPReceiver, n: int, concurrency: int) -> list[dict[str, object]]:
    figures: list[dict[str, object]] = []
    failed = 0

    def batch(start: int, count: int) -> int:
        urls = [base + ROUTES[i % len(ROUTES)].format(i=i) for i in range(start, start + count)]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return sum(1 for ok in pool.map(fetch, urls) if not ok)

    def mark(label: str, done: int, seconds: float) -> None:
        time.sleep(1.0)  # let the last spans go out and idle work settle
        figures.append(
            {"at": label, "requests": done, "failed": failed, "spans_received": len(rx.spans),
             "seconds": round(seconds, 1), **stats(base)}
        )  # fmt: skip

    warm = min(200, n)
    failed += batch(0, warm)
    mark("before", warm, 0.0)
    started = time.monotonic()
    half = n // 2
    failed += batch(warm, half)
    mark("half-way", warm + half, time.monotonic() - started)
    failed += batch(warm + half, n - half)
    mark("after", warm + n, time.monotonic() - started)
    return figures


def print_table(figures: list[dict[str, object]], n: int, concurrency: int) -> None:
    print(f"soak: {n} requests ({', '.join(ROUTES)} in turn), {concurrency} at a time")
    cols = ("at", "requests", "failed", "spans_received", "goroutines", "heap_alloc",
            "heap_objects", "seconds")  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in figures:
        print("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")


if __name__ == "__main__":
    sys.exit(main())
