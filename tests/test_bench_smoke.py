"""Smoke test of the call benchmark: one case, the shortest run; checks the table, never a figure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "call_bench.py"

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the go toolchain")


def test_call_bench_quick_table_has_all_columns(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--count", "1", "--benchtime", "1000x",
         "--cases", "^SmallNoExit$", "--no-http", "--json", str(tmp_path / "rows.json")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import call_bench
    finally:
        sys.path.pop(0)
    rows = [line for line in out.stdout.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header == call_bench.COLUMNS
    assert set(rows[1]) <= set("|-")
    body = [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]
    assert len(body) == 1 and len(body[0]) == len(header)
    row = dict(zip(header, body[0], strict=True))
    assert row["case"] == "Small" and row["class"] == "no-onexit"
    for col in ("raw ns/op", "inst ns/op", "Δ ns", "Δ allocs/op", "Δ B/op"):
        float(row[col])  # a number, whatever its value
    assert row["trampoline inlined"] in ("yes", "no", "?")
    assert row["still inlinable"] in ("yes", "no", "?")
    assert row["verdict"] == "met" or row["verdict"].startswith("MISSED by ")
    assert (tmp_path / "rows.json").exists()
