"""The report: one JSON object, the only input of every rendering (job summary, PR comment).

Schema (version 1):

    {
      "schema": 1,
      "tool_version": "0.1.0",
      "root": "path given with -C, repository-relative when inside a git checkout",
      "go_version": "1.26.8",
      "modules": [{"path": "example.com/app", "dir": ".", "go": "1.23", "toolchain": null}],
      "rules": [{"name": "nethttp", "hooks": "...", "builtin": true, "path": "..."}],
      "instrumented": [
        {"package": "net/http", "file": "GOROOT/src/net/http/client.go" | "app/server.go",
         "line": 581, "function": "Do", "receiver": "*Client", "rules": ["nethttp"],
         "optimization": "full" | "no-onexit" | "no-onenter" | "no-skipcall" | "no-onexit+no-skipcall",
         "inlined": true | false | null, "raw_inlinable": true | false | null,
         "module": "std" | "example.com/app", "module_version": "v1.2.3" | null}
      ],
      "warnings": ["rules/x.yaml:7: function Foo not found in example.com/app/pkg"],
      "dependency_changes": [{"module": "golang.org/x/sys", "plain": "v0.34.0",
                              "instrumented": "v0.35.0"}],
      "build": {"command": ["go", "build", ...], "status": "passed" | "failed" | "skipped",
                "exit_code": 0, "duration_s": 1.23, "errors": [Diagnostic...]},
      "test": {... same ..., "status": ...} | null,
      "binaries": [{"path": "dist/app-linux-amd64", "goos": "linux", "goarch": "amd64", "sha256": "..."}]
    }

A Diagnostic is {"file": "repo-relative", "line": 12, "column": 3, "message": "..."}.
`file` of an instrumented function is repository-relative for the user's own files, and
"GOROOT/src/..." or "GOMODCACHE/<module>@<version>/..." for the standard library and dependencies.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class ModuleInfo:
    path: str
    dir: str
    go: str | None = None
    toolchain: str | None = None


@dataclass
class RuleInfo:
    name: str
    hooks: str
    builtin: bool
    path: str


@dataclass
class InstrumentedFunction:
    package: str
    file: str
    line: int
    function: str
    receiver: str | None
    rules: list[str]
    optimization: str
    inlined: bool | None = None
    raw_inlinable: bool | None = None
    module: str = ""
    module_version: str | None = None


@dataclass
class DependencyChange:
    """A module whose version in the instrumented build is not the plain build's (the hooks'
    requirements raised it through minimal version selection)."""

    module: str
    plain: str
    instrumented: str


@dataclass
class Diagnostic:
    file: str
    line: int
    column: int
    message: str


@dataclass
class StepOutcome:
    command: list[str]
    status: str  # "passed" | "failed" | "skipped"
    exit_code: int
    duration_s: float
    errors: list[Diagnostic] = field(default_factory=list)
    output_tail: str = ""


@dataclass
class Binary:
    path: str
    goos: str
    goarch: str
    sha256: str


@dataclass
class Report:
    root: str
    go_version: str
    modules: list[ModuleInfo] = field(default_factory=list)
    rules: list[RuleInfo] = field(default_factory=list)
    instrumented: list[InstrumentedFunction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dependency_changes: list[DependencyChange] = field(default_factory=list)
    build: StepOutcome | None = None
    test: StepOutcome | None = None
    binaries: list[Binary] = field(default_factory=list)
    schema: int = SCHEMA_VERSION
    tool_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        def step(d: dict[str, Any] | None) -> StepOutcome | None:
            if d is None:
                return None
            errors = [Diagnostic(**e) for e in d.get("errors", [])]
            return StepOutcome(**{**d, "errors": errors})

        return cls(
            root=data["root"],
            go_version=data["go_version"],
            modules=[ModuleInfo(**m) for m in data.get("modules", [])],
            rules=[RuleInfo(**r) for r in data.get("rules", [])],
            instrumented=[InstrumentedFunction(**f) for f in data.get("instrumented", [])],
            warnings=list(data.get("warnings", [])),
            dependency_changes=[DependencyChange(**c) for c in data.get("dependency_changes", [])],
            build=step(data.get("build")),
            test=step(data.get("test")),
            binaries=[Binary(**b) for b in data.get("binaries", [])],
            schema=data.get("schema", SCHEMA_VERSION),
            tool_version=data.get("tool_version", ""),
        )

    @classmethod
    def read(cls, path: Path) -> Report:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
