"""Bad input to the engine, with the real Go toolchain: each mistake gets one clear sentence on
stderr, never a Python traceback, and a non-zero exit where the build cannot proceed.

The modules are copies (in tmp_path) of tests/data/modules/probe, broken on purpose; the broken rule
files are in tests/data/modules/bad_rules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CLI, MODULES, only_user_rules

BAD_RULES = MODULES / "bad_rules"
SUMMARY = re.compile(r"^otel-go-autoinst: instrumented \d+ function\(s\)")


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, env=env
    )


def build(module: Path, rules: Path, out: Path, **kw) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "build", "-C", module, "--rules", rules, *only_user_rules(), "-o", out, "./cmd/probe", **kw
    )


def probe_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(MODULES / "probe", tmp_path / "probe"))


def our_lines(stderr: str) -> list[str]:
    """The engine's own messages (less the closing summary line)."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("otel-go-autoinst:") and not SUMMARY.match(line)
    ]


def assert_one_sentence(
    proc: subprocess.CompletedProcess[str], *, exit_nonzero: bool = True
) -> str:
    """Exactly one line of stderr, from the engine, and no traceback; returns it."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert (proc.returncode != 0) == exit_nonzero, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{proc.stderr}"
    assert lines[0].startswith("otel-go-autoinst: "), lines
    return lines[0]


def edit(path: Path, old: str, new: str) -> int:
    """Replace old by new in path; returns the 1-based line where new starts."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


# -- the toolchain and the module -----------------------------------------------------------------


def test_no_go_mod(tmp_path: Path) -> None:
    (tmp_path / "main.go").write_text("package main\n\nfunc main() {}\n", encoding="utf-8")
    proc = build(tmp_path, MODULES / "probe" / "rules.yaml", tmp_path / "out")
    line = assert_one_sentence(proc)
    assert "go.mod" in line and str(tmp_path) in line
    assert not (tmp_path / "out").exists()


def test_no_go_toolchain(tmp_path: Path) -> None:
    module = probe_copy(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    proc = build(module, module / "rules.yaml", tmp_path / "out", env=env)
    line = assert_one_sentence(proc)
    assert "Go toolchain was not found" in line or ("go" in line.lower() and "PATH" in line), line


def test_go_older_than_supported(tmp_path: Path) -> None:
    """A `go` first on PATH that says it is go1.19: the engine's version check refuses it (the real
    build is never reached, so nothing of Go is mocked but its answer to `go env`)."""
    module = probe_copy(tmp_path)
    fake = tmp_path / "fakego"
    fake.mkdir()
    (fake / "go").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = env ]; then\n'
        '  printf \'{"GOVERSION": "go1.19", "GOROOT": "/nonexistent", "GOMODCACHE": "/nonexistent",'
        ' "GOOS": "linux", "GOARCH": "amd64", "GOMOD": "%s/go.mod", "GOWORK": ""}\\n\' "$PWD"\n'
        "  exit 0\n"
        "fi\n"
        'if [ "$1" = version ]; then echo "go version go1.19 linux/amd64"; exit 0; fi\n'
        'echo "fake go: $*" >&2\n'
        "exit 1\n",
        encoding="utf-8",
    )
    (fake / "go").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    proc = build(module, module / "rules.yaml", tmp_path / "out", env=env)
    line = assert_one_sentence(proc)
    assert "1.19" in line and "too old" in line, line
    assert "fake go:" not in proc.stderr  # refused before any build was tried


def test_package_that_does_not_load_before_instrumentation(tmp_path: Path) -> None:
    """An import of a package that exists nowhere: the plain build fails too, and we say so."""
    module = probe_copy(tmp_path)
    edit(
        module / "target" / "target.go",
        '\t"strings"\n',
        '\t"strings"\n\n\t"example.com/probe/nosuchpkg"\n',
    )
    proc = build(module, module / "rules.yaml", tmp_path / "out")
    assert "Traceback" not in proc.stderr
    assert proc.returncode != 0
    message = " ".join(proc.stderr.split())
    assert "example.com/probe/nosuchpkg" in message
    assert "plain `go build` fails too" in message
    assert len(our_lines(proc.stderr)) == 1
    assert_one_sentence(proc)  # one line: Go's multi-line detail folded into the sentence


def test_package_that_does_not_compile_before_instrumentation(tmp_path: Path) -> None:
    """A missing import (os used, not imported) that only the compiler sees: Go's own error is
    shown and the engine says the plain build fails too."""
    module = probe_copy(tmp_path)
    edit(module / "target" / "target.go", "return a + b\n", "return a + b + len(os.Args)\n")
    proc = build(module, module / "rules.yaml", tmp_path / "out")
    assert "Traceback" not in proc.stderr
    assert proc.returncode != 0
    assert "undefined: os" in proc.stderr
    [line] = our_lines(proc.stderr)
    assert "plain `go build` fails too" in line


