"""The same program (issue 8): an instrumented build links, means and depends on what the plain
build does, with the real toolchain.

- linkonly: a package whose test binaries link net/http only through the SDK the tool adds.
- godebug: a `go 1.21` module with a `godebug` line, whose tests pass only with its GODEBUG defaults.
- vendored: a module built offline from a vendor/ whose copy of a dependency is patched.
- examples/service: the hooks' requirements raise a dependency; the change is reported.
- goenv: tests that run the go command, which must see the user's GOWORK and GOFLAGS, not the
  tool's private workspace and build tag.
- idle: a database/sql driver answering from memory and an httptest round trip, whose tests
  count what a query and a request allocate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CLI, MODULES

from otel_go_autoinst.versions import module_version_key

REPO = Path(__file__).resolve().parents[1]
SAME = MODULES / "samepgm"
TIMEOUT = 600


def run(
    cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def cli(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run([*CLI, *args], cwd, env)


def copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(SAME / name, tmp_path / name))


def quiet_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return {**env, **extra}


# -- 1. every binary that links an instrumented package links its hooks -------------------------


def test_test_binaries_link_the_hooks_the_sdk_brings_in(tmp_path: Path) -> None:
    module = copy("linkonly", tmp_path)
    proc = cli("test", "-count=1", "./...", cwd=module, env=quiet_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "relocation target" not in proc.stdout + proc.stderr
    assert re.search(r"^ok\s+example.com/linkonly/calc", proc.stdout, re.M), proc.stdout


def test_test_c_and_examples_link_the_hooks(tmp_path: Path) -> None:
    module = copy("linkonly", tmp_path)
    binary = tmp_path / "calc.test"
    proc = cli("test", "-c", "-o", binary, "./calc", cwd=module, env=quiet_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = run([binary, "-test.run", "ExampleAdd|TestAdd", "-test.v"], module, quiet_env())
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "--- PASS: ExampleAdd" in ran.stdout and "--- PASS: TestAdd" in ran.stdout


# -- 2. the main module's GODEBUG defaults are kept ----------------------------------------------


def _default_godebug(module: Path, env: dict[str, str]) -> str:
    """The test binary's DefaultGODEBUG, as the go command computes it."""
    main_only = '{{if eq .Name "main"}}{{.DefaultGODEBUG}}{{end}}'
    proc = run(["go", "list", "-test", "-f", main_only, "."], module, env)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr
    return proc.stdout.strip()


