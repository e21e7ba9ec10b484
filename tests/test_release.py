"""Release builds: instrumented binaries for two targets, runnable, with a correct SHA256SUMS.

These run the real engine (`otel-go-autoinst build`) and the real Go toolchain.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from otel_go_autoinst.errors import UserError
from otel_go_autoinst.publish.release import (
    CHECKSUMS_FILE,
    Target,
    binary_name,
    build_release,
    parse_targets,
    write_checksums,
)

HELLO = Path(__file__).parent / "data" / "action" / "hello"


def test_parse_targets() -> None:
    assert parse_targets("linux/amd64, darwin/arm64\nwindows/amd64 linux/amd64") == [
        Target("linux", "amd64"),
        Target("darwin", "arm64"),
        Target("windows", "amd64"),
    ]
    assert parse_targets("  ") == []
    for bad in ("linux", "linux-amd64", "linux/amd64/v3", "../x"):
        with pytest.raises(UserError, match="GOOS/GOARCH"):
            parse_targets(bad)


def test_binary_name() -> None:
    assert binary_name("example.com/hello/cmd/hello") == "hello"
    assert binary_name("example.com/tool/v2") == "tool"
    assert binary_name("hello") == "hello"


def test_checksums_format(tmp_path: Path) -> None:
    a = tmp_path / "a-linux-amd64"
    b = tmp_path / "b-windows-amd64.exe"
    a.write_bytes(b"alpha")
    b.write_bytes(b"beta")
    sums = write_checksums([b, a], tmp_path)
    assert sums.read_text() == (
        f"{hashlib.sha256(b'alpha').hexdigest()}  a-linux-amd64\n"
        f"{hashlib.sha256(b'beta').hexdigest()}  b-windows-amd64.exe\n"
    )
    assert subprocess.run(["sha256sum", "-c", CHECKSUMS_FILE], cwd=tmp_path).returncode == 0


def test_unknown_target_is_one_sentence(tmp_path: Path) -> None:
    module = tmp_path / "hello"
    shutil.copytree(HELLO, module)
    with pytest.raises(UserError, match="Go cannot build for plan9/sparc64"):
        build_release(
            workdir=module, targets=[Target("plan9", "sparc64")], output_dir=tmp_path / "out"
        )


def test_no_main_package(tmp_path: Path) -> None:
    module = tmp_path / "hello"
    shutil.copytree(HELLO, module)
    with pytest.raises(UserError, match="No main package"):
        build_release(
            workdir=module,
            targets=[Target("linux", "amd64")],
            output_dir=tmp_path / "out",
            packages=["."],
        )


def test_two_targets_runnable_with_checksums(tmp_path: Path) -> None:
    module = tmp_path / "src" / "hello"
    shutil.copytree(HELLO, module)
    out = tmp_path / "dist"
    logs: list[str] = []
    result = build_release(
        workdir=module,
        targets=parse_targets("linux/amd64 linux/386"),
        output_dir=out,
        display_root=tmp_path,
        log=logs.append,
    )
    assert result.failed == []
    assert [b.path for b in result.binaries] == [
        "dist/hello-linux-amd64",
        "dist/hello-linux-386",
    ]
    for binary in result.binaries:
        path = tmp_path / binary.path
        assert binary.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        # ELF class: 64-bit for amd64, 32-bit for 386
        header = path.read_bytes()[:5]
        assert header[:4] == b"\x7fELF"
        assert header[4] == (2 if binary.goarch == "amd64" else 1)
        # runnable (the 386 binary runs on an amd64 Linux kernel), with the SDK switched off
        env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
        proc = subprocess.run([str(path)], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "hello, release"
    # the engine instrumented each target build
    assert len(result.reports) == 2
    assert all(r.instrumented for r in result.reports)
    # SHA256SUMS verifies with coreutils
    assert result.checksums == out / CHECKSUMS_FILE
    lines = result.checksums.read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in lines) == ["hello-linux-386", "hello-linux-amd64"]
    check = subprocess.run(["sha256sum", "-c", CHECKSUMS_FILE], cwd=out, capture_output=True)
    assert check.returncode == 0, check.stdout
    # the module's sources were not touched
    assert sorted(p.name for p in module.rglob("*") if p.is_file()) == sorted(
        p.name for p in HELLO.rglob("*") if p.is_file()
    )
