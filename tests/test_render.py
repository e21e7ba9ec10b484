"""Markdown rendering from fixed report JSON, compared with golden files.

Regenerate the goldens after an intended change with:

    UPDATE_GOLDEN=1 python -m pytest tests/test_render.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from otel_go_autoinst.publish.prdiff import parse_diff
from otel_go_autoinst.render import (
    COMMENT_LIMIT,
    COMMENT_MARKER,
    code,
    escape_text,
    merge_reports,
    method_name,
    render_markdown,
)
from otel_go_autoinst.report import InstrumentedFunction, Report

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden" / "markdown"
REPO_URL = "https://github.com/example/shop"
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"


def load(name: str) -> Report:
    return Report.read(DATA / "reports" / f"{name}.json")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{path} differs; run with UPDATE_GOLDEN=1 if the change is intended"


CASES: dict[str, dict[str, Any]] = {
    "passing": dict(report="passing", repo_url=REPO_URL, head_sha=HEAD_SHA),
    "passing-no-links": dict(report="passing"),
    "passing-pr": dict(report="passing", repo_url=REPO_URL, head_sha=HEAD_SHA, diff="shop-pr"),
    "passing-small-limit": dict(report="passing", repo_url=REPO_URL, head_sha=HEAD_SHA, limit=2500),
    "failed": dict(report="failed", repo_url=REPO_URL, head_sha=HEAD_SHA),
    "empty": dict(report="empty", repo_url=REPO_URL, head_sha=HEAD_SHA),
    "huge": dict(report="huge", repo_url=REPO_URL, head_sha=HEAD_SHA),
    "merged": dict(report=["passing", "failed", "empty"], repo_url=REPO_URL, head_sha=HEAD_SHA),
}


def render_case(case: dict[str, Any]) -> str:
    names = case["report"]
    report = merge_reports([load(n) for n in names]) if isinstance(names, list) else load(names)
    changes = None
    if "diff" in case:
        changes = parse_diff((DATA / "diffs" / f"{case['diff']}.diff").read_text(encoding="utf-8"))
    return render_markdown(
        report,
        repo_url=case.get("repo_url"),
        head_sha=case.get("head_sha"),
        changes=changes,
        limit=case.get("limit", 65_000),
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    text = render_case(CASES[name])
    assert text.startswith(COMMENT_MARKER + "\n")
    assert len(text) <= CASES[name].get("limit", 65_000)
    check_golden(name, text)


def test_deterministic_regardless_of_input_order() -> None:
    report = load("passing")
    shuffled = Report.from_dict(report.to_dict())
    shuffled.instrumented.reverse()
    shuffled.warnings.reverse()
    shuffled.rules.reverse()
    assert render_markdown(report) == render_markdown(shuffled)


def test_links_only_for_repository_files() -> None:
    text = render_case(CASES["passing"])
    assert f"({REPO_URL}/blob/{HEAD_SHA}/orders/service.go#L42)" in text
    assert "`GOROOT/src/net/http/client.go:581`" in text
    assert "blob/" + HEAD_SHA + "/GOROOT" not in text
    assert "GOMODCACHE/github.com/gin-gonic/gin@v1.10.0/gin.go:633" in text
    nethttp = text[text.index("### Instrumented functions: nethttp") :]
    assert "| `net/http` | `(*Client).Do` | `full` | ✓ |" in nethttp.split("###")[1]
    assert "`HandlerFunc.ServeHTTP`" in text
    assert "| `example.com/shop` | `run` |" in text


def test_pr_marks() -> None:
    text = render_case(CASES["passing-pr"])
    rows = {line.split("|")[3].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "✏️ changed" in rows["`(*Service).PlaceOrder`"]
    assert "🆕 new" in rows["`Cart[T].Total`"]
    assert "✏️ changed" in rows["`run`"]
    assert "changed" not in rows["`(*Service).CancelOrder`"]
    assert "2 instrumented functions changed, 1 new function now matched" in text


def test_failed_build_shows_errors_first() -> None:
    text = render_case(CASES["failed"])
    assert "Build: ❌ failed in 3.2 s" in text
    assert "Tests: not run" in text
    assert text.index("Build errors (2)") < text.index("### Instrumented functions")
    assert "undefined: otelhooks.Wrap" in text
    # the output tail is fenced with more backticks than it contains
    assert "````text" in text


def test_huge_is_truncated_with_note() -> None:
    report = load("huge")
    full = render_markdown(report, repo_url=REPO_URL, head_sha=HEAD_SHA, limit=10**9)
    assert len(full) > COMMENT_LIMIT
    text = render_markdown(report, repo_url=REPO_URL, head_sha=HEAD_SHA)
    assert len(text) <= 65_000
    assert text.startswith(COMMENT_MARKER)
    assert "This report was truncated" in text
    assert "The full report is in the JSON artifact" in text
    # test errors come first and are all kept; the rows at the end go
    assert "TestHandle29" in text
    assert "of 480 table rows; the section “Warnings (150)”; the section “Rules" in text
    kept_rows = sum(1 for line in text.splitlines() if line.startswith("| `example.com/big"))
    assert 0 < kept_rows < 480
    left = int(text.split("size limit: ")[1].split(" of 480")[0])
    assert kept_rows + left == 480


@pytest.mark.parametrize("limit", [200, 1000, 5000, 20_000, 65_536, 1_048_576])
def test_truncation_respects_any_limit(limit: int) -> None:
    text = render_markdown(load("huge"), repo_url=REPO_URL, head_sha=HEAD_SHA, limit=limit)
    assert len(text) <= limit
    assert text.startswith(COMMENT_MARKER)


@pytest.mark.parametrize("byte_limit", [1000, 30_000, 60_000])
def test_byte_limit_counts_utf8(byte_limit: int) -> None:
    report = load("huge")
    text = render_markdown(report, limit=10**9, byte_limit=byte_limit)
    assert len(text.encode("utf-8")) <= byte_limit
    assert text.startswith(COMMENT_MARKER)
    assert "truncated" in text


def test_escaping_in_cells() -> None:
    assert escape_text("a|b `c` <d> *e*") == "a&#124;b &#96;c&#96; &lt;d&gt; \\*e\\*"
    assert code("a|b") == "`a\\|b`"
    assert code("x`y") == "x&#96;y"
    fn = InstrumentedFunction(
        package="p|q",
        file="a<b>.go",
        line=1,
        function="F",
        receiver="*T",
        rules=["r`x"],
        optimization="full",
    )
    report = Report(root=".", go_version="1.23", instrumented=[fn])
    text = render_markdown(report)
    row = next(line for line in text.splitlines() if line.startswith("| `p"))
    assert row.count("|") - row.count("\\|") == 7  # 6 cells, no stray separators
    assert "`a<b>.go:1`" in row  # a code span shows <b> literally
    assert "### Instrumented functions: r&#96;x (1)" in text  # the integration's heading, escaped
    assert method_name(fn) == "(*T).F"


def test_merge_reports() -> None:
    a, b = load("passing"), load("failed")
    merged = merge_reports([a, b])
    assert merged.build is not None and merged.build.status == "failed"
    assert merged.build.duration_s == pytest.approx(12.34 + 3.2)
    assert merged.test is not None and merged.test.status == "passed"
    assert {m.path for m in merged.modules} == {"example.com/shop", "example.com/api"}
    # net/http (*Client).Do is in both: one entry, inlined unknown since they disagree
    dos = [f for f in merged.instrumented if f.function == "Do"]
    assert len(dos) == 1 and dos[0].inlined is None
    assert len(merged.instrumented) == len(a.instrumented)
    assert merged.go_version == "1.22.7, 1.23.4"
    assert merge_reports([a]).to_dict() == a.to_dict()
    with pytest.raises(ValueError):
        merge_reports([])


def test_comment_without_durations_is_the_same_for_a_rerun() -> None:
    """The sticky comment leaves build and test times out, so a re-run renders the same body."""
    report = load("passing")
    rerun = Report.from_dict(report.to_dict())
    assert rerun.build is not None and rerun.test is not None
    rerun.build.duration_s += 7.5
    rerun.test.duration_s += 3.25
    assert render_markdown(report) != render_markdown(rerun)
    assert render_markdown(report, durations=False) == render_markdown(rerun, durations=False)
    assert " in " not in render_markdown(report, durations=False).splitlines()[4]


def test_render_itself_defuses_mentions_and_links_out_of_the_repository() -> None:
    """A second line of defence behind the schema check: whatever report reaches the renderer,
    no live mention and no link that leaves the repository."""
    fns = [
        InstrumentedFunction(
            package="p", file=f, line=1, function="F", receiver=None, rules=["r"],
            optimization="full",
        )  # fmt: skip
        for f in ("svc/../../other/repo/blob/main/x.go", "https://evil.example/x.go", "ok/x.go")
    ]
    report = Report(root=".", go_version="1.23", instrumented=fns, warnings=["ping @org/team"])
    text = render_markdown(report, repo_url=REPO_URL, head_sha=HEAD_SHA)
    links = re.findall(r"\]\(([^)]*)\)", text)
    assert links == [f"{REPO_URL}/blob/{HEAD_SHA}/ok/x.go#L1"]
    assert "@org/team" not in text and "@\u200borg/team" in text
