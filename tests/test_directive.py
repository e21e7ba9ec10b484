"""The //otel:span directive end to end: tests/data/modules/directive, built by `otel-go-autoinst
build` with no rule file, serves a request to itself; the spans of its traced functions (a function
with a context, a pointer and a value method, a generic function, a method of a generic type, a
function returning an error) arrive over OTLP/HTTP at a receiver started here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cli_helpers import CLI, MODULES  # noqa: E402
from otlp_receiver import OTLPReceiver, Span  # noqa: E402

MODULE = MODULES / "directive"
OUTPUT = "rejected: empty item\nresponse: TEA,JAM (2 stored, skipped)\n"


def _cli(*args: str, cwd: Path = MODULE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    assert shutil.which("go"), "the Go toolchain is required"
    out = tmp_path_factory.mktemp("directive")
    proc = _cli("build", "-o", str(out / "directive"), "--report", str(out / "report.json"), ".")
    assert proc.returncode == 0, proc.stderr
    return out / "directive", json.loads((out / "report.json").read_text())


def _run(binary: Path, **env: str) -> tuple[str, list[Span]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    with OTLPReceiver() as rx:
        environ.update(OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, **env)
        proc = subprocess.run(
            [str(binary)], env=environ, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        # The program flushes when main returns: everything has arrived once it has exited.
        return proc.stdout, rx.spans


def _one(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"one {name!r} span expected, got {spans!r}"
    return found[0]


def test_plain_program_says_the_same() -> None:
    proc = subprocess.run(
        ["go", "run", "."], cwd=MODULE, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == OUTPUT


def test_spans_names_kinds_attributes_and_parents(built: tuple[Path, dict[str, object]]) -> None:
    stdout, spans = _run(built[0])
    assert stdout == OUTPUT
    server = next(s for s in spans if s.kind == "SERVER")
    internal = [s for s in spans if s.kind == "INTERNAL"]
    assert {s.trace_id for s in spans} == {server.trace_id}
    assert sorted(s.name for s in internal) == sorted(
        ["process", *["shop.validate"] * 3, *["shop.(*Store).Save"] * 2, "shop.Map",
         *["shop.(*Stack).Push"] * 2, "shop.Store.Len"]
    )  # fmt: skip
    # name= and key=value pairs; the function's full name as code.function.name.
    process = _one(spans, "process")
    assert process.attributes == {
        "code.function.name": "example.com/directive.process",
        "order.kind": "test",
    }
    # Its parent is the request's SERVER span, found in the ctx it was called with.
    assert process.parent_span_id == server.span_id
    # Every other traced call is under process: Validate by the ctx process hands on (its ctx
    # parameter now carries process's span), Map, Push and Len (no ctx) by the goroutine's current
    # span, and Save in a worker goroutine started before any span, by the ctx it was handed.
    for span in internal:
        if span is not process:
            assert span.parent_span_id == process.span_id, span
    save = [s for s in internal if s.name == "shop.(*Store).Save"]
    assert save[0].attributes == {
        "code.function.name": "example.com/directive/shop.(*Store).Save",
        "store.kind": "memory",
        "note": "two words",
    }
    assert _one(spans, "shop.Map").attributes == {
        "code.function.name": "example.com/directive/shop.Map"
    }
    assert _one(spans, "shop.Store.Len").attributes["code.function.name"] == (
        "example.com/directive/shop.Store.Len"
    )
    # The error result: status Error and an exception event, on the one call that failed.
    validate = [s for s in internal if s.name == "shop.validate"]
    failed = [s for s in validate if s.status == "ERROR"]
    assert len(failed) == 1 and failed[0].status_message == "empty item"
    assert failed[0].events == [
        {
            "name": "exception",
            "exception.type": "*errors.errorString",
            "exception.message": "empty item",
        }
    ]
    assert all(s.status == "UNSET" and not s.events for s in validate if s not in failed)


def test_switched_off_at_run_time(built: tuple[Path, dict[str, object]]) -> None:
    stdout, spans = _run(built[0], OTEL_GO_DISABLED_INSTRUMENTATIONS="directive")
    assert stdout == OUTPUT
    assert spans and not [s for s in spans if s.kind == "INTERNAL"]


def test_report_lists_the_functions(built: tuple[Path, dict[str, object]]) -> None:
    instrumented = built[1]["instrumented"]
    assert isinstance(instrumented, list)
    mine = {
        (f["package"], f["receiver"], f["function"]): f["rules"]
        for f in instrumented
        if "directive" in f["rules"]
    }
    assert mine == {
        ("example.com/directive", None, "process"): ["directive"],
        ("example.com/directive/shop", "*Store", "Save"): ["directive"],
        ("example.com/directive/shop", "Store", "Len"): ["directive"],
        ("example.com/directive/shop", None, "Validate"): ["directive"],
        ("example.com/directive/shop", None, "Map"): ["directive"],
        ("example.com/directive/shop", "*Stack", "Push"): ["directive"],
    }  # Skipped also carries //otel:ignore


def test_disable_at_build_time() -> None:
    proc = _cli("plan", "--disable", "directive", "./...")
    assert proc.returncode == 0, proc.stderr
    assert "\tdirective\t" not in proc.stdout
    assert "example.com/directive/shop.Map\tdirective" in _cli("plan", "./...").stdout


def test_only_the_main_modules(tmp_path: Path) -> None:
    """A dependency's //otel:span is not the user's: a module requiring the test module (through
    a replace) gets no span for its functions."""
    (tmp_path / "go.mod").write_text(
        "module example.com/user\n\ngo 1.23\n\nrequire example.com/directive v0.0.0\n\n"
        f"replace example.com/directive => {MODULE}\n"
    )
    (tmp_path / "main.go").write_text(
        'package main\n\nimport "example.com/directive/shop"\n\n'
        "//otel:span\nfunc run() int { return shop.Store{}.Len() }\n\n"
        "func main() { println(run()) }\n"
    )
    proc = _cli("plan", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "example.com/user.run\tdirective" in proc.stdout
    assert "example.com/directive/shop" not in proc.stdout


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ("//otel:span name", 'got "name"'),
        ("//otel:span 1key=v", '"1key" is not an attribute key'),
        ("//otel:span a=1 a=2", 'the key "a" is given twice'),
        ('//otel:span a="unterminated', 'got "a="unterminated"'),
    ],
)
def test_bad_directive_is_one_clear_error(tmp_path: Path, directive: str, message: str) -> None:
    (tmp_path / "go.mod").write_text("module example.com/bad\n\ngo 1.23\n")
    (tmp_path / "main.go").write_text(f"package main\n\n{directive}\nfunc main() {{}}\n")
    proc = _cli("plan", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "main.go:3: //otel:span" in proc.stderr and message in proc.stderr, proc.stderr