def test_compile_error_names_the_users_file(tmp_path: Path) -> None:
    """The compiler's error points at the user's file and line, not at the engine's rewritten copy
    in its (already removed) build directory. TMPDIR is a sibling of the module, so the go command
    prints that copy's path relative to the module ("../tmp/otel-go-autoinst-.../overlay/...")."""
    module = probe_copy(tmp_path)
    line_no = edit(
        module / "target" / "target.go", "return a + b\n", "return a + b + len(os.Args)\n"
    )
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    report = tmp_path / "report.json"
    proc = run_cli(
        "build", "-C", module, "--rules", module / "rules.yaml", *only_user_rules(),
        "--report", report, "-o", tmp_path / "out", "./cmd/probe", env=env,
    )  # fmt: skip
    assert proc.returncode != 0
    # The report (the source of the annotations and the PR comment) names the user's file too.
    errors_in_report = json.loads(report.read_text(encoding="utf-8"))["build"]["errors"]
    assert [(e["file"], e["line"], e["message"]) for e in errors_in_report] == [
        ("target/target.go", line_no, "undefined: os")
    ]
    errors = [line for line in proc.stderr.splitlines() if "undefined: os" in line]
    assert errors, proc.stderr
    for error in errors:
        assert "otel-go-autoinst-" not in error, error
        assert re.match(rf"^(\./)?target/target\.go:{line_no}:\d+: undefined: os$", error) or (
            error.startswith(f"{module}/target/target.go:{line_no}:")
        ), error


def test_broken_go_syntax_in_a_target_file(tmp_path: Path) -> None:
    module = probe_copy(tmp_path)
    line_no = edit(
        module / "target" / "target.go", "func Add(a, b int) int {", "func Add(a, b int) int {{ ("
    )
    proc = build(module, module / "rules.yaml", tmp_path / "out")
    line = assert_one_sentence(proc)
    assert f"target.go:{line_no}" in line, line
    assert "syntax error" in line, line


# -- rules and hooks -------------------------------------------------------------------------------


def test_broken_rule_yaml(tmp_path: Path) -> None:
    module = probe_copy(tmp_path)
    rules = BAD_RULES / "broken_yaml.yaml"
    proc = build(module, rules, tmp_path / "out")
    line = assert_one_sentence(proc)
    assert f"{rules}:" in line or "broken_yaml.yaml:" in line, line
    assert re.search(r"broken_yaml\.yaml:\d+", line), line
    assert "YAML" in line


def test_rule_with_an_unknown_field(tmp_path: Path) -> None:
    module = probe_copy(tmp_path)
    proc = build(module, BAD_RULES / "unknown_field.yaml", tmp_path / "out")
    line = assert_one_sentence(proc)
    assert "unknown_field.yaml:6" in line, line
    assert "on_entr" in line and "on_enter" in line, line


