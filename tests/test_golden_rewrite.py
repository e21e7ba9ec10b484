"""Golden before/after files of the rewrite: the reviewer reads each injected line next to the
original. Regenerate with UPDATE_GOLDEN=1 after a deliberate change, and read the diff."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from otel_go_autoinst.cli import main

HERE = Path(__file__).parent
MODULE = HERE / "data" / "golden"
GOLDEN = HERE / "golden" / "rewrite.diff"
ARGS = ["-C", str(MODULE), "--disable", "otelsetup,gls", "--rules", str(MODULE / "rules")]


def test_rewrite_matches_golden(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", *ARGS, "./..."]) == 0
    produced = capsys.readouterr().out
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(produced, encoding="utf-8")
    assert produced == GOLDEN.read_text(encoding="utf-8")


def test_every_case_keeps_its_lines() -> None:
    """Only lines that open a function body change, and the file keeps its line count."""
    changed = [
        line[1:]
        for line in GOLDEN.read_text(encoding="utf-8")
        .split("+++ b/tests/data/golden/cases/zz_otel")[0]
        .splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    assert changed and all(
        line.startswith("func ") and ("{ if " in line or "{ var _otelC" in line) for line in changed
    )
    assert not any("Ignored" in line for line in changed)


def test_golden_module_builds_and_behaves_like_the_plain_build(tmp_path: Path) -> None:
    binary = tmp_path / "golden"
    report = tmp_path / "report.json"
    assert main(["build", *ARGS, "--report", str(report), "-o", str(binary), "./cmd/golden"]) == 0
    instrumented = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    plain = subprocess.run(
        ["go", "run", "./cmd/golden"], cwd=MODULE, capture_output=True, text=True, check=True
    ).stdout
    assert instrumented == plain
    import json

    functions = {f["function"]: f for f in json.loads(report.read_text())["instrumented"]}
    assert set(functions) == {
        "Plain", "Add", "Value", "Named", "Unnamed", "UnnamedParams", "Variadic", "Host", "Map",
        "Push", "Twice", "OneLine", "Skippable",
    }  # fmt: skip
    assert {f["optimization"] for f in functions.values()} == {
        "full", "no-skipcall", "no-onexit", "no-onexit+no-skipcall", "no-onenter",
    }  # fmt: skip
    assert functions["Twice"]["rules"] == ["golden", "golden"]
    # The compiler's verdict, not a guess: these small enter trampolines are inlined.
    assert functions["Plain"]["inlined"] is True
    assert functions["Named"]["inlined"] is None  # no onEnter: nothing to inline
    assert functions["Plain"]["raw_inlinable"] is False  # it has a defer now
    # No onExit: the trampoline (one call to the hook's wrapper) is inlined, and the function
    # itself stays inlinable.
    assert functions["Value"]["inlined"] is True
    assert functions["Value"]["raw_inlinable"] is True


def test_a_hook_that_keeps_its_argument_is_not_lied_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Escape verdicts come from the compiler and are cached; editing a hook so that it keeps its
    argument must take the hiding away (the cache is keyed on the hooks' sources)."""
    import shutil

    module = tmp_path / "golden"
    shutil.copytree(MODULE, module)
    args = ["diff", "-C", str(module), "--disable", "otelsetup", "--rules", str(module / "rules")]

    def host_call() -> str:
        """The declaration of Host's hook (with its directives) and the trampoline's call."""
        assert main([*args, "./..."]) == 0
        lines = capsys.readouterr().out.splitlines()
        at = lines.index("+//go:linkname _otelHookEnter7 example.com/golden/hooks._otelO_hostEnter")
        call = next(line for line in lines if "return _otelHookEnter7(" in line)
        return "\n".join([lines[at - 1], lines[at], call])

    # The no-op hook keeps nothing: declared //go:noescape, its argument passed as it is.
    assert "+//go:noescape" in host_call()
    assert "_otelHide" not in host_call()
    hooks = module / "hooks" / "hooks.go"
    text = hooks.read_text(encoding="utf-8")
    leaking = text.replace(
        "func hostEnter(call *api.CallContext, v *url.URL) {}",
        "var Kept *url.URL\n\nfunc hostEnter(call *api.CallContext, v *url.URL) { Kept = v }",
    )
    assert leaking != text
    hooks.write_text(leaking, encoding="utf-8")
    assert "//go:noescape" not in host_call()  # v escapes now: the compiler is told so
    assert "return _otelHookEnter7(a0)" in host_call()


def test_a_package_with_only_test_files_links_the_hooks() -> None:
    """Its test binary contains instrumented code, so it must contain the hooks too."""
    assert main(["test", *ARGS, "-count=1", "./testonly"]) == 0


def _edited_lines(diff: str) -> tuple[list[str], list[str]]:
    """The removed and added lines of the first file of a diff (the generated files follow)."""
    first = diff.split("--- /dev/null")[0].splitlines(keepends=True)[2:]
    return [x for x in first if x.startswith("-")], [x for x in first if x.startswith("+")]


def test_diff_of_a_crlf_file_shows_only_the_edited_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with Windows line endings keeps them: the diff is the one of the LF file, with each
    line's CRLF, not every line removed and added again."""
    import shutil

    module = Path(shutil.copytree(MODULE, tmp_path / "golden"))
    cases = module / "cases" / "cases.go"
    lf = cases.read_bytes()
    assert b"\r\n" not in lf
    cases.write_bytes(lf.replace(b"\n", b"\r\n"))
    args = ["-C", str(module), "--disable", "otelsetup,gls", "--rules", str(module / "rules")]
    assert main(["diff", *args, "./cases"]) == 0
    removed, added = _edited_lines(capsys.readouterr().out)
    golden_removed, golden_added = _edited_lines(GOLDEN.read_text(encoding="utf-8"))
    assert [x.replace("\r\n", "\n") for x in removed] == golden_removed
    assert [x.replace("\r\n", "\n") for x in added] == golden_added
    assert all(x.endswith("\r\n") for x in removed + added)
