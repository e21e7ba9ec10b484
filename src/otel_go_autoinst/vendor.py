"""Vendor mode: the instrumented build reads the user's vendor/ as the plain build does.

The private go.work gets a workspace vendor directory of its own (the go command looks for it
beside go.work): the user's vendored packages, plus the packages the hooks need (the OpenTelemetry
SDK, from the module cache where the tool's install put it). Every file is a symbolic link to the
user's vendored file or to the module cache, so a patched vendored copy is what gets compiled and
nothing is downloaded. When the hooks need a newer version of a module than the one vendored, the
newer one is used and the change is reported, as minimal version selection would do.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .detect import Module, run_go
from .errors import UserError
from .report import DependencyChange
from .versions import module_version_key


@dataclass
class VendoredModule:
    path: str
    version: str
    replacement: str = ""  # "=> path [version]" as modules.txt spells it
    go: str | None = None  # the `## ...; go 1.N` annotation
    explicit: bool = False
    packages: list[str] = field(default_factory=list)
    source: Path | None = None  # where its packages' directories are (a dir per import path)
    from_user: bool = True

    def header(self) -> str:
        line = f"# {self.path} {self.version}".rstrip()
        return f"{line} {self.replacement}" if self.replacement else line


def vendor_mode(project_modules: Sequence[Module], vendor_dir: Path, mod_flag: str | None) -> bool:
    """Whether the plain go command builds from vendor/: -mod=vendor, or no -mod and a
    vendor/modules.txt with a main module at go 1.14 or newer (the go command's own default)."""
    if mod_flag is not None:
        return mod_flag == "vendor"
    if not (vendor_dir / "modules.txt").is_file():
        return False
    go = project_modules[0].go if project_modules else None
    return go is not None and module_version_key(f"v{go}") >= module_version_key("v1.14")


def read_modules_txt(path: Path) -> list[VendoredModule]:
    """The modules of a vendor/modules.txt, in order (the `## workspace` line is skipped)."""
    modules: list[VendoredModule] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            words = line[2:].split()
            arrow = words.index("=>") if "=>" in words else len(words)
            version = words[1] if arrow > 1 else ""
            modules.append(VendoredModule(words[0], version, " ".join(words[arrow:])))
        elif line.startswith("## ") and modules:
            for part in line[3:].split(";"):
                part = part.strip()
                if part == "explicit":
                    modules[-1].explicit = True
                elif part.startswith("go "):
                    modules[-1].go = part[3:].strip()
        elif line and not line.startswith("#") and modules:
            modules[-1].packages.append(line.strip())
    return modules


@dataclass
class HooksPackage:
    import_path: str
    module: str
    version: str
    go: str | None
    module_dir: Path


def hooks_dependencies(
    rules_dir: Path, hooks: Sequence[str], env: Mapping[str, str]
) -> list[HooksPackage]:
    """The non-standard packages the hooks packages build from, with their modules, as the rules
    module alone selects them (from the module cache)."""
    own = {**env, "GOWORK": "off", "GOFLAGS": "-mod=readonly"}
    proc = run_go(
        ["list", "-deps", "-json=ImportPath,Module,Standard", *hooks], rules_dir, own, check=False
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no output"])[0]
        raise UserError(
            f"The hooks' dependencies are not in the module cache, so they cannot be added to the "
            f"vendored build ({first}); run `go mod download` in {rules_dir} once."
        )
    found: list[HooksPackage] = []
    decoder, text, pos = json.JSONDecoder(), proc.stdout, 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return found
        raw, pos = decoder.raw_decode(text, pos)
        module = raw.get("Module") or {}
        if raw.get("Standard") or not module.get("Version") or not module.get("Dir"):
            continue  # the standard library, or the rules module itself (a workspace module)
        found.append(
            HooksPackage(
                raw["ImportPath"], module["Path"], module["Version"], module.get("GoVersion"),
                Path(module["Dir"]),
            )
        )  # fmt: skip


def merge(
    user: list[VendoredModule],
    user_vendor: Path,
    hooks: Iterable[HooksPackage],
    required: Mapping[str, set[str]],
) -> tuple[list[VendoredModule], list[DependencyChange]]:
    """The workspace's modules: the user's vendored ones, with the hooks' packages added, at the
    higher version of the two (the newer one from the module cache, reported as a change).
    `required` maps each module path to the versions the workspace's go.mod files require."""
    by_path = {m.path: m for m in user if m.version or m.replacement}
    for m in by_path.values():
        m.source = user_vendor
    changes: list[DependencyChange] = []
    for pkg in hooks:
        have = by_path.get(pkg.module)
        if have is None or (
            have.from_user and module_version_key(pkg.version) > module_version_key(have.version)
        ):
            if have is not None and have.packages:
                changes.append(DependencyChange(pkg.module, have.version, pkg.version))
            have = by_path[pkg.module] = VendoredModule(
                pkg.module, pkg.version, go=pkg.go, explicit=True, from_user=False,
                packages=list(have.packages) if have is not None else [],
                source=pkg.module_dir,
            )  # fmt: skip
        if pkg.import_path not in have.packages:
            have.packages.append(pkg.import_path)
    merged = sorted(by_path.values(), key=lambda m: m.path)
    for m in merged:
        m.explicit = m.explicit or bool(required.get(m.path))
    return merged, changes


def write_vendor(
    directory: Path, modules: Sequence[VendoredModule], required: Mapping[str, set[str]]
) -> None:
    """A workspace vendor directory: modules.txt, and a directory per package whose entries are
    symbolic links to the package's files (and to sub-directories that hold no other package,
    such as embedded assets)."""
    lines = ["## workspace"]
    # A requirement of a go.mod that no package is built from is listed all the same: the go
    # command checks that every explicit requirement appears.
    listed = {m.path for m in modules}
    bare = [VendoredModule(path, max(versions, key=module_version_key), explicit=True)
            for path, versions in required.items() if path not in listed]  # fmt: skip
    for m in sorted([*modules, *bare], key=lambda m: m.path):
        # Each other version a go.mod requires is listed, as `go work vendor` does.
        for version in sorted(required.get(m.path, set()) - {m.version}, key=module_version_key):
            lines += [f"# {m.path} {version}", "## explicit"]
        lines.append(m.header())
        notes = (["explicit"] if m.explicit else []) + ([f"go {m.go}"] if m.go else [])
        if notes:
            lines.append("## " + "; ".join(notes))
        lines += m.packages
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "modules.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Directories that hold (or are) another package: made, never linked.
    holders = {"/".join(p.split("/")[:i]) for m in modules for p in m.packages
               for i in range(1, p.count("/") + 2)}  # fmt: skip
    for m in modules:
        for pkg in m.packages:
            source = _package_source(m, pkg)
            if source is None or not source.is_dir():
                continue  # the go command names what is missing, as the plain build would
            target = directory / pkg
            target.mkdir(parents=True, exist_ok=True)
            for entry in os.scandir(source):
                _link_entry(entry, target / entry.name, f"{pkg}/{entry.name}" in holders)


# Sources the compiler reads through a link; other files are copied, since go:embed refuses links.
_LINKED_SUFFIXES = (".go", ".s", ".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".syso")


def _link_entry(entry: os.DirEntry[str], link: Path, holds_package: bool) -> None:
    if link.exists() or entry.name.startswith((".", "_")) or entry.name == "testdata":
        return
    if entry.is_dir():
        if not holds_package:
            link.symlink_to(entry.path)
    elif entry.name.endswith(_LINKED_SUFFIXES):
        link.symlink_to(entry.path)
    elif entry.is_file():
        shutil.copyfile(entry.path, link)


def _package_source(m: VendoredModule, pkg: str) -> Path | None:
    if m.source is None:
        return None
    if m.from_user:
        return m.source / pkg
    if pkg != m.path and not pkg.startswith(m.path + "/"):
        return None
    return m.source / pkg[len(m.path) :].lstrip("/")


def required_versions(gomods: Iterable[Path], env: Mapping[str, str]) -> dict[str, set[str]]:
    """Module path -> the versions the given go.mod files require."""
    required: dict[str, set[str]] = {}
    for gomod in gomods:
        data = json.loads(run_go(["mod", "edit", "-json", str(gomod)], gomod.parent, env).stdout)
        for req in data.get("Require") or []:
            required.setdefault(req["Path"], set()).add(req["Version"])
    return required
