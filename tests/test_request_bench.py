"""Smoke test of the traced-request benchmark: the quick mode's tables parse; never a figure."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "request_bench.py"

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the go toolchain")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_request_bench_quick_tables_parse(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--requests", "300", "--warmup", "50",
         "--json", str(tmp_path / "figures.json")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import request_bench
    finally:
        sys.path.pop(0)
    assert out.stdout.startswith("Measured ")
    assert "CPUs (nproc)" in out.stdout.splitlines()[0]
    lines = [line for line in out.stdout.splitlines() if line.startswith("|")]
    # Two tables: the figures, then the verdicts.
    assert _cells(lines[0]) == request_bench.COLUMNS
    assert set(lines[1]) <= set("|-")
    figures = [dict(zip(request_bench.COLUMNS, _cells(line), strict=True)) for line in lines[2:8]]
    assert [(r["sampler"], r["build"]) for r in figures] == [
        (s, b) for s in ("always_on", "always_off") for b in ("plain", "ours", "manual")
    ]
    for row in figures:
        for col in ("CPU µs/req", "allocs/req", "KB/req", "req/s"):
            float(row[col])  # a number, whatever its value
        if row["build"] == "plain":
            assert row["Δ CPU µs vs plain"] == "-" and row["spans/req"] == "-"
        else:
            float(row["Δ CPU µs vs plain"])
            float(row["Δ allocs vs plain"])
            float(row["spans/req"])
    assert _cells(lines[8]) == request_bench.VERDICT_COLUMNS
    verdicts = [
        dict(zip(request_bench.VERDICT_COLUMNS, _cells(line), strict=True)) for line in lines[10:]
    ]
    assert len(verdicts) == 5
    for row in verdicts:
        assert row["verdict"] == "met" or row["verdict"].startswith("MISSED by ")
    data = json.loads((tmp_path / "figures.json").read_text())
    assert len(data["results"]) == 6


def test_request_bench_bad_sampler_is_one_sentence() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--samplers", "sometimes"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "--samplers takes always_on and/or always_off" in out.stderr
