"""The Go tests of the built-in hooks (rules/), run with the real Go toolchain: each hook called
directly, as the trampolines call it, against real net/http servers and database/sql."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

RULES = Path(__file__).resolve().parents[1] / "rules"


def _go(*args: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which("go"), "the Go toolchain is required"
    return subprocess.run(["go", *args], cwd=RULES, capture_output=True, text=True, timeout=600)


def test_go_vet_rules():
    proc = _go("vet", "./...")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_go_test_rules():
    proc = _go("test", "-count=1", "./...")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for pkg in ("nethttp", "databasesql", "otelsetup"):
        assert f"ok  \tgithub.com/otel-go-autoinst/otel-go-autoinst/rules/{pkg}" in proc.stdout


def test_go_test_rules_with_the_panic_tag_builds():
    # The tag the end-to-end tests use to make every hook panic must keep the package compiling.
    proc = _go("vet", "-tags", "otel_autoinst_panictest", "./...")
    assert proc.returncode == 0, proc.stdout + proc.stderr


NESTED = sorted(p.parent.name for p in RULES.glob("*/go.mod"))


def test_every_integration_module_vets_and_tests_on_its_own():
    """Each integration module builds standalone against the rules module (its go.sum complete),
    so a change to the SDK set-up that the modules do not follow is caught here."""
    assert {"grpc", "redis", "gin"} <= set(NESTED)
    for name in NESTED:
        for args in (("vet", "./..."), ("test", "-count=1", "./...")):
            proc = subprocess.run(
                ["go", *args], cwd=RULES / name, capture_output=True, text=True, timeout=600
            )
            assert proc.returncode == 0, f"rules/{name}: go {' '.join(args)}\n{proc.stdout}{proc.stderr}"


def _fields(go_struct_body: str) -> list[tuple[str, str]]:
    """(name, type) of each field, `any` spelled `interface{}` as the generated code does."""
    fields = []
    for line in go_struct_body.splitlines():
        line = line.split("//")[0].strip()
        if line:
            name, type_text = line.split(None, 1)
            fields.append((name, type_text.replace("any", "interface{}")))
    return fields


def test_generated_context_mirrors_the_api_layout():
    """Hooks receive the generated context as *api.CallContext: field for field the same, or a
    hook reads the wrong word."""
    from otel_go_autoinst.trampoline import CALL_CONTEXT_FIELDS, CALL_FRAME_FIELDS

    api = (RULES / "api" / "api.go").read_text()

    def struct(name: str) -> list[tuple[str, str]]:
        found = re.search(rf"^type {name} struct {{\n(.*?)^}}", api, re.M | re.S)
        assert found, name
        return _fields(found.group(1))

    context = struct("CallContext")
    assert context[-1] == ("frame", "*callFrame")
    assert _fields(CALL_CONTEXT_FIELDS) == [*context[:-1], ("frame", "*_otelFrame")]
    assert _fields(CALL_FRAME_FIELDS) == struct("callFrame")
