"""GitHub workflow commands: error annotations on the user's own files and lines, log groups.

A build or test error of the instrumented build is reported by the engine as a Diagnostic whose
`file` is repository-relative and whose `line` is the user's original line (the TJump keeps every
statement on its line).  This module turns those into `::error file=...,line=...::message`
commands with GitHub's escaping, caps them at what GitHub shows (10 error annotations per step)
and summarizes the rest in one last annotation.

Escaping (actions/toolkit `command.ts`):
- message (data): `%` -> `%25`, `\\r` -> `%0D`, `\\n` -> `%0A`;
- property values additionally `:` -> `%3A` and `,` -> `%2C`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from otel_go_autoinst.report import Diagnostic

# GitHub shows at most 10 error annotations (and 10 warnings) per step, 50 per job.
MAX_ERROR_ANNOTATIONS = 10

# Annotations longer than this are cut by GitHub anyway; keep the log readable.
MAX_MESSAGE_CHARS = 4000


def escape_data(value: str) -> str:
    """Escape the message part of a workflow command."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a property value (file, title...) of a workflow command."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    command: str, message: str, properties: Mapping[str, str | int | None] | None = None
) -> str:
    """Format one workflow command line, for example `::error file=a.go,line=3::boom`."""
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in (properties or {}).items()
        if value is not None and value != ""
    )
    head = f"::{command} {props}" if props else f"::{command}"
    return f"{head}::{escape_data(message)}"


@dataclass(frozen=True)
class Annotation:
    """One error annotation; `file` is workspace-relative (POSIX) or None for a log-only error."""

    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    title: str | None = None

    def command(self) -> str:
        message = self.message
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        props: dict[str, str | int | None] = {"file": self.file}
        if self.file is not None:
            props["line"] = self.line if self.line and self.line > 0 else None
            props["col"] = self.col if self.col and self.col > 0 else None
        props["title"] = self.title
        return workflow_command("error", message, props)


def workspace_path(file: str, *, workspace: Path, root: str = ".") -> str | None:
    """Map a Diagnostic's file to a path relative to the workspace, or None when it is not a file
    of the user's checkout (standard library, module cache, generated trampolines).

    The report's files are repository-relative; as a fallback a path relative to the module
    directory (`root`, the `-C` directory) is accepted too.
    """
    if not file or file.startswith(("GOROOT/", "GOMODCACHE/")):
        return None
    workspace = workspace.resolve()
    candidates: list[Path] = []
    path = Path(file)
    if path.is_absolute():
        candidates.append(path)
    else:
        candidates.append(workspace / path)
        if root not in ("", "."):
            candidates.append(workspace / root / path)
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
            relative = resolved.relative_to(workspace)
        except (OSError, ValueError):
            continue
        if resolved.is_file():
            return PurePosixPath(*relative.parts).as_posix()
    return None


def annotations_for(
    diagnostics: Iterable[Diagnostic],
    *,
    workspace: Path,
    root: str = ".",
    title: str = "Build error",
    limit: int = MAX_ERROR_ANNOTATIONS,
) -> list[Annotation]:
    """Annotations for the diagnostics, at most `limit`; beyond it the last one summarizes."""
    all_diags = list(diagnostics)
    result: list[Annotation] = []
    for diag in all_diags:
        file = workspace_path(diag.file, workspace=workspace, root=root)
        if file is None:
            # Not a file of the checkout: keep the location in the message.
            where = f"{diag.file}:{diag.line}:{diag.column}: " if diag.file else ""
            result.append(Annotation(message=where + diag.message, title=title))
        else:
            result.append(
                Annotation(
                    message=diag.message, file=file, line=diag.line, col=diag.column, title=title
                )
            )
    if limit <= 0:
        return []
    if len(result) > limit:
        shown = result[: limit - 1]
        rest = len(result) - len(shown)
        shown.append(
            Annotation(
                message=(
                    f"{rest} more {title.lower()}s are not annotated "
                    "(GitHub shows at most 10 error annotations per step); "
                    "see the job log and the job summary for all of them."
                ),
                title=title,
            )
        )
        return shown
    return result


def group_start(title: str) -> str:
    return f"::group::{escape_data(title)}"


def group_end() -> str:
    return "::endgroup::"
