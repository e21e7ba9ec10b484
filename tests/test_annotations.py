"""Workflow-command annotations: GitHub's escaping, the 10-per-step cap, mapping to user files."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_go_autoinst.publish.annotations import (
    MAX_ERROR_ANNOTATIONS,
    Annotation,
    annotations_for,
    escape_data,
    escape_property,
    workflow_command,
    workspace_path,
)
from otel_go_autoinst.report import Diagnostic


def unescape(value: str) -> str:
    """What the runner does with an escaped value (actions/runner ActionCommand.Unescape)."""
    return (
        value.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """Parse `::cmd k=v,k=v::msg` the way the runner does: split at the first `::` after the
    command, properties at `,`, key and value at the first `=`."""
    assert line.startswith("::")
    head, _, message = line[2:].partition("::")
    command, _, props_text = head.partition(" ")
    props = {}
    if props_text:
        for pair in props_text.split(","):
            key, _, value = pair.partition("=")
            props[key] = unescape(value)
    return command, props, unescape(message)


def test_escape_data_and_property() -> None:
    assert escape_data("100%\r\ndone") == "100%25%0D%0Adone"
    assert escape_data("a:b,c") == "a:b,c"
    assert escape_property("C:\\x, y%\n") == "C%3A\\x%2C y%25%0A"
    # `%` first, so an already escaped-looking sequence survives a round trip
    assert unescape(escape_property("%0A:,")) == "%0A:,"


def test_command_round_trips_through_the_runner_parser() -> None:
    nasty_file = "pkg/we,ird:na%me.go"
    message = "cannot use x (variable of type int)\nas string: 50% done, ::oops::"
    line = workflow_command(
        "error", message, {"file": nasty_file, "line": 12, "col": 3, "title": "Build: error, x"}
    )
    assert "\n" not in line and "\r" not in line
    command, props, msg = parse_command(line)
    assert command == "error"
    assert props == {"file": nasty_file, "line": "12", "col": "3", "title": "Build: error, x"}
    assert msg == message


def test_empty_properties_are_left_out() -> None:
    assert workflow_command("error", "boom", {"file": None, "title": ""}) == "::error::boom"
    assert workflow_command("warning", "w") == "::warning::w"


def test_annotation_without_file_has_no_line() -> None:
    assert Annotation("boom", file=None, line=3, col=4).command() == "::error::boom"
    assert (
        Annotation("boom", file="a.go", line=3, col=0, title="Build error").command()
        == "::error file=a.go,line=3,title=Build error::boom"
    )


def test_long_messages_are_cut() -> None:
    line = Annotation("x" * 10_000, file=None).command()
    assert len(line) < 4100
    assert line.endswith("…")


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "svc" / "pkg").mkdir(parents=True)
    (tmp_path / "svc" / "pkg" / "a.go").write_text("package pkg\n")
    (tmp_path / "svc" / "main.go").write_text("package main\n")
    return tmp_path


def test_workspace_path_maps_repo_and_module_relative_files(checkout: Path) -> None:
    assert workspace_path("svc/pkg/a.go", workspace=checkout) == "svc/pkg/a.go"
    # relative to the module directory (-C) as a fallback
    assert workspace_path("pkg/a.go", workspace=checkout, root="svc") == "svc/pkg/a.go"
    assert workspace_path(str(checkout / "svc/main.go"), workspace=checkout) == "svc/main.go"
    # not the user's files: no file annotation
    assert workspace_path("GOROOT/src/net/http/client.go", workspace=checkout) is None
    assert workspace_path("GOMODCACHE/x@v1/y.go", workspace=checkout) is None
    assert workspace_path("otel_trampoline_pkg.go", workspace=checkout) is None
    assert workspace_path("../outside.go", workspace=checkout) is None
    assert workspace_path("/etc/passwd", workspace=checkout) is None


def test_annotations_for_maps_files_and_keeps_other_locations(checkout: Path) -> None:
    diags = [
        Diagnostic("svc/pkg/a.go", 7, 2, "undefined: x"),
        Diagnostic("GOROOT/src/net/http/client.go", 10, 1, "hook mismatch"),
    ]
    items = annotations_for(diags, workspace=checkout, root="svc")
    assert items[0] == Annotation("undefined: x", "svc/pkg/a.go", 7, 2, "Build error")
    assert items[1].file is None
    assert items[1].message == "GOROOT/src/net/http/client.go:10:1: hook mismatch"


def test_annotations_are_capped_with_a_summary(checkout: Path) -> None:
    diags = [Diagnostic("svc/pkg/a.go", i, 1, f"error {i}") for i in range(1, 26)]
    items = annotations_for(diags, workspace=checkout)
    assert len(items) == MAX_ERROR_ANNOTATIONS == 10
    assert [i.line for i in items[:9]] == list(range(1, 10))
    assert items[-1].file is None
    assert "16 more build errors" in items[-1].message
    # exactly at the limit: no summary
    assert len(annotations_for(diags[:10], workspace=checkout)) == 10
    assert all(i.file for i in annotations_for(diags[:10], workspace=checkout))
    assert annotations_for(diags, workspace=checkout, limit=0) == []