def test_rule_naming_a_function_that_does_not_exist(tmp_path: Path) -> None:
    """A warning, and the build goes on (exit 0, a working program)."""
    module = probe_copy(tmp_path)
    out = tmp_path / "out"
    proc = build(module, BAD_RULES / "missing_function.yaml", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = our_lines(proc.stderr)
    assert "warning" in line and "NoSuchFunction" in line and "example.com/probe/target" in line, (
        line
    )
    assert "missing_function.yaml:" in line
    run = subprocess.run([str(out)], capture_output=True, text=True, timeout=60, check=True)
    assert "OUT: Add 3" in run.stdout


def test_hook_with_a_wrong_signature(tmp_path: Path) -> None:
    """The message names the hook's signature and the one its target needs."""
    module = probe_copy(tmp_path)
    out = tmp_path / "out"
    proc = build(module, BAD_RULES / "wrong_signature.yaml", out)
    line = assert_one_sentence(proc)
    assert "wrongGreetEnter" in line
    assert "func(call *api.CallContext, g target.Greeter, who int)" in line, line
    assert re.search(
        r"func\(call \*api\.CallContext, g \*(target\.)?Greeter, who string\)", line
    ), line
    assert "Greet" in line
    assert not out.exists()


def test_hook_with_a_concrete_type_for_a_type_parameter(tmp_path: Path) -> None:
    """Values typed by a type parameter of a generic target must arrive as any."""
    module = probe_copy(tmp_path)
    proc = build(module, BAD_RULES / "type_param_not_any.yaml", tmp_path / "out")
    line = assert_one_sentence(proc)
    assert "wrongMaxEnter" in line and "target.Max" in line
    assert "func(call *api.CallContext, a int, b int)" in line, line
    assert "type parameter" in line, line


def test_rule_naming_a_hook_that_does_not_exist(tmp_path: Path) -> None:
    module = probe_copy(tmp_path)
    proc = build(module, BAD_RULES / "missing_hook.yaml", tmp_path / "out")
    line = assert_one_sentence(proc)
    assert (
        "missing_hook.yaml:" in line and "noSuchHook" in line and "example.com/probe/hooks" in line
    )


@pytest.mark.parametrize("verb", ["plan", "diff"])
def test_plan_and_diff_report_bad_rules_the_same_way(tmp_path: Path, verb: str) -> None:
    module = probe_copy(tmp_path)
    proc = run_cli(
        verb,
        "-C",
        module,
        "--rules",
        BAD_RULES / "wrong_signature.yaml",
        *only_user_rules(),
        "./cmd/probe",
    )
    line = assert_one_sentence(proc)
    assert "wrongGreetEnter" in line


def test_tests_of_the_packages_that_load_still_run(tmp_path: Path) -> None:
    """`go test ./...` marks a package that does not load "[setup failed]" and runs the others
    (nats.go's repository tests some packages with another go.mod): so does the instrumented run,
    which says why that package fails. It used to stop before any test ran, and to call the
    failure its own when the missing package is only a test's import."""
    module = tmp_path / "half"
    (module / "good").mkdir(parents=True)
    (module / "broken").mkdir()
    (module / "go.mod").write_text("module example.com/half\n\ngo 1.23\n")
    (module / "good" / "good.go").write_text("package good\n\nfunc One() int { return 1 }\n")
    (module / "good" / "good_test.go").write_text(
        'package good\n\nimport "testing"\n\n'
        'func TestOne(t *testing.T) {\n\tif One() != 1 {\n\t\tt.Fatal("one")\n\t}\n}\n'
    )
    (module / "broken" / "broken.go").write_text("package broken\n")
    (module / "broken" / "broken_test.go").write_text(
        'package broken\n\nimport (\n\t"testing"\n\n\t"github.com/nowhere/nothing"\n)\n\n'
        "func TestNothing(t *testing.T) { nothing.Do() }\n"
    )
    plain = subprocess.run(
        ["go", "test", "-count=1", "./..."], cwd=module, capture_output=True, text=True
    )
    ours = run_cli("test", "-C", module, "-count=1", "./...")
    assert "Traceback" not in ours.stderr
    for proc in (plain, ours):
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert re.search(r"^ok\s+example.com/half/good\s", proc.stdout, re.M), proc.stdout
        assert "example.com/half/broken [setup failed]" in proc.stdout + proc.stderr
    [said] = [line for line in our_lines(ours.stderr) if "github.com/nowhere/nothing" in line]
    assert "the plain `go test` fails on it too" in said, said


def test_an_import_only_the_hooks_modules_provide(tmp_path: Path) -> None:
    """A package that imports protobuf without requiring it: the plain go command fails ("no
    required module provides package"), but the private workspace, whose hooks require protobuf,
    would provide it, so the instrumented build succeeded where the plain one cannot (nats.go's
    encoders/protobuf). A build now stops as the plain one does; a test run says so."""
    module = tmp_path / "lacking"
    (module / "pb").mkdir(parents=True)
    (module / "go.mod").write_text("module example.com/lacking\n\ngo 1.23\n")
    (module / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/lacking/pb"\n)\n\n'
        "func main() { fmt.Println(pb.Size()) }\n"
    )
    (module / "pb" / "pb.go").write_text(
        'package pb\n\nimport "google.golang.org/protobuf/proto"\n\n'
        "func Size() int { return proto.Size(nil) }\n"
    )
    plain = subprocess.run(
        ["go", "build", "-o", os.devnull, "./..."], cwd=module, capture_output=True, text=True
    )
    assert plain.returncode == 1 and "no required module provides package" in plain.stderr
    ours = run_cli("build", "-C", module, "-o", os.devnull, "./...")
    assert ours.returncode == 1, ours.stdout + ours.stderr
    assert_one_sentence(ours)
    message = " ".join(ours.stderr.split())
    assert "Package example.com/lacking/pb depends on google.golang.org/protobuf/" in message
    assert "the plain `go build` fails on it" in message
    assert "go get google.golang.org/protobuf`" in message

    plain_test = subprocess.run(["go", "test", "./..."], cwd=module, capture_output=True, text=True)
    assert plain_test.returncode == 1 and "[setup failed]" in plain_test.stdout
    tested = run_cli("test", "-C", module, "./...")
    assert tested.returncode == 1, tested.stdout + tested.stderr  # as plain's
    said = [line for line in our_lines(tested.stderr) if "google.golang.org/protobuf" in line]
    assert len(said) == 2 and all("the plain `go test` fails on it" in s for s in said), said
