"""Smoke test of the call benchmark: one case, the shortest run; checks the table, never a figure."""

from __future__ import annotations

import shutil

import pytest
from cli_helpers import run_bench, table_cells

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the go toolchain")


def test_call_bench_quick_table_has_all_columns(tmp_path):
    stdout, call_bench = run_bench(
        "call_bench", "--quick", "--count", "1", "--benchtime", "1000x",
        "--cases", "^SmallNoExit$", "--no-http", "--json", str(tmp_path / "rows.json"), timeout=600,
    )  # fmt: skip
    rows = [line for line in stdout.splitlines() if line.startswith("|")]
    header = table_cells(rows[0])
    assert header == call_bench.COLUMNS
    assert set(rows[1]) <= set("|-")
    body = [table_cells(r) for r in rows[2:]]
    assert len(body) == 1 and len(body[0]) == len(header)
    row = dict(zip(header, body[0], strict=True))
    assert row["case"] == "Small" and row["class"] == "no-onexit"
    for col in ("raw ns/op", "inst ns/op", "Δ ns", "Δ allocs/op", "Δ B/op"):
        float(row[col])  # a number, whatever its value
    assert row["trampoline inlined"] in ("yes", "no", "?")
    assert row["still inlinable"] in ("yes", "no", "?")
    assert row["verdict"] == "met" or row["verdict"].startswith("MISSED by ")
    assert (tmp_path / "rows.json").exists()
