"""Smoke test of the traced-request benchmark: the quick mode's tables parse; never a figure."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import REPO, run_bench, table_cells

SCRIPT = REPO / "bench" / "request_bench.py"

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the go toolchain")


def test_request_bench_quick_tables_parse(tmp_path: Path) -> None:
    stdout, request_bench = run_bench(
        "request_bench", "--quick", "--requests", "300", "--warmup", "50",
        "--json", str(tmp_path / "figures.json"), timeout=900,
    )  # fmt: skip
    assert stdout.startswith("Measured ")
    assert "CPUs (nproc)" in stdout.splitlines()[0]
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    # Two tables: the figures, then the verdicts.
    assert table_cells(lines[0]) == request_bench.COLUMNS
    assert set(lines[1]) <= set("|-")
    figures = [
        dict(zip(request_bench.COLUMNS, table_cells(line), strict=True)) for line in lines[2:8]
    ]
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
    assert table_cells(lines[8]) == request_bench.VERDICT_COLUMNS
    verdicts = [
        dict(zip(request_bench.VERDICT_COLUMNS, table_cells(line), strict=True))
        for line in lines[10:]
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
