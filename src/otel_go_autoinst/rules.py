"""Rules: YAML files, one per integration, beside the Go package that holds its hooks.

Safe-loaded and validated; every error names the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .versions import VersionRange


@dataclass(frozen=True)
class FunctionRule:
    """Inject a TJump into one function or method."""

    import_path: str  # "main" matches the main package of every program in the build
    function: str
    receiver: str | None = None  # "Client", "*Client"; generic receivers by base name ("*Stack")
    version: VersionRange | None = None  # of the target module (Go's version for the standard library)
    go_version: VersionRange | None = None  # of the Go toolchain
    on_enter: str | None = None
    on_exit: str | None = None
    order: int = 0  # lower is outermost
    source: str = ""  # "file.yaml:LINE", for messages and the report


@dataclass(frozen=True)
class StructRule:
    """Add a field to a struct type."""

    import_path: str
    struct: str
    field_name: str
    field_type: str
    version: VersionRange | None = None
    go_version: VersionRange | None = None
    source: str = ""


@dataclass(frozen=True)
class FileRule:
    """Add a Go file to a package (its package clause is set to the target's package name)."""

    import_path: str
    file: Path  # absolute
    version: VersionRange | None = None
    go_version: VersionRange | None = None
    source: str = ""


@dataclass(frozen=True)
class RuleSet:
    """One rule file: an integration."""

    name: str
    hooks: str  # import path of the Go package holding the hook functions
    path: Path  # the YAML file
    builtin: bool
    # A support set (e.g. the SDK set-up) applies only to builds in which another set instruments
    # something: a program that uses no instrumented library gets no change at all.
    support: bool = False
    functions: tuple[FunctionRule, ...] = ()
    structs: tuple[StructRule, ...] = ()
    files: tuple[FileRule, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
