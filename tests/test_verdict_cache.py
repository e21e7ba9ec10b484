"""The escape-verdict cache: what it keeps comes back, and an entry that is damaged, moved, forged
or edited is never trusted: the compiler is asked again.

A wrong verdict is not a harmless miss: "this hook does not keep the CallContext" makes the
trampoline hide the context from escape analysis, so it lives on the stack; a hook that does keep
it then holds a pointer into a dead frame. The end-to-end test edits a kept verdict that way and
checks that the tool asks the compiler again instead of believing it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CLI, only_user_rules

from otel_go_autoinst.verdicts import load_verdicts, store_verdicts

TIMEOUT = 300
KEY = "a" * 64


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def _entry(xdg: Path, key: str = KEY) -> Path:
    return xdg / "otel-go-autoinst" / "verdicts" / f"{key}.json"


def test_verdicts_round_trip(xdg: Path) -> None:
    verdicts = {("example.com/hooks", "enter"): [False, True], ("example.com/hooks", "x"): []}
    store_verdicts(KEY, verdicts)
    assert load_verdicts(KEY) == verdicts
    assert load_verdicts("b" * 64) is None
    secret = xdg / "otel-go-autoinst" / "secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_bytes()) == 32


@pytest.mark.parametrize(
    "content", ["not json", "{}", "[[1, 2]]", '[["p", "n", 3]]', '[["p", "n", [false]]]']
)
def test_a_damaged_entry_is_no_verdict(xdg: Path, content: str) -> None:
    store_verdicts(KEY, {("p", "n"): [True]})  # a secret exists: only the entry is wrong
    _entry(xdg).write_text(content, encoding="utf-8")
    assert load_verdicts(KEY) is None


def _edit(xdg: Path, change) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads(_entry(xdg).read_text(encoding="utf-8"))
    change(raw)
    _entry(xdg).write_text(json.dumps(raw), encoding="utf-8")


def _flip(raw: dict) -> None:
    raw["verdicts"][0][2][0] = False


def _truthy_int(raw: dict) -> None:
    raw["verdicts"][0][2][0] = 1


def _extra_field(raw: dict) -> None:
    raw["note"] = "hi"


def _drop_entry(raw: dict) -> None:
    raw["verdicts"] = raw["verdicts"][1:]


def _duplicate(raw: dict) -> None:
    raw["verdicts"].append(raw["verdicts"][0])


@pytest.mark.parametrize("change", [_flip, _truthy_int, _extra_field, _drop_entry, _duplicate])
def test_an_edited_entry_is_no_verdict(xdg: Path, change) -> None:  # type: ignore[no-untyped-def]
    store_verdicts(KEY, {("p", "enter"): [True, False], ("p", "exit"): [False]})
    _edit(xdg, change)
    assert load_verdicts(KEY) is None


def test_an_entry_moved_to_another_key_is_no_verdict(xdg: Path) -> None:
    """The key is in the MAC: a valid entry of one build input says nothing about another."""
    other = "b" * 64
    store_verdicts(KEY, {("p", "enter"): [False]})
    _entry(xdg, other).write_bytes(_entry(xdg).read_bytes())
    assert load_verdicts(other) is None
    _edit(xdg, lambda raw: raw.update(key=other))
    assert load_verdicts(KEY) is None


def test_an_entry_signed_with_another_secret_is_no_verdict(xdg: Path) -> None:
    """An entry made elsewhere (another user's cache, a restored CI cache) with its own secret."""
    store_verdicts(KEY, {("p", "enter"): [False]})
    entry = _entry(xdg).read_bytes()
    secret = xdg / "otel-go-autoinst" / "secret"
    secret.unlink()
    store_verdicts("c" * 64, {("p", "enter"): [True]})  # makes a new secret
    _entry(xdg).write_bytes(entry)
    assert load_verdicts(KEY) is None


@pytest.mark.parametrize("problem", ["short", "loose", "symlink"])
def test_a_secret_not_plainly_ours_is_not_used(xdg: Path, problem: str) -> None:
    store_verdicts(KEY, {("p", "enter"): [False]})
    secret = xdg / "otel-go-autoinst" / "secret"
    if problem == "short":
        secret.write_bytes(secret.read_bytes()[:8])
        os.utime(secret, (0, 0))  # not one being written right now
    elif problem == "loose":
        secret.chmod(0o644)
    else:
        target = xdg / "elsewhere"
        target.write_bytes(secret.read_bytes())
        target.chmod(0o600)
        secret.unlink()
        secret.symlink_to(target)
    assert load_verdicts(KEY) is None
    # The next store replaces it with a sound secret, and its entries are used again.
    store_verdicts(KEY, {("p", "enter"): [True]})
    assert load_verdicts(KEY) == {("p", "enter"): [True]}
    assert not secret.is_symlink() and stat.S_IMODE(secret.stat().st_mode) == 0o600


def _store_in_child(xdg: str, index: int) -> None:
    os.environ["XDG_CACHE_HOME"] = xdg
    store_verdicts(f"{index:064x}", {("p", "enter"): [bool(index % 2)]})


def test_runs_that_race_to_make_the_secret_agree(xdg: Path) -> None:
    """Several processes create the secret at once: one file, and every entry verifies under it."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_store_in_child, args=(str(xdg), i)) for i in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    for index in range(8):
        assert load_verdicts(f"{index:064x}") == {("p", "enter"): [bool(index % 2)]}


def test_an_unwritable_cache_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_dir))
    store_verdicts(KEY, {("p", "enter"): [False]})  # no exception
    assert load_verdicts(KEY) is None


def test_a_key_is_never_a_path(xdg: Path) -> None:
    store_verdicts("../escape", {("p", "enter"): [False]})
    assert not (xdg / "otel-go-autoinst" / "escape.json").exists()
    assert load_verdicts("../escape") is None


# -- end to end: a hook that keeps its CallContext ---------------------------------------------

KEEP_FILES = {
    "go.mod": "module example.com/keep\n\ngo 1.23.0\n",
    "target/target.go": """package target

// Work is instrumented: its onEnter hook keeps the CallContext.
func Work(n int) int {
	return n * 2
}
""",
    "hooks/hooks.go": """package hooks

import "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"

// Kept holds every CallContext workEnter saw: the context escapes the hook.
var Kept []*api.CallContext

func workEnter(call *api.CallContext, n int) {
	call.SetData(n)
	Kept = append(Kept, call)
}

func workExit(call *api.CallContext, r int) {}
""",
    "cmd/keep/main.go": """package main

import (
	"fmt"

	"example.com/keep/hooks"
	"example.com/keep/target"
)

// churn writes over the stack below its caller, where a context that did not escape would be.
func churn(depth int) int {
	var pad [256]int
	for i := range pad {
		pad[i] = depth*1000 + i
	}
	if depth == 0 {
		return pad[7]
	}
	return churn(depth-1) + pad[depth%256]
}

func main() {
	for i := 1; i <= 3; i++ {
		fmt.Println("WORK", target.Work(i), churn(40) > 0)
	}
	for _, call := range hooks.Kept {
		fmt.Println("KEPT", call.GetData())
	}
}
""",
    "rules.yaml": """name: keep
hooks: example.com/keep/hooks
rules:
  - import_path: example.com/keep/target
    function: Work
    on_enter: workEnter
    on_exit: workExit
""",
}
EXPECTED_OUTPUT = ["WORK 2 true", "WORK 4 true", "WORK 6 true", "KEPT 1", "KEPT 2", "KEPT 3"]
# The context handed to the enter hook promised not to escape (what a not-leaking verdict gives):
# the hook's declaration marked //go:noescape, or the context hidden from escape analysis.
HIDDEN_CONTEXT = re.compile(
    r"//go:noescape\n\+?//go:linkname _otelHookEnter\d+ |h := \(\*_otelCtx\d+\)\(_otelHide\("
)


def _cli(module: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*CLI, args[0], "-C", str(module), "--rules", str(module / "rules.yaml"),
         *only_user_rules(), *args[1:]],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_an_edited_verdict_file_means_asking_the_compiler_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "keep"
    for name, text in KEEP_FILES.items():
        (module / name).parent.mkdir(parents=True, exist_ok=True)
        (module / name).write_text(text, encoding="utf-8")
    xdg = tmp_path / "xdg"
    gocache = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, check=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(xdg), "GOCACHE": gocache.stdout.strip()}
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))

    first = _cli(module, env, "diff", "./cmd/keep")
    assert "_otelHookEnter0" in first.stdout and not HIDDEN_CONTEXT.search(first.stdout)
    [entry] = (xdg / "otel-go-autoinst" / "verdicts").glob("*.json")
    key = entry.stem
    assert load_verdicts(key) == {
        ("example.com/keep/hooks", "workEnter"): [True, False],  # the context escapes
        ("example.com/keep/hooks", "workExit"): [False, False],
    }

    # Someone says the context does not escape workEnter after all.
    def flip(node: object) -> None:
        if isinstance(node, list):
            if node[:2] == ["example.com/keep/hooks", "workEnter"]:
                node[2] = [False for _ in node[2]]
            for child in node:
                flip(child)
        elif isinstance(node, dict):
            for child in node.values():
                flip(child)

    raw = json.loads(entry.read_text(encoding="utf-8"))
    flip(raw)
    entry.write_text(json.dumps(raw), encoding="utf-8")
    assert load_verdicts(key) is None

    again = _cli(module, env, "diff", "./cmd/keep")
    assert not HIDDEN_CONTEXT.search(again.stdout)
    assert again.stdout == first.stdout
    # The compiler was asked again: the entry is rewritten, with its true verdict and a valid MAC.
    assert load_verdicts(key) == {
        ("example.com/keep/hooks", "workEnter"): [True, False],
        ("example.com/keep/hooks", "workExit"): [False, False],
    }

    # And the program built after another such edit keeps working contexts.
    raw = json.loads(entry.read_text(encoding="utf-8"))
    flip(raw)
    entry.write_text(json.dumps(raw), encoding="utf-8")
    binary = tmp_path / "keep.bin"
    _cli(module, env, "build", "-o", str(binary), "./cmd/keep")
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == EXPECTED_OUTPUT
    assert load_verdicts(key) is not None


HELPER_KEEPS = "func Use(call *api.CallContext) { Kept = append(Kept, call) }\n"


def test_an_edit_to_a_package_the_hooks_call_means_asking_again(tmp_path: Path) -> None:
    """The verdict on workEnter depends on helper.Use, in another package of the user's module:
    when Use starts keeping the context, the kept "does not escape" verdict is stale."""
    module = tmp_path / "keep"
    files = {
        **KEEP_FILES,
        "hooks/hooks.go": """package hooks

import (
	"example.com/keep/helper"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

var Kept = helper.Kept

func workEnter(call *api.CallContext, n int) { helper.Use(call) }

func workExit(call *api.CallContext, r int) {}
""",
        "helper/helper.go": """package helper

import "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"

var Kept []*api.CallContext

func Use(call *api.CallContext) { call.SetData(1) }
""",
    }
    for name, text in files.items():
        (module / name).parent.mkdir(parents=True, exist_ok=True)
        (module / name).write_text(text, encoding="utf-8")
    gocache = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, check=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "GOCACHE": gocache.stdout.strip()}
    first = _cli(module, env, "diff", "./cmd/keep")
    assert HIDDEN_CONTEXT.search(first.stdout)  # Use does not keep it: hidden, rightly
    helper = module / "helper" / "helper.go"
    text = helper.read_text(encoding="utf-8")
    helper.write_text(text.replace("func Use(call *api.CallContext) { call.SetData(1) }\n",
                                   HELPER_KEEPS), encoding="utf-8")  # fmt: skip
    again = _cli(module, env, "diff", "./cmd/keep")
    assert not HIDDEN_CONTEXT.search(again.stdout)
