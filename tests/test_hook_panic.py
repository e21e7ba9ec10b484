"""A hook that panics is recovered and reported once, on stderr, with the real toolchain: the
instrumented program prints one line per panicking hook however many calls it makes, and otherwise
does exactly what the plain build does — in a user's package and in the standard library (which
reaches the reporting function in rules/api by //go:linkname)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cli_helpers import CLI, only_user_rules

REPO = Path(__file__).resolve().parents[1]
LINE = (
    "otel-go-autoinst: hook {hook} panicked: {value} (further panics of this hook are not logged)"
)

MAIN = """\
package main

import (
	"fmt"

	"example.com/panicky/work"
)

func main() {
	sum := 0
	for i := 0; i < 1000; i++ {
		sum += work.Double(i)
		sum += work.Triple(i)
	}
	fmt.Println("sum", sum)
}
"""

WORK = """\
package work

func Double(i int) int { return 2 * i }

func Triple(i int) (r int) {
	r = 3 * i
	return
}
"""

HOOKS = """\
package hooks

import (
	"fmt"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

// doubleEnter panics on every call.
func doubleEnter(call *api.CallContext, i int) { panic(fmt.Sprintf("boom %d", i)) }

// tripleEnter panics (a runtime error) on one call in ten; tripleExit still runs on every call.
func tripleEnter(call *api.CallContext, i int) {
	if i%10 == 3 {
		var m map[string]int
		m["x"] = i
	}
}

func tripleExit(call *api.CallContext, r int) {}
"""

RULES = """\
name: panicky
hooks: example.com/panicky/hooks
rules:
  - import_path: example.com/panicky/work
    function: Double
    on_enter: doubleEnter
  - import_path: example.com/panicky/work
    function: Triple
    on_enter: tripleEnter
    on_exit: tripleExit
"""


def write_module(root: Path) -> Path:
    for rel, text in {
        "go.mod": "module example.com/panicky\n\ngo 1.23\n",
        "main.go": MAIN,
        "work/work.go": WORK,
        "hooks/hooks.go": HOOKS,
        "rules.yaml": RULES,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def run(cmd: list[str | Path], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=900
    )


def run_instrumented(module: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Build the module with its rules and run the program, which must print the plain sum."""
    inst = tmp_path / "inst"
    built = run(
        [*CLI, "build", "-C", module, "--rules", module / "rules.yaml", *only_user_rules(),
         "-o", inst, "."]
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    got = run([inst])
    assert got.returncode == 0, got.stderr
    assert got.stdout == f"sum {sum(5 * i for i in range(1000))}\n"
    return got


def test_a_panicking_hook_is_reported_once_and_changes_nothing(tmp_path: Path) -> None:
    module = write_module(tmp_path / "panicky")
    plain, inst = tmp_path / "plain", tmp_path / "inst"
    built = run(["go", "build", "-o", plain, "."], module)
    assert built.returncode == 0, built.stderr
    built = run(
        [*CLI, "build", "-C", module, "--rules", module / "rules.yaml", *only_user_rules(),
         "-o", inst, "."]
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    want, got = run([plain]), run([inst])
    assert got.returncode == want.returncode == 0
    assert got.stdout == want.stdout == f"sum {sum(5 * i for i in range(1000))}\n"
    assert want.stderr == ""
    assert got.stderr.splitlines() == [
        LINE.format(hook="example.com/panicky/hooks.doubleEnter", value="boom 0"),
        LINE.format(
            hook="example.com/panicky/hooks.tripleEnter", value="assignment to entry in nil map"
        ),
    ]


STD_MAIN = """\
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
)

func main() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	defer srv.Close()
	for i := 0; i < 25; i++ {
		resp, err := http.Get(fmt.Sprintf("%s/n%d", srv.URL, i))
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
}
"""


def test_a_panicking_hook_in_the_standard_library_is_reported_once(tmp_path: Path) -> None:
    """The built-in net/http hooks, built with the tag that makes every one of them panic."""
    module = tmp_path / "stdpanic"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/stdpanic\n\ngo 1.23\n")
    (module / "main.go").write_text(STD_MAIN)
    plain, inst = tmp_path / "plain", tmp_path / "inst"
    built = run(["go", "build", "-o", plain, "."], module)
    assert built.returncode == 0, built.stderr
    built = run([*CLI, "build", "-C", module, "-tags", "otel_autoinst_panictest", "-o", inst, "."])
    assert built.returncode == 0, built.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    want = subprocess.run([plain], capture_output=True, text=True, timeout=120, env=env)
    got = subprocess.run([inst], capture_output=True, text=True, timeout=120, env=env)
    assert got.returncode == want.returncode == 0, got.stderr
    assert got.stdout == want.stdout and len(want.stdout.splitlines()) == 25
    hooks = "github.com/otel-go-autoinst/otel-go-autoinst/rules/nethttp"
    assert sorted(got.stderr.splitlines()) == sorted(
        LINE.format(
            hook=f"{hooks}.{name}",
            value=f"otel-go-autoinst test build: {name} panics on purpose",
        )
        for name in ("clientOnEnter", "clientOnExit", "serverOnEnter", "serverOnExit")
    )


def test_hooks_that_cannot_be_given_a_file_are_still_recovered(tmp_path: Path) -> None:
    """A hooks package in the module cache (directories named module@version, where the go command
    refuses overlays) gets no wrapper file: the wrappers, with their recover, are generated in the
    instrumented package instead, and a panicking hook is reported and recovered all the same."""
    normal = write_module(tmp_path / "panicky")
    cached = write_module(tmp_path / "example.com" / "panicky@v1.0.0")
    diffs = {}
    for name, module in (("normal", normal), ("cached", cached)):
        shown = run([*CLI, "diff", "-C", module, "--rules", module / "rules.yaml",
                     *only_user_rules(), "."])  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        diffs[name] = shown.stdout
    assert "hooks/zz_otel_hooks_hooks.go" in diffs["normal"]
    assert "_otelO_doubleEnter" in diffs["normal"]
    assert "zz_otel_hooks" not in diffs["cached"]
    assert "//go:linkname _otelRawEnter0 example.com/panicky/hooks.doubleEnter" in diffs["cached"]
    got = run_instrumented(cached, tmp_path)
    assert got.stderr.splitlines() == [
        LINE.format(hook="example.com/panicky/hooks.doubleEnter", value="boom 0"),
        LINE.format(
            hook="example.com/panicky/hooks.tripleEnter", value="assignment to entry in nil map"
        ),
    ]


SKIP_HOOKS = """\
package hooks

import "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"

// Both ask to skip the call, then panic: the call must go on as if they were absent.
func doubleEnter(call *api.CallContext, i int) {
	call.SetSkipCall(true)
	panic("after SetSkipCall")
}

func tripleEnter(call *api.CallContext, i int) {
	call.SetSkipCall(true)
	panic("after SetSkipCall")
}

func tripleExit(call *api.CallContext, r int) {}
"""


def test_a_hook_that_asks_to_skip_then_panics_skips_nothing(tmp_path: Path) -> None:
    """With and without an onExit (the context in the instrumented function's frame, or in the
    hook's wrapper), a SetSkipCall made before the panic is dropped with the rest of the hook."""
    module = write_module(tmp_path / "panicky")
    (module / "hooks" / "hooks.go").write_text(SKIP_HOOKS)
    got = run_instrumented(module, tmp_path)
    assert len(got.stderr.splitlines()) == 2
