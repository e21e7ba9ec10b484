"""The trampolines allocate nothing when the hooks keep nothing: measured by the instrumented
program itself (testing.AllocsPerRun), for each way a hook can be handed the call.

A hook that may read the parameter or result slots (here ParamCount/ReturnValCount, which keep
nothing) gets a context that points into itself; the compiler takes that store through a pointer
for a store to the heap, and once moved the context and the instrumented function's parameters
to the heap (4 allocations per request in net/http's ServeMux.ServeHTTP). GetParam itself goes
through reflect and may allocate: hooks that take their arguments typed do not."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import CLI, only_user_rules, run_ok

FILES = {
    "go.mod": "module example.com/allocs\n\ngo 1.23\n",
    "target/target.go": """package target

type Box struct{ N int }

// Read: an onExit alone that reads the parameters.
func Read(b *Box, s string, n int) int { return b.N + len(s) + n }

// Both: onEnter and onExit that read the parameters and the results.
func Both(b *Box, n int) (int, error) { return b.N + n, nil }

// Lone: an onEnter alone that reads nothing of the context.
func Lone(b *Box, n int) int { return b.N * n }
""",
    "target/target_test.go": """package target

import "testing"

var sink int

func TestNoAllocation(t *testing.T) {
	for name, call := range map[string]func(){
		"Read": func() { b := &Box{N: 1}; sink += Read(b, "four", 2) },
		"Both": func() { b := &Box{N: 1}; n, _ := Both(b, 2); sink += n },
		"Lone": func() { b := &Box{N: 1}; sink += Lone(b, 2) },
	} {
		if got := testing.AllocsPerRun(200, call); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, got)
		}
	}
	if Seen == 0 {
		t.Fatal("the hooks did not run")
	}
}
""",
    "target/seen.go": "package target\n\n// Seen counts the hooks' calls (the hooks live in this module).\nvar Seen int\n",
    "hooks/hooks.go": """//go:build otelautoinst

package hooks

import (
	"example.com/allocs/target"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

func readExit(call *api.CallContext, r int) {
	if call.ParamCount() == 3 && r >= 0 {
		target.Seen++
	}
}

func bothEnter(call *api.CallContext, b *target.Box, n int) {
	if call.ParamCount() == 2 && b.N >= 0 {
		target.Seen++
	}
}

func bothExit(call *api.CallContext, r int, err error) {
	if call.ReturnValCount() == 2 && err == nil {
		target.Seen++
	}
}

func loneEnter(call *api.CallContext, b *target.Box, n int) {
	if b.N >= 0 {
		target.Seen++
	}
}
""",
    "rules.yaml": """name: allocs
hooks: example.com/allocs/hooks
rules:
  - import_path: example.com/allocs/target
    function: Read
    on_exit: readExit
  - import_path: example.com/allocs/target
    function: Both
    on_enter: bothEnter
    on_exit: bothExit
  - import_path: example.com/allocs/target
    function: Lone
    on_enter: loneEnter
""",
}


def test_hooks_that_keep_nothing_cost_no_allocation(tmp_path: Path) -> None:
    module = tmp_path / "allocs"
    for name, text in FILES.items():
        (module / name).parent.mkdir(parents=True, exist_ok=True)
        (module / name).write_text(text, encoding="utf-8")
    rules = ["--rules", str(module / "rules.yaml"), *only_user_rules()]
    run_ok([*CLI, "test", "-C", str(module), *rules, "-count=1", "./target"], module)