def test_go_line_and_godebug_lines_keep_their_meaning(tmp_path: Path) -> None:
    module = copy("godebug", tmp_path)
    plain = run(["go", "test", "-count=1", "."], module)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    proc = cli("test", "-count=1", "--keep-work", ".", cwd=module, env=quiet_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = Path(re.search(r"build directory kept at (\S+)", proc.stderr)[1])  # type: ignore[index]
    try:
        instrumented_env = {**os.environ, "GOWORK": str(kept / "go.work")}
        assert _default_godebug(module, instrumented_env) == _default_godebug(module, dict(os.environ))
    finally:
        shutil.rmtree(kept, ignore_errors=True)


# -- 3. dependency versions: as low as the SDK allows, every change reported ---------------------


def test_rules_module_requires_nothing_above_what_the_sdk_needs() -> None:
    """Each requirement of rules/go.mod that some other module of its graph also requires is at
    the highest version those require: the hooks raise no version on their own account."""
    graph = run(["go", "mod", "graph"], REPO / "rules").stdout.split("\n")
    ours: dict[str, str] = {}
    others: dict[str, str] = {}
    for edge in filter(None, graph):
        source, target = edge.split(" ")
        path, version = target.split("@")
        if path in ("go", "toolchain"):
            continue
        side = others if "@" in source else ours
        if path not in side or module_version_key(version) > module_version_key(side[path]):
            side[path] = version
    too_high = {p: (v, others[p]) for p, v in ours.items() if p in others and v != others[p]}
    assert not too_high, f"rules/go.mod requires more than the SDK needs: {too_high}"


def test_raised_dependency_versions_are_reported(tmp_path: Path) -> None:
    service = REPO / "examples" / "service"
    listed = run(["go", "list", "-m", "-f", "{{.Version}}", "golang.org/x/sys"], service).stdout.strip()
    hooks = run(["go", "list", "-m", "-f", "{{.Version}}", "golang.org/x/sys"], REPO / "rules").stdout.strip()
    assert module_version_key(hooks) > module_version_key(listed), "the fixture needs a raise"
    report = tmp_path / "report.json"
    proc = cli("build", "-o", os.devnull, "--report", report, ".", cwd=service)
    assert proc.returncode == 0, proc.stderr
    changes = json.loads(report.read_text())["dependency_changes"]
    assert {"module": "golang.org/x/sys", "plain": listed, "instrumented": hooks} in changes
    assert f"golang.org/x/sys {listed} -> {hooks}" in proc.stderr

    refused = cli("build", "--no-upgrade", "-o", os.devnull, ".", cwd=service)
    assert refused.returncode == 2
    assert "golang.org/x/sys" in refused.stderr and "Traceback" not in refused.stderr


# -- 4. vendor/ is honoured ----------------------------------------------------------------------


@pytest.fixture
def vendored(tmp_path: Path) -> Path:
    """The module with vendor/ made by `go mod vendor`, then its copy of uuid patched."""
    module = copy("vendored", tmp_path)
    # -e: the hooks package imports the rules API, which only the instrumented workspace provides.
    made = run(["go", "mod", "vendor", "-e"], module, {**os.environ, "GOFLAGS": "-mod=mod"})
    assert (module / "vendor" / "modules.txt").is_file(), made.stderr
    with (module / "vendor" / "github.com" / "google" / "uuid" / "uuid.go").open("a") as f:
        f.write('\nfunc Patched() string { return "patched" }\n')
    return module


@pytest.mark.parametrize("how", ["default", "flag", "GOFLAGS"])
def test_vendored_patched_dependency_builds_offline(vendored: Path, how: str) -> None:
    env = quiet_env(GOPROXY="off", OTEL_TRACES_EXPORTER="none")
    flags = ["-mod=vendor"] if how == "flag" else []
    if how == "GOFLAGS":
        env["GOFLAGS"] = "-mod=vendor"
    plain = run(["go", "run", *flags, "."], vendored, env)
    assert plain.stdout.strip() == "200 patched", plain.stderr
    binary, report = vendored / "inst", vendored / "report.json"
    built = cli(
        "build", "--rules", "rules.yaml", "--report", report, *flags, "-o", binary, ".",
        cwd=vendored, env=env,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert run([binary], vendored, env).stdout.strip() == "200 patched+hooked"
    files = {f["file"] for f in json.loads(report.read_text())["instrumented"]}
    assert "vendor/github.com/google/uuid/uuid.go" in files


@pytest.mark.parametrize("flag", ["-modfile=alt.mod", "-overlay=overlay.json"])
def test_goflags_that_would_replace_ours_are_refused(tmp_path: Path, flag: str) -> None:
    module = copy("linkonly", tmp_path)
    proc = cli("build", "./...", cwd=module, env={**os.environ, "GOFLAGS": flag})
    assert proc.returncode == 2
    assert flag.split("=")[0] in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# -- what the tests' own go commands see --------------------------------------------------------


def _goenv_lines(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Package -> what its test's go commands saw."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.findall(r"^GOENV (\S+) (.*)$", proc.stdout, re.M)
    return dict(found)


@pytest.mark.parametrize("user", ["GOFLAGS", "go.work"])
def test_go_commands_run_by_tests_see_the_users_environment(tmp_path: Path, user: str) -> None:
    """go.uber.org/zap's tests run `go mod download -json` and symlink what it lists under a
    vendor folder: given the private workspace, they listed the hooks' modules and, as root,
    wrote links into the module cache. A test binary gets the user's GOWORK and GOFLAGS back,
    set or unset as they were, whether it links hooks (webpkg) or not (plainpkg), and so does
    the test binary of the user's own hooks package (which did not even link before: its tests
    link os, whose hooks it left out)."""
    module = copy("goenv", tmp_path)
    if user == "GOFLAGS":
        env = quiet_env(GOFLAGS="-mod=mod")
        env.pop("GOWORK", None)
    else:
        (tmp_path / "go.work").write_text("go 1.23\n\nuse ./goenv\n")
        env = quiet_env(GOWORK=str(tmp_path / "go.work"))
        env.pop("GOFLAGS", None)
    args = ["test", "-count=1", "-v", "./..."]
    plain = _goenv_lines(run(["go", *args], module, env))
    ours = _goenv_lines(cli(*args[:1], "--rules", module / "rules.yaml", *args[1:], cwd=module,
                            env=env))  # fmt: skip
    assert sorted(plain) == ["plainpkg", "webpkg"]
    assert sorted(ours) == ["hooks", "plainpkg", "webpkg"]  # the hooks build only instrumented
    assert set(ours.values()) == set(plain.values()) and len(set(plain.values())) == 1, ours


# -- a library the built-in hooks do not know never breaks the build ------------------------------


def test_a_local_copy_of_a_library_is_built_with_the_hooks_that_fit(tmp_path: Path) -> None:
    """A library replaced by a directory (a fork, a local checkout) has no version to choose the
    built-in rules by: both of amqp091's rules on consumers.add apply, and the older one's hook
    does not fit the 1.16.0 signature. That rule is skipped with a warning (it stopped the build
    with an error before); the one that fits instruments the function, and the build passes."""
    download = run(["go", "mod", "download", "-json", "github.com/rabbitmq/amqp091-go@v1.16.0"],
                   tmp_path)  # fmt: skip
    assert download.returncode == 0, download.stderr
    module = tmp_path / "app"
    shutil.copytree(json.loads(download.stdout)["Dir"], module / "amqp")
    subprocess.run(["chmod", "-R", "u+w", str(module / "amqp")], check=True)
    (module / "go.mod").write_text(
        "module example.com/app\n\ngo 1.23\n\n"
        "require github.com/rabbitmq/amqp091-go v1.16.0\n\n"
        "replace github.com/rabbitmq/amqp091-go => ./amqp\n"
    )
    (module / "main.go").write_text(
        'package main\n\nimport amqp "github.com/rabbitmq/amqp091-go"\n\n'
        'func main() { _, _ = amqp.Dial("amqp://127.0.0.1:1/") }\n'
    )
    report = tmp_path / "report.json"
    proc = cli("build", "--report", report, "-o", tmp_path / "app.bin", ".", cwd=module,
               env=quiet_env())  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "addOnEnter" in proc.stderr and "The built-in rule is skipped." in proc.stderr
    added = [f for f in json.loads(report.read_text())["instrumented"] if f["function"] == "add"]
    assert [(f["receiver"], f["rules"]) for f in added] == [("*consumers", ["amqp091"])]


def test_tracing_off_costs_no_allocation(tmp_path: Path) -> None:
    """With no OpenTelemetry configuration (a test binary's default), an instrumented query or
    request allocates what the plain one does: the hooks find nothing to report before building
    a span (before: 9 more allocations an Exec, 9 more an http.Get; fasthttp's equivalent is in
    webfast's tests)."""
    module = copy("idle", tmp_path)
    args = ["test", "-count=1", "-v", "./..."]
    plain = run(["go", *args], module, quiet_env())
    ours = cli(*args, cwd=module, env=quiet_env())
    counts = [re.findall(r"^ALLOCS .*$", p.stdout, re.M) for p in (plain, ours)]
    assert len(counts[0]) == 2 and counts[0] == counts[1], plain.stdout + ours.stdout + ours.stderr
