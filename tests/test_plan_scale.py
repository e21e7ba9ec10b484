"""Planning stays linear in the number of rules: each file a rule can match is read once and parsed
once, whatever the number of rules that look into it (no timing here: bench/plan_bench.py prints
the figures); and the benchmark itself runs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import plan_bench  # noqa: E402


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planscale") / "planbench"
    plan_bench.generate(root)
    return root


def test_each_file_is_read_once_for_all_the_rules(
    module: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: Counter[Path] = Counter()
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads[self] += 1
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    rules = plan_bench.rule_file(module, 600)  # 60 rules in each package of 20 files
    plan, _ = plan_bench.plan_once(module, rules)
    assert len(plan.targets) == 600
    generated = {path: n for path, n in reads.items() if "gen" in path.parts}
    assert len(generated) == plan_bench.PACKAGES * plan_bench.PER_PACKAGE // plan_bench.PER_FILE
    # Once to find which names it holds, once to parse it: not once per rule.
    assert max(generated.values()) <= 2, max(generated.values())


def test_plan_bench_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "plan_bench.py"), "--rules", "20,60", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| 20 |")]
    rows += [line for line in proc.stdout.splitlines() if line.startswith("| 60 |")]
    assert len(rows) == 2, proc.stdout
