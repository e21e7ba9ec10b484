"""The runner's channels: the log (workflow commands, groups), step outputs and the job summary.

Everything the entrypoint prints goes through `Log`. Text taken from the repository goes through
`Log.untrusted`: on one line (control characters escaped) and inside a stop-commands block when it
could be read as a workflow command, so a folder named `x\n::warning::y` prints no warning.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from otel_go_autoinst.publish import annotations as ann

_INVISIBLE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def visible(text: str) -> str:
    """One line: control characters (newlines included) shown as escapes."""
    return _INVISIBLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class Log:
    """Workflow-command aware log on stdout (flushed, so child processes interleave correctly)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def untrusted(self, text: str) -> None:
        """Print text derived from the repository (paths, go.mod lines, module names): on one
        line, and inside a stop-commands block when it could be read as a workflow command."""
        shown = visible(text)
        if "::" in shown or "##[" in shown:
            stop = uuid.uuid4().hex
            self.line(f"::stop-commands::{stop}")
            self.line(shown)
            self.line(f"::{stop}::")
        else:
            self.line(shown)

    def warning(self, text: str) -> None:
        self.line(ann.workflow_command("warning", text))

    def notice(self, text: str) -> None:
        self.line(ann.workflow_command("notice", text))

    def error(self, text: str) -> None:
        self.line(ann.workflow_command("error", text))

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.line(ann.group_start(title))
        try:
            yield
        finally:
            self.line(ann.group_end())


def write_outputs(env: Mapping[str, str], outputs: Mapping[str, str], log: Log) -> None:
    path = env.get("GITHUB_OUTPUT")
    if not path:
        for key, value in outputs.items():
            log.untrusted(f"output {key}={value}")
        return
    with open(path, "a", encoding="utf-8") as handle:
        for key, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            handle.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def write_summary(env: Mapping[str, str], markdown: str, log: Log) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        log.line("(no GITHUB_STEP_SUMMARY: the summary is not written)")
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown)
        if not markdown.endswith("\n"):
            handle.write("\n")
