"""Release artifacts: one instrumented binary per GOOS/GOARCH target, plus a SHA256SUMS file.

For every main package and every target this runs the engine (`otel-go-autoinst build`) with
`GOOS`/`GOARCH` in its environment and `-o <output_dir>/<name>-<goos>-<goarch>[.exe]`, then writes
`SHA256SUMS` in `sha256sum` format (`<hex>  <file name>`), so that `sha256sum -c SHA256SUMS` run
in `output_dir` checks every binary.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_go_autoinst.errors import UserError
from otel_go_autoinst.report import Binary, Report

CHECKSUMS_FILE = "SHA256SUMS"

_TARGET_RE = re.compile(r"^([a-z0-9]+)/([a-z0-9]+)$")
_MAJOR_SUFFIX_RE = re.compile(r"^v[0-9]+$")


@dataclass(frozen=True)
class Target:
    goos: str
    goarch: str

    def __str__(self) -> str:
        return f"{self.goos}/{self.goarch}"


@dataclass
class ReleaseResult:
    binaries: list[Binary]
    checksums: Path
    reports: list[Report]
    failed: list[str]


def engine_command() -> list[str]:
    """How to run the engine CLI: the console script when installed, else through Python."""
    script = Path(sys.executable).with_name("otel-go-autoinst")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; from otel_go_autoinst.cli import main; sys.exit(main(sys.argv[1:]))",
    ]


def parse_targets(spec: str) -> list[Target]:
    """Parse `linux/amd64, darwin/arm64` (commas, spaces or new lines between targets)."""
    targets: list[Target] = []
    for item in re.split(r"[\s,]+", spec.strip()):
        if not item:
            continue
        match = _TARGET_RE.match(item.lower())
        if not match:
            raise UserError(
                f"Target {item!r} is not of the form GOOS/GOARCH (for example linux/amd64)."
            )
        target = Target(match.group(1), match.group(2))
        if target not in targets:
            targets.append(target)
    return targets


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def check_targets(
    targets: Sequence[Target], *, env: Mapping[str, str], run: Runner = subprocess.run
) -> None:
    """Reject targets the Go toolchain does not know, with one clear sentence."""
    proc = run(["go", "tool", "dist", "list"], capture_output=True, text=True, env=dict(env))
    if proc.returncode != 0:
        return  # let the build say what is wrong
    known = set(proc.stdout.split())
    unknown = [str(t) for t in targets if str(t) not in known]
    if unknown:
        raise UserError(
            f"Go cannot build for {', '.join(unknown)}; `go tool dist list` shows the valid "
            "GOOS/GOARCH pairs."
        )


def binary_name(import_path: str) -> str:
    """The name `go build` gives a main package: its last path element, skipping a /vN suffix."""
    parts = [p for p in import_path.split("/") if p]
    if len(parts) > 1 and _MAJOR_SUFFIX_RE.match(parts[-1]):
        parts = parts[:-1]
    return parts[-1] if parts else "app"


def main_packages(
    workdir: Path, packages: Sequence[str], *, env: Mapping[str, str], run: Runner = subprocess.run
) -> list[str]:
    """Import paths of the main packages among `packages` (default `./...`)."""
    proc = run(
        ["go", "list", "-e", "-f", "{{.Name}} {{.ImportPath}}", *(packages or ["./..."])],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=dict(env),
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["go list failed"])[-1]
        raise UserError(f"Cannot list the packages to release in {workdir}: {detail}")
    mains = []
    for line in proc.stdout.splitlines():
        name, _, import_path = line.partition(" ")
        if name == "main" and import_path:
            mains.append(import_path)
    if not mains:
        wanted = " ".join(packages) if packages else "./..."
        raise UserError(
            f"No main package among {wanted} in {workdir}; release builds need a command "
            "(set `packages` to the main package)."
        )
    return mains


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksums(binaries: Sequence[Path], output_dir: Path) -> Path:
    """Write `SHA256SUMS` (sha256sum text format, names relative to output_dir)."""
    lines = []
    for path in sorted(binaries, key=lambda p: p.name):
        rel = path.resolve().relative_to(output_dir.resolve()).as_posix()
        lines.append(f"{sha256_file(path)}  {rel}\n")
    checksums = output_dir / CHECKSUMS_FILE
    checksums.write_text("".join(lines), encoding="utf-8")
    return checksums


def build_release(
    *,
    workdir: Path,
    targets: Sequence[Target],
    output_dir: Path,
    packages: Sequence[str] = (),
    rules: Sequence[Path] = (),
    disable: Sequence[str] = (),
    build_flags: Sequence[str] = (),
    engine: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    display_root: Path | None = None,
    log: Callable[[str], None] = print,
    stage: Path | None = None,
    run: Runner | None = None,
) -> ReleaseResult:
    """Build every main package for every target into output_dir and write SHA256SUMS.

    Binary paths in the result are relative to `display_root` (the workspace) when given.
    A target whose build fails is listed in `failed`; the others are still built.
    `run` runs the engine (the Action's unprivileged sandbox), which then writes the binaries
    into `stage` (a folder it may write); they are copied into output_dir from there.
    """
    if not targets:
        raise UserError("No release targets given (for example `targets: linux/amd64`).")
    base_env = dict(env if env is not None else os.environ)
    engine = list(engine or engine_command())
    workdir = workdir.resolve()
    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    runner: Runner = run or subprocess.run
    check_targets(targets, env=base_env, run=runner)
    mains = main_packages(workdir, packages, env=base_env, run=runner)
    names = {pkg: binary_name(pkg) for pkg in mains}
    if len(set(names.values())) != len(names):
        raise UserError(
            "Several main packages share one name ("
            + ", ".join(sorted(mains))
            + "); release builds need distinct names, so set `packages` to one of them."
        )

    built: list[Path] = []
    binaries: list[Binary] = []
    reports: list[Report] = []
    failed: list[str] = []
    folder = (
        contextlib.nullcontext(str(stage))
        if stage is not None
        else tempfile.TemporaryDirectory(prefix="otel-go-autoinst-release-")
    )
    with folder as tmp:
        for target in targets:
            target_env = {**base_env, "GOOS": target.goos, "GOARCH": target.goarch}
            target_env.setdefault("CGO_ENABLED", "0")
            for pkg in mains:
                exe = ".exe" if target.goos == "windows" else ""
                final = output_dir / f"{names[pkg]}-{target.goos}-{target.goarch}{exe}"
                out = Path(tmp) / final.name if stage is not None else final
                report_file = Path(tmp) / f"{names[pkg]}-{target.goos}-{target.goarch}.json"
                cmd = [*engine, "build", "-C", str(workdir)]
                for rule in rules:
                    cmd += ["--rules", str(rule)]
                for name in disable:
                    cmd += ["--disable", name]
                cmd += ["--report", str(report_file), *build_flags, "-o", str(out), pkg]
                log(f"Building {pkg} for {target} -> {final.name}")
                sys.stdout.flush()
                proc = runner(cmd, cwd=workdir, env=target_env, text=True)
                if proc.returncode != 0 or not out.is_file():
                    failed.append(f"{pkg} for {target}")
                    log(f"Build of {pkg} for {target} failed (exit {proc.returncode}).")
                    continue
                if report_file.is_file():
                    try:
                        reports.append(Report.read(report_file))
                    except (OSError, ValueError, KeyError, TypeError):
                        log(f"The engine's report for {target} could not be read; ignored.")
                if out != final:
                    shutil.copyfile(out, final)
                    final.chmod(0o755)
                    out = final
                built.append(out)
                shown = out
                if display_root is not None:
                    try:
                        shown = out.relative_to(display_root.resolve())
                    except ValueError:
                        pass
                binaries.append(
                    Binary(
                        path=shown.as_posix(),
                        goos=target.goos,
                        goarch=target.goarch,
                        sha256=sha256_file(out),
                    )
                )
    checksums = write_checksums(built, output_dir)
    return ReleaseResult(binaries=binaries, checksums=checksums, reports=reports, failed=failed)


def binaries_json(binaries: Sequence[Binary]) -> str:
    """The `binaries` output: a JSON list of paths."""
    return json.dumps([b.path for b in binaries])
