"""End-to-end tests of the instrumentation engine with the real Go toolchain (issue 2).

The Go test modules live in tests/data/modules; every test works on a copy in a temporary folder so
a misbehaving engine can never touch the fixtures. Each module is built once per module of tests
(plain `go build` and the instrumented build side by side) and the tests read the outputs.

- probe: a package `target` with one function per CallContext feature, hooks that print a "HOOK:"
  line for what they see (the program prints "OUT:" lines on the same stream, so the order shows).
- depstd: a package calling github.com/google/uuid (a dependency module) and net/url (the standard
  library), with a Go test that passes only when the hooks changed what those calls return.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import CLI, MODULES, only_user_rules

TIMEOUT = 300


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )


def copy_module(name: str, dest: Path) -> Path:
    shutil.copytree(MODULES / name, dest)
    return dest


def marker_line(path: Path, marker: str) -> int:
    """The 1-based line of `path` whose text holds `marker` (a comment in the Go source)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if marker in line]
    assert len(hits) == 1, f"{marker} must be on exactly one line of {path}"
    return hits[0]


# -- the probe module, built once ---------------------------------------------------------------


@dataclass
class ProbeBuild:
    module: Path
    plain_out: list[str]  # stdout lines of the plain build's program
    inst_out: list[str]  # stdout lines of the instrumented program
    inst_stderr: str
    build: subprocess.CompletedProcess[str]
    report: dict
    plain_bin: Path
    inst_bin: Path

    @property
    def hook_lines(self) -> list[str]:
        return [line for line in self.inst_out if line.startswith("HOOK: ")]

    def out(self, prefix: str) -> str:
        """The instrumented program's one OUT line that starts with `OUT: <prefix> `."""
        hits = [line for line in self.inst_out if line.startswith(f"OUT: {prefix} ")]
        assert len(hits) == 1, (prefix, self.inst_out)
        return hits[0]

    def plain(self, prefix: str) -> str:
        hits = [line for line in self.plain_out if line.startswith(f"OUT: {prefix} ")]
        assert len(hits) == 1, (prefix, self.plain_out)
        return hits[0]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> ProbeBuild:
    base = tmp_path_factory.mktemp("probe")
    module = copy_module("probe", base / "probe")
    plain_bin, inst_bin, report = base / "plain", base / "inst", base / "report.json"
    subprocess.run(
        ["go", "build", "-o", str(plain_bin), "./cmd/probe"],
        cwd=module,
        check=True,
        timeout=TIMEOUT,
    )
    build = run_cli(
        "build", "-C", module, "--rules", module / "rules.yaml", *only_user_rules(),
        "--report", report, "-o", inst_bin, "./cmd/probe",
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert "Traceback" not in build.stderr
    plain = subprocess.run([str(plain_bin)], capture_output=True, text=True, timeout=60, check=True)
    inst = subprocess.run([str(inst_bin)], capture_output=True, text=True, timeout=60)
    assert inst.returncode == 0, inst.stderr
    return ProbeBuild(
        module=module,
        plain_out=plain.stdout.splitlines(),
        inst_out=inst.stdout.splitlines(),
        inst_stderr=inst.stderr,
        build=build,
        report=json.loads(report.read_text(encoding="utf-8")),
        plain_bin=plain_bin,
        inst_bin=inst_bin,
    )


PROBE_TARGETS = {  # function -> receiver, for every rule of probe/rules.yaml
    "Greet": "*Greeter", "Hello": "Greeter", "Misuse": None, "Add": None, "Compute": None, "Double": None, "Carry": None,
    "Fragile": None, "Nested": None, "Max": None, "Swap": "*Box", "Sum": None, "Unnamed": None,
    "Boom": None, "Where": None,
}  # fmt: skip


def test_report_lists_every_target_at_its_line(probe: ProbeBuild) -> None:
    """The build succeeds and the report names each instrumented function with its file and line."""
    source = (probe.module / "target" / "target.go").read_text(encoding="utf-8").splitlines()
    got = {f["function"]: f for f in probe.report["instrumented"]}
    assert set(got) == set(PROBE_TARGETS)
    for name, receiver in PROBE_TARGETS.items():
        entry = got[name]
        assert entry["package"] == "example.com/probe/target"
        assert entry["file"] == "target/target.go"
        assert receiver is None or entry["receiver"].replace("[T]", "") == receiver
        assert re.match(rf"func (\([^)]*\) )?{name}\b", source[entry["line"] - 1]), entry
    assert got["Nested"]["rules"] == ["probe", "probe"]
    assert probe.report["build"]["status"] == "passed"


def test_hooks_observe_receiver_and_arguments(probe: ProbeBuild) -> None:
    assert (
        "HOOK: greetEnter recv=ann who=bob func=Greeter.Greet pkg=example.com/probe/target "
        "params=2 results=2 p0=*target.Greeter p1=bob"
    ) in probe.hook_lines
    # onExit sees the results (one declared as any), GetReturnVal agrees.
    assert "HOOK: greetExit r0=ann greets bob r1=<nil> get0=ann greets bob" in probe.hook_lines
    assert probe.out("Greet") == probe.plain("Greet") == "OUT: Greet ann greets bob <nil>"


def test_hooks_observe_a_value_receiver(probe: ProbeBuild) -> None:
    assert "HOOK: helloEnter recv=cy func=Greeter.Hello p0=target.Greeter" in probe.hook_lines
    assert probe.out("Hello") == probe.plain("Hello") == "OUT: Hello hello from cy"


def test_set_param_changes_what_the_function_receives(probe: ProbeBuild) -> None:
    assert "HOOK: addEnter a=1 b=2" in probe.hook_lines
    assert probe.plain("Add") == "OUT: Add 3"
    assert probe.out("Add") == "OUT: Add 41"  # SetParam(1, 40)


def test_skip_call_with_set_return_val_replaces_the_call(probe: ProbeBuild) -> None:
    assert probe.plain("Compute(42)") == "OUT: Compute(42) 84 <nil>"
    assert probe.out("Compute(42)") == "OUT: Compute(42) -1 skipped"
    assert "OUT: Compute body ran 42" not in probe.inst_out  # the body did not run
    assert "OUT: Compute body ran 5" in probe.inst_out  # only when the hook asks
    assert probe.out("Compute(5)") == probe.plain("Compute(5)")
    # onExit still runs for a skipped call and sees the values onEnter set.
    assert "HOOK: computeExit r0=-1 r1=skipped skip=true" in probe.hook_lines
    assert "HOOK: computeExit r0=10 r1=<nil> skip=false" in probe.hook_lines


def test_set_return_val_in_on_exit_changes_what_the_caller_gets(probe: ProbeBuild) -> None:
    assert probe.plain("Double") == "OUT: Double 8"
    assert probe.out("Double") == "OUT: Double 1008"


def test_data_passes_from_on_enter_to_on_exit(probe: ProbeBuild) -> None:
    assert "HOOK: carryExit data=token-9 r0=10" in probe.hook_lines
    assert probe.out("Carry") == probe.plain("Carry")


def test_panicking_hooks_leave_the_output_unchanged(probe: ProbeBuild) -> None:
    """fragileEnter panics, fragileExit writes to a nil map: both are recovered."""
    assert probe.out("Fragile") == probe.plain("Fragile") == "OUT: Fragile fragile:abc"
    # Each panicking hook is reported once on stderr (rules/api.hookPanicked), and nothing else.
    assert probe.inst_stderr.splitlines() == [
        f"otel-go-autoinst: hook example.com/probe/hooks.{hook} panicked: {value} "
        "(further panics of this hook are not logged)"
        for hook, value in (
            ("misuseEnter", "otel-go-autoinst: SetParam(0): a int is not assignable to string"),
            (
                "misuseExit",
                "otel-go-autoinst: SetReturnVal(0): a float64 is not assignable to string",
            ),
            ("fragileEnter", "fragileEnter panics"),
            ("fragileExit", "assignment to entry in nil map"),
        )
    ]
    # SetParam / SetReturnVal with a value of the wrong type panic inside the CallContext: the
    # trampoline recovers and the call goes on untouched.
    assert probe.out("Misuse") == probe.plain("Misuse") == "OUT: Misuse misuse:m"
    assert not [line for line in probe.hook_lines if "not reached" in line]
    # The program went on: everything after Fragile is still printed.
    assert probe.inst_out[-1].startswith("OUT: Where ")


def test_two_rules_nest_in_order(probe: ProbeBuild) -> None:
    """order 1 (listed second) is outermost: first on enter, last on exit; each onExit sees the
    result the inner one set."""
    start = probe.inst_out.index("HOOK: outerEnter")
    assert probe.inst_out[start : start + 6] == [
        "HOOK: outerEnter",
        "HOOK: innerEnter",
        "OUT: Nested body n",
        "HOOK: innerExit r0=n",
        "HOOK: outerExit r0=n+inner",
        "OUT: Nested n+inner+outer",
    ]


def test_generic_function_params_and_results(probe: ProbeBuild) -> None:
    assert "HOOK: maxEnter a=3 b=8 get0=3 get1=8" in probe.hook_lines
    assert "HOOK: maxExit r0=100 get0=100" in probe.hook_lines  # SetParam(0, 100) took effect
    assert probe.plain("MaxInt") == "OUT: MaxInt 8"
    assert probe.out("MaxInt") == "OUT: MaxInt 100"
    assert "HOOK: maxEnter a=pear b=apple get0=pear get1=apple" in probe.hook_lines
    assert probe.out("MaxStr") == "OUT: MaxStr pear!"  # SetReturnVal on a T=string result


def test_generic_method_params_and_results(probe: ProbeBuild) -> None:
    assert "HOOK: swapEnter recv=*target.Box[string] v=second get1=second" in probe.hook_lines
    assert "HOOK: swapExit r0=first" in probe.hook_lines
    assert probe.plain("Swap") == "OUT: Swap first second"
    assert probe.out("Swap") == "OUT: Swap first second-hooked"  # SetParam(1, ...) on a T param
    assert "HOOK: swapEnter recv=*target.Box[int] v=2 get1=2" in probe.hook_lines
    assert probe.plain("SwapInt") == "OUT: SwapInt 1 2"
    assert probe.out("SwapInt") == "OUT: SwapInt 11 2"  # SetReturnVal on a T=int result


def test_variadic_parameter_arrives_as_the_slice(probe: ProbeBuild) -> None:
    assert "HOOK: sumEnter prefix=total= nums=[1 2 3] type=[]int" in probe.hook_lines
    assert probe.plain("Sum") == "OUT: Sum total=6"
    assert probe.out("Sum") == "OUT: Sum total=10"  # SetParam(1, append(nums, 4))


def test_unnamed_results_and_blank_parameters(probe: ProbeBuild) -> None:
    assert "HOOK: unnamedEnter blank=99 s=abc get0=99" in probe.hook_lines
    assert "HOOK: unnamedExit r0=3 r1=ABC" in probe.hook_lines
    assert probe.plain("Unnamed") == "OUT: Unnamed 3 ABC"
    assert probe.out("Unnamed") == "OUT: Unnamed 30 ABC"


def test_output_differs_from_the_plain_build_only_where_hooks_change_it(probe: ProbeBuild) -> None:
    changed = {
        "OUT: Add 3": "OUT: Add 41",
        "OUT: Compute body ran 42": None,
        "OUT: Compute(42) 84 <nil>": "OUT: Compute(42) -1 skipped",
        "OUT: Double 8": "OUT: Double 1008",
        "OUT: Nested n": "OUT: Nested n+inner+outer",
        "OUT: MaxInt 8": "OUT: MaxInt 100",
        "OUT: MaxStr pear": "OUT: MaxStr pear!",
        "OUT: Swap first second": "OUT: Swap first second-hooked",
        "OUT: SwapInt 1 2": "OUT: SwapInt 11 2",
        "OUT: Sum total=6": "OUT: Sum total=10",
        "OUT: Unnamed 3 ABC": "OUT: Unnamed 30 ABC",
    }
    expected = [changed.get(line, line) for line in probe.plain_out if changed.get(line, line)]
    assert [line for line in probe.inst_out if line.startswith("OUT: ")] == expected


# -- line numbers --------------------------------------------------------------------------------


def _trace_lines(stderr: str) -> list[str]:
    return re.findall(r"target\.go:(\d+)", stderr)


def test_panic_stack_trace_keeps_the_original_line(probe: ProbeBuild) -> None:
    """Boom panics on PANIC_LINE; it has onEnter and onExit, so a deferred trampoline runs while
    the panic goes through (and must not swallow it)."""
    panic_line = marker_line(probe.module / "target" / "target.go", "// PANIC_LINE")
    plain = subprocess.run(
        [str(probe.plain_bin), "boom"], capture_output=True, text=True, timeout=60
    )
    inst = subprocess.run([str(probe.inst_bin), "boom"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == inst.returncode == 2
    assert "panic: boom 7" in plain.stderr and "panic: boom 7" in inst.stderr
    assert _trace_lines(plain.stderr) == [str(panic_line)]
    assert _trace_lines(inst.stderr) == [str(panic_line)]
    main_line = marker_line(probe.module / "cmd" / "probe" / "main.go", "target.Boom(7)")
    assert f"main.go:{main_line}" in plain.stderr and f"main.go:{main_line}" in inst.stderr
    assert inst.stdout.splitlines() == ["HOOK: boomEnter n=7", "HOOK: boomExit r0=0"]


def test_runtime_caller_gives_the_original_line(probe: ProbeBuild) -> None:
    caller_line = marker_line(probe.module / "target" / "target.go", "// CALLER_LINE")
    assert probe.plain("Where") == f"OUT: Where target.go {caller_line}"
    assert probe.out("Where") == f"OUT: Where target.go {caller_line}"
    assert f"HOOK: whereExit line={caller_line}" in probe.hook_lines


def test_rewrite_keeps_every_line_in_place(tmp_path: Path) -> None:
    """`diff` shows the TJump added on existing lines only: every hunk of a rewritten file covers
    the same line range before and after."""
    module = copy_module("probe", tmp_path / "probe")
    proc = run_cli(
        "diff", "-C", module, "--rules", module / "rules.yaml", *only_user_rules(), "./cmd/probe"
    )
    assert proc.returncode == 0, proc.stderr
    assert "+++ b/target/target.go" in proc.stdout
    hunks = re.findall(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", proc.stdout, re.M)
    changed = [h for h in hunks if h[0] != "0"]  # added files start at -0,0
    assert changed
    for old_start, old_len, new_start, new_len in changed:
        assert (old_start, old_len) == (new_start, new_len)
    # The TJump of Add sits on the line of its opening brace.
    assert re.search(r"^-func Add\(a, b int\) int \{$", proc.stdout, re.M)
    assert re.search(r"^\+func Add\(a, b int\) .*\{ ?if .*_otelEnter.*$", proc.stdout, re.M)


def test_plan_lists_the_targets_without_building(tmp_path: Path) -> None:
    module = copy_module("probe", tmp_path / "probe")
    proc = run_cli(
        "plan", "-C", module, "--rules", module / "rules.yaml", *only_user_rules(), "./cmd/probe"
    )
    assert proc.returncode == 0, proc.stderr
    planned = {re.search(r"\.(\w+)\t", line).group(1) for line in proc.stdout.splitlines()}  # type: ignore[union-attr]
    assert planned == set(PROBE_TARGETS)


# -- a dependency module and the standard library, in a test binary --------------------------------


def _depstd_test(
    tmp_path: Path, rules: str, *go_test_args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict, list[str]]:
    """`otel-go-autoinst test` of depstd/use; returns the run, the report and the lines the Go
    tests wrote to their marker file (one per test that passed)."""
    module = copy_module("depstd", tmp_path / "depstd")
    report, marker = tmp_path / "report.json", tmp_path / "marker.txt"
    proc = subprocess.run(
        [*CLI, "test", "-C", str(module), "--rules", str(module / rules), *only_user_rules(),
         "--report", str(report), "-count=1", "-v", *go_test_args, "./use"],
        capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "DEPSTD_MARKER": str(marker), **(env or {})},
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    marks = marker.read_text(encoding="utf-8").splitlines() if marker.exists() else []
    return proc, data, marks


STD_OK = "STD-OK https://hooked.example/p#seen-host=hooked.example"
DEP_OK = "DEP-OK hooked:6ba7b810-9dad-11d1-80b4-00c04fd430c8"


@pytest.fixture(scope="module")
def stdlib_test_run(tmp_path_factory: pytest.TempPathFactory):
    return _depstd_test(
        tmp_path_factory.mktemp("std"), "rules_std.yaml", "-run", "TestStdlibHooked"
    )


def test_standard_library_method_in_a_test_binary(stdlib_test_run) -> None:
    """(*net/url.URL).String, instrumented from GOROOT: the Go test sees what the hooks did."""
    proc, report, marks = stdlib_test_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marks == [STD_OK]
    [entry] = report["instrumented"]
    assert (entry["package"], entry["function"], entry["receiver"], entry["module"]) == (
        "net/url", "String", "*URL", "std",
    )  # fmt: skip
    assert entry["file"].startswith("GOROOT/src/net/url/")
    assert report["test"]["status"] == "passed"


def test_test_binary_output_is_shown(stdlib_test_run) -> None:
    """`go test -v` output (the tests' logs, PASS lines, the ok line) reaches the user."""
    proc, _, _ = stdlib_test_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--- PASS: TestStdlibHooked" in proc.stdout, proc.stdout
    assert STD_OK in proc.stdout
    assert re.search(r"^ok\s+example\.com/depstd/use\s", proc.stdout, re.M)


def test_dependency_module_and_standard_library_in_a_test_binary(tmp_path: Path) -> None:
    """uuid.UUID.String (github.com/google/uuid v1.6.0, from the module cache) and
    (*url.URL).String, instrumented through the same path in one `otel-go-autoinst test`."""
    proc, report, marks = _depstd_test(tmp_path, "rules.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(marks) == [DEP_OK, STD_OK]
    got = {e["package"]: e for e in report["instrumented"]}
    assert set(got) == {"github.com/google/uuid", "net/url"}
    uuid = got["github.com/google/uuid"]
    assert (uuid["function"], uuid["receiver"], uuid["module"], uuid["module_version"]) == (
        "String", "UUID", "github.com/google/uuid", "v1.6.0",
    )  # fmt: skip
    assert uuid["file"].startswith("GOMODCACHE/github.com/google/uuid@v1.6.0/")
    assert report["test"]["status"] == "passed"


# -- the private go.work -------------------------------------------------------------------------


def test_users_go_line_written_without_patch_version(tmp_path: Path) -> None:
    """A user's go.mod saying `go 1.N` while the engine's rules module says `go 1.N.0`: Go orders
    1.N before 1.N.0 (a language version before its first release), so the private go.work must
    say at least 1.N.0 or the go command refuses the workspace."""
    from otel_go_autoinst.rules import builtin_rules_dir

    rules_go = re.search(
        r"^go\s+(\S+)", (builtin_rules_dir() / "go.mod").read_text(encoding="utf-8"), re.M
    )
    assert rules_go is not None
    short = re.sub(r"^(\d+\.\d+)\.0$", r"\1", rules_go.group(1))  # 1.23.0 -> 1.23
    module = copy_module("probe", tmp_path / "probe")
    go_mod = module / "go.mod"
    go_mod.write_text(
        re.sub(r"^go\s+\S+$", f"go {short}", go_mod.read_text(encoding="utf-8"), flags=re.M),
        encoding="utf-8",
    )
    proc = run_cli(
        "build", "-C", module, "--rules", module / "rules.yaml", *only_user_rules(),
        "-o", tmp_path / "probe.bin", "./cmd/probe",
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"user go {short}, rules module go {rules_go.group(1)}:\n{proc.stderr}"
    )
    run = subprocess.run([str(tmp_path / "probe.bin")], capture_output=True, text=True, timeout=60)
    assert "OUT: Add 41" in run.stdout


def test_dependency_module_without_a_writable_cache(tmp_path: Path) -> None:
    """No writable cache directory (XDG_CACHE_HOME is a file): the dependency's copy is made for
    the run only, the escape verdicts are not kept, and the build still works."""
    not_a_dir = tmp_path / "cache-is-a-file"
    not_a_dir.write_text("", encoding="utf-8")
    # Go's own build cache stays where it is: only ours has nowhere to go.
    gocache = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, check=True)
    env = {"XDG_CACHE_HOME": str(not_a_dir), "GOCACHE": gocache.stdout.strip()}
    proc, report, marks = _depstd_test(tmp_path, "rules.yaml", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert DEP_OK in marks
