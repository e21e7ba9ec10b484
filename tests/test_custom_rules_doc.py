"""docs/custom-rules.md, run as written: its files (fenced blocks with title=PATH) make a module in
an empty folder; the plain `go build ./...`, `go vet ./...`, `go test ./...` and `go run .` pass and
print the plain output (output=plain); the commands of the block marked test=instrumented build it
with the tutorial's rules and hooks, and the program prints the instrumented output
(output=instrumented) and sends the //otel:span span described there. Every other YAML block is a
rule file that must load."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cli_helpers import CLI  # noqa: E402
from otlp_receiver import OTLPReceiver  # noqa: E402

from otel_go_autoinst.rules import load_rule_file  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "custom-rules.md"
_FENCE = re.compile(r"^```(?P<lang>\w*)(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)


@dataclass
class Doc:
    files: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    yaml_snippets: list[str] = field(default_factory=list)


def read_doc(text: str) -> Doc:
    doc = Doc()
    for block in _FENCE.finditer(text):
        info = dict(re.findall(r"(\w+)=(\S+)", block["info"]))
        body = block["body"]
        if "title" in info:
            doc.files[info["title"]] = body
        elif "output" in info:
            doc.outputs[info["output"]] = body
        elif info.get("test") == "instrumented":
            doc.commands = [line for line in body.splitlines() if line.strip()]
        elif block["lang"] == "yaml":
            doc.yaml_snippets.append(body)
    return doc


@pytest.fixture(scope="module")
def doc() -> Doc:
    return read_doc(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def module(doc: Doc, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert shutil.which("go"), "the Go toolchain is required"
    root = tmp_path_factory.mktemp("shop")
    for name, content in doc.files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content, encoding="utf-8")
    return root


def _env() -> dict[str, str]:
    # A user's shell: no OTEL_* settings, no workspace of ours.
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "GOWORK"}


def _go(module: Path, *args: str) -> str:
    proc = subprocess.run(
        ["go", *args], cwd=module, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"go {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_the_doc_has_what_the_tutorial_needs(doc: Doc) -> None:
    assert {"go.mod", "main.go", "otel/shop.yaml", "otelhooks/hooks.go"} <= set(doc.files)
    assert set(doc.outputs) == {"plain", "instrumented"}
    assert doc.commands and doc.commands[0].startswith("otel-go-autoinst build")
    # Every CallContext method of rules/api is in the table.
    api = (DOC.parents[1] / "rules" / "api" / "api.go").read_text()
    methods = set(re.findall(r"^func \(c \*CallContext\) (\w+)\(", api, re.M))
    table = DOC.read_text()
    assert methods and all(f"`{m}(" in table for m in methods), methods


def test_plain_build_vet_test_and_run(module: Path, doc: Doc) -> None:
    """The hooks package imports rules/api, which the plain build has not: its build line keeps
    it out of the plain build, vet and test."""
    _go(module, "build", "./...")
    _go(module, "vet", "./...")
    _go(module, "test", "./...")
    assert _go(module, "run", ".") == doc.outputs["plain"]


def test_instrumented_as_written(module: Path, doc: Doc) -> None:
    build, run = (shlex.split(line) for line in doc.commands)
    assert build[0] == "otel-go-autoinst" and run == ["./shop"]
    proc = subprocess.run(
        [*CLI, *build[1:]], cwd=module, env=_env(), capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr
    # The hooks carry the build line: no warning about the plain build.
    assert "otelautoinst" not in proc.stderr, proc.stderr
    with OTLPReceiver() as rx:
        env = {**_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}
        ran = subprocess.run(
            [str(module / "shop")], cwd=module, env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == doc.outputs["instrumented"]
        spans = rx.spans
    run_spans = [s for s in spans if s.name == "main.run"]
    assert len(run_spans) == 1, spans
    span = run_spans[0]
    assert span.kind == "INTERNAL" and span.parent_span_id == ""
    assert span.attributes == {
        "code.function.name": "example.com/shop.run",
        "shop.step": "checkout",
        "error.type": "*errors.errorString",
    }
    assert span.status == "ERROR" and span.status_message == "cart is empty"


def test_hooks_without_the_build_line_are_named(module: Path, tmp_path: Path) -> None:
    """Without `//go:build otelautoinst` the plain build fails on the hooks, and the tool says
    which file needs the line."""
    copy = tmp_path / "shop"
    shutil.copytree(module, copy)
    hooks = copy / "otelhooks" / "hooks.go"
    hooks.write_text(hooks.read_text().replace("//go:build otelautoinst\n", "", 1))
    plain = subprocess.run(
        ["go", "build", "./..."], cwd=copy, env=_env(), capture_output=True, text=True
    )
    assert plain.returncode != 0 and "rules/api" in plain.stderr
    proc = subprocess.run(
        [*CLI, "plan", "--rules", "otel", "."], cwd=copy, env=_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "hooks.go: imports github.com/otel-go-autoinst/otel-go-autoinst/rules/api" in proc.stderr
    assert "//go:build otelautoinst" in proc.stderr


def test_yaml_snippets_load(doc: Doc, tmp_path: Path) -> None:
    assert doc.yaml_snippets
    for i, text in enumerate(doc.yaml_snippets):
        path = tmp_path / f"snippet{i}.yaml"
        path.write_text(text)
        assert load_rule_file(path).functions


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], []),
        (["-tags=netgo"], ["-tags=netgo,otelautoinst"]),
        (["-tags", "a b", "-v"], ["-tags", "a,b,otelautoinst", "-v"]),
        (["--tags=otelautoinst"], ["--tags=otelautoinst"]),
        (["-trimpath", "-tags="], ["-trimpath", "-tags=otelautoinst"]),
    ],
)
def test_the_tag_joins_the_users_tags(flags: list[str], expected: list[str]) -> None:
    """A command-line -tags replaces the one of GOFLAGS, so the tag is added to the user's own."""
    from otel_go_autoinst.engine import _goflags_with_hooks_tag, with_hooks_tag

    assert with_hooks_tag(flags) == expected
    assert _goflags_with_hooks_tag("-mod=mod") == "-mod=mod -tags=otelautoinst"
    assert _goflags_with_hooks_tag("-tags=x") == "-tags=x,otelautoinst"
