"""The probe builds what the build will build: with right hints, a cold build compiles the
instrumented packages and the SDK once; with wrong ones, the compiler's answer still decides.

The go command on PATH is the real one behind a shim that writes down, for each invocation with an
overlay, its arguments and a digest of every file the overlay puts in place."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import CLI, REPO, only_user_rules, run_ok
from test_verdict_cache import EXPECTED_OUTPUT, HIDDEN_CONTEXT, KEEP_FILES

from otel_go_autoinst.build import Workspace, compile_flags, run_go_streaming
from otel_go_autoinst.detect import detect_project
from otel_go_autoinst.rules import builtin_rules_dir
from otel_go_autoinst.verdicts import HINTS_FILE, learn, load_hints

SHIM = """import hashlib, json, os, sys
args = sys.argv[1:]
overlay = next((a[len("-overlay="):] for a in args if a.startswith("-overlay=")), None)
if overlay:
    with open(overlay, encoding="utf-8") as f:
        replace = json.load(f)["Replace"]
    digests = {}
    for path, new in replace.items():
        with open(new, "rb") as f:
            digests[path] = hashlib.sha256(f.read()).hexdigest()
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps({"args": args, "overlay": digests}) + "\\n")
os.execv(GO, [GO, *args])
"""

WEB = {
    "go.mod": "module example.com/web\n\ngo 1.23.0\n",
    "main.go": """package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if len(os.Args) > 1 {
		_, _ = http.Get(os.Args[1])
	}
}
""",
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _shimmed(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose go is the shim, with a cache of the tool's own that starts empty."""
    shim_dir, log = tmp_path / "bin", tmp_path / "go-builds.jsonl"
    shim_dir.mkdir()
    real_go = shutil.which("go")
    assert real_go is not None
    shim = shim_dir / "go"
    body = f"LOG = {str(log)!r}\nGO = {real_go!r}\n" + SHIM
    shim.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    gocache = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, check=True)
    env = {
        **os.environ,
        "PATH": f"{shim_dir}{os.pathsep}{os.environ['PATH']}",
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "GOCACHE": gocache.stdout.strip(),
    }
    return env, log


def _builds(log: Path) -> list[dict]:  # type: ignore[type-arg]
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _probes(log: Path) -> list[dict]:  # type: ignore[type-arg]
    """The probes: go builds with an overlay that write no program."""
    return [b for b in _builds(log) if b["args"][0] == "build" and not _writes(b["args"])]


def _writes(args: list[str]) -> bool:
    return any(a == "-o" or a.startswith("-o=") for a in args)


def _gcflags(args: list[str], package: str) -> list[str]:
    return [a for a in args if a.startswith(f"-gcflags={package}=")]


def test_a_cold_build_probes_with_the_trampolines_it_builds(tmp_path: Path) -> None:
    module = _write(tmp_path / "web", WEB)
    env, log = _shimmed(tmp_path)
    run_ok([*CLI, "build", "-C", module, "-o", tmp_path / "web.bin", "."], cwd=module, env=env)
    [probe] = _probes(log)
    [build] = [b for b in _builds(log) if _writes(b["args"])]
    goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True)
    std = Path(goroot.stdout.strip()) / "src"
    rewritten = {p: digest for p, digest in probe["overlay"].items() if Path(p).is_relative_to(std)}
    packages = {str(Path(p).parent.relative_to(std)) for p in rewritten}
    assert {"net/http", "os", "log"} <= packages
    # The same standard library, compiled with the same flags: the build finds the probe's work in
    # Go's cache (and so does everything above it, the SDK included).
    assert rewritten == {p: build["overlay"][p] for p in rewritten}
    for package in packages:
        assert _gcflags(probe["args"], package) == _gcflags(build["args"], package)
    assert _gcflags(probe["args"], "net/http") == ["-gcflags=net/http=-m"]
    # Its verdicts were kept, and a rerun does not probe at all.
    run_ok([*CLI, "build", "-C", module, "-o", tmp_path / "web.bin", "."], cwd=module, env=env)
    assert len(_probes(log)) == 1


PROFILER = """package main

import (
	"os"
	"runtime/pprof"
	"time"
)

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	pprof.StartCPUProfile(f)
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	pprof.StopCPUProfile()
	f.Close()
}
"""


@pytest.mark.parametrize("goflags", ["", "-pgo=off"])
def test_a_build_with_a_profile_probes_with_it(tmp_path: Path, goflags: str) -> None:
    """-pgo=auto gives a command's default.pgo to everything the command links; the probe builds
    no command, so it names the profile itself (else the build compiles the standard library and
    the SDK all over again, with the profile). A build told -pgo=off gets no profile."""
    module = _write(tmp_path / "web", WEB)
    profiler = _write(tmp_path / "profiler", {"go.mod": "module example.com/p\n\ngo 1.23\n",
                                              "main.go": PROFILER})  # fmt: skip
    run_ok(["go", "run", ".", module / "default.pgo"], cwd=profiler)
    env, log = _shimmed(tmp_path)
    env["GOFLAGS"] = goflags
    run_ok([*CLI, "build", "-C", module, "-o", tmp_path / "web.bin", "."], cwd=module, env=env)
    [probe] = _probes(log)
    pgo = [a for a in probe["args"] if a.startswith("-pgo")]
    assert pgo == ([] if goflags else [f"-pgo={module / 'default.pgo'}"])
    if not goflags:
        # Another profile at the same place inlines differently: the verdicts are asked again.
        run_ok(["go", "run", ".", module / "default.pgo"], cwd=profiler)
        run_ok([*CLI, "build", "-C", module, "-o", tmp_path / "web.bin", "."], cwd=module, env=env)
        assert len(_probes(log)) == 2


def test_a_wrong_hint_is_caught_by_the_compiler(tmp_path: Path) -> None:
    """A hook that did not keep its context, then does: the last run's verdict, now a wrong
    guess, makes the compiler say so, and the build hides nothing."""
    innocent = KEEP_FILES["hooks/hooks.go"].replace("\tKept = append(Kept, call)\n", "")
    module = _write(tmp_path / "keep", {**KEEP_FILES, "hooks/hooks.go": innocent})
    env, log = _shimmed(tmp_path)

    def diff() -> str:
        cmd = [*CLI, "diff", "-C", module, "--rules", module / "rules.yaml", *only_user_rules()]
        return run_ok([*cmd, "./cmd/keep"], cwd=module, env=env).stdout

    assert HIDDEN_CONTEXT.search(diff())  # no hint for a user's hook: probed conservatively
    assert len(_probes(log)) == 1
    _write(module, {"hooks/hooks.go": KEEP_FILES["hooks/hooks.go"]})
    assert not HIDDEN_CONTEXT.search(diff())
    # The hint (nothing escapes) was tried, the compiler said the context escapes, and the guess
    # with it was tried and held.
    assert len(_probes(log)) == 3

    binary = tmp_path / "keep.bin"
    cmd = [*CLI, "build", "-C", module, "--rules", module / "rules.yaml", *only_user_rules()]
    run_ok([*cmd, "-o", binary, "./cmd/keep"], cwd=module, env=env)
    assert run_ok([binary], cwd=tmp_path).stdout.splitlines() == EXPECTED_OUTPUT


def test_the_shipped_hints_are_those_of_this_go() -> None:
    """rules/escape-hints.json names every built-in hook; with the Go it was written for, it says
    what that compiler says (scripts/escape_hints.py --check)."""
    assert (builtin_rules_dir() / HINTS_FILE).is_file()
    check = subprocess.run(
        [sys.executable, REPO / "scripts" / "escape_hints.py", "--check"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_probe_takes_the_flags_that_change_what_compiles() -> None:
    flags = ["-o=/tmp/x", "-race", "-tags", "a,b", "-v", "-run=Test", "-trimpath", "-p=1",
             "-count=1", "-ldflags=-s", "-mod=vendor", "-x"]  # fmt: skip
    assert compile_flags(flags) == ["-race", "-tags", "a,b", "-trimpath", "-p=1", "-mod=vendor"]


def test_notes_replayed_from_the_cache_find_their_file(tmp_path: Path) -> None:
    """Go replays a cached compile's -m output with the paths it printed then, relative to the
    folder that build ran in: read from another folder they name files that do not exist. The
    notes must still reach the files they are about (the hooks' verdicts, the report)."""
    lib = _write(tmp_path / "lib", {
        "go.mod": "module example.com/lib\n\ngo 1.23.0\n",
        "p/p.go": "package p\n\n// Keep keeps x.\nfunc Keep(x *int) { kept = x }\n\nvar kept *int\n",
    })  # fmt: skip
    app = _write(tmp_path / "far" / "away" / "app", {
        "go.mod": "module example.com/app\n\ngo 1.23.0\n\nrequire example.com/lib v0.0.0\n\n"
                  f"replace example.com/lib => {lib}\n",
        "main.go": 'package main\n\nimport "example.com/lib/p"\n\nfunc main() { p.Keep(new(int)) }\n',
    })  # fmt: skip
    env = {**os.environ, "GOCACHE": str(tmp_path / "gocache"), "GOFLAGS": "-mod=mod"}
    flags = "-gcflags=example.com/lib/p=-m"
    first = subprocess.run(
        ["go", "build", flags, "./p"], cwd=lib, env=env, capture_output=True, text=True
    )
    assert "p/p.go:4:11: leaking param: x" in first.stderr  # printed relative to lib/
    project = detect_project(app, env)
    ws = Workspace(dir=tmp_path / "run", env=env, project=project)
    source = (lib / "p" / "p.go").resolve()
    run = run_go_streaming(ws, ["build", flags, "-o", os.devnull, "."], ["example.com/lib/p"],
                           show=False, known={source})  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "leaking param: x" in run.notes.get((str(source), 4), [])


def test_verdicts_kept_for_other_compile_flags_are_not_reused(tmp_path: Path) -> None:
    """-gcflags=all=-l (no inlining) can make a hook keep what it did not keep inlined: verdicts
    found with one set of compile flags are not taken for another."""
    module = _write(tmp_path / "web", WEB)
    env, log = _shimmed(tmp_path)
    # (-gcflags for the main package alone: the same key, without recompiling everything here)
    for flags in ([], ["-gcflags=example.com/web=-l"], []):
        run_ok([*CLI, "diff", "-C", module, *flags, "."], cwd=module, env=env)
    assert len(_probes(log)) == 2  # the last run reused the first one's verdicts
    assert len(list((tmp_path / "xdg" / "otel-go-autoinst" / "verdicts").glob("*.json"))) == 2


def test_a_damaged_hints_file_is_no_guess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shipped hints file that does not parse, or holds wrong types, gives no guess (the probe
    then starts conservative), never an error; the learned hints still count."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    learn("go1.0", {("example.com/h", "enter"): [False, True]})
    for content in ("not json", "[]", '{"hooks": []}', '{"hooks": {"p": {"n": [1, "x"]}}}'):
        (tmp_path / HINTS_FILE).write_text(content, encoding="utf-8")
        assert load_hints(tmp_path, "go1.0") == {("example.com/h", "enter"): [False, True]}
    assert load_hints(tmp_path, "go1.1") == {}  # learned with another Go
