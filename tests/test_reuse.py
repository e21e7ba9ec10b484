"""A rerun reuses the previous run's package lists, parsed files and rule sets (reuse.py) only
while what they were computed from is unchanged: the go command is asked again after an import,
a new file, a new package under ./..., or a replaced module's go.mod changes; never after a
function body does; and an entry this user's runs did not sign is never used.

The go command on PATH is the real one behind a shim that writes down each invocation."""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CLI, MODULES, only_user_rules, run_ok

from otel_go_autoinst import cache, reuse
from otel_go_autoinst.reuse import go_header

MAIN = """package main

import (
	"fmt"
	"net/http"
)

func main() {
	fmt.Println(http.StatusOK)
}
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    module = tmp_path / "svc"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/svc\n\ngo 1.23\n", encoding="utf-8")
    (module / "main.go").write_text(MAIN, encoding="utf-8")
    shim_dir, log = tmp_path / "bin", tmp_path / "go-calls.log"
    shim_dir.mkdir()
    real_go = shutil.which("go")
    assert real_go is not None
    shim = shim_dir / "go"
    shim.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real_go} "$@"\n', encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {
        **os.environ,
        "PATH": f"{shim_dir}{os.pathsep}{os.environ['PATH']}",
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
    }
    return module, env, log


def _plan(module: Path, env: dict[str, str], log: Path, *patterns: str) -> tuple[str, list[str]]:
    """The plan's output and the `go list` invocations the run made."""
    log.write_text("", encoding="utf-8")
    out = run_ok([*CLI, "plan", "-C", str(module), *patterns], module, env).stdout
    calls = log.read_text(encoding="utf-8").splitlines()
    return out, [c for c in calls if c.startswith("list")]


def test_a_rerun_lists_nothing_until_an_import_changes(
    setup: tuple[Path, dict[str, str], Path],
) -> None:
    module, env, log = setup
    first, listed = _plan(module, env, log)
    assert listed, "the first run asks the go command"
    assert "net/http.(*Transport).RoundTrip" in first

    again, listed = _plan(module, env, log)
    assert listed == [] and again == first

    body = MAIN.replace("fmt.Println(http.StatusOK)", "fmt.Println(http.StatusOK + 1)")
    (module / "main.go").write_text(body, encoding="utf-8")
    _, listed = _plan(module, env, log)
    assert listed == [], "a function body is not what go list reads"

    (module / "main.go").write_text(
        body.replace('"fmt"', '"database/sql"\n\t"fmt"').replace(
            "func main() {", "var _ = sql.Open\n\nfunc main() {"
        ),
        encoding="utf-8",
    )
    with_sql, listed = _plan(module, env, log)
    assert listed, "a new import is"
    assert "database/sql.Open" in with_sql and "database/sql.Open" not in first


def test_a_new_file_or_package_is_seen(setup: tuple[Path, dict[str, str], Path]) -> None:
    module, env, log = setup
    _plan(module, env, log, "./...")
    _, listed = _plan(module, env, log, "./...")
    assert listed == []

    (module / "tool").mkdir()
    (module / "tool" / "main.go").write_text(
        'package main\n\nimport "log/slog"\n\nfunc main() { slog.Info("x") }\n', encoding="utf-8"
    )
    out, listed = _plan(module, env, log, "./...")
    assert listed and "log/slog" in out

    (module / "extra.go").write_text(
        'package main\n\nimport "os/exec"\n\nvar _ = exec.Command\n', encoding="utf-8"
    )
    _, listed = _plan(module, env, log, "./...")
    assert listed, "a new file in a known package"


def test_a_replaced_modules_requirements_are_checked(
    setup: tuple[Path, dict[str, str], Path],
) -> None:
    module, env, log = setup
    lib = module.parent / "lib"
    lib.mkdir()
    (lib / "go.mod").write_text("module example.com/lib\n\ngo 1.23\n", encoding="utf-8")
    (lib / "lib.go").write_text("package lib\n\nfunc X() int { return 1 }\n", encoding="utf-8")
    (module / "go.mod").write_text(
        "module example.com/svc\n\ngo 1.23\n\nrequire example.com/lib v0.0.0\n\n"
        "replace example.com/lib => ../lib\n",
        encoding="utf-8",
    )
    (module / "main.go").write_text(
        MAIN.replace('"fmt"', '"example.com/lib"\n\t"fmt"').replace(
            "StatusOK", "StatusOK, lib.X()"
        ),
        encoding="utf-8",
    )
    _plan(module, env, log)
    _, listed = _plan(module, env, log)
    assert listed == []
    (lib / "go.mod").write_text("module example.com/lib\n\ngo 1.23.1\n", encoding="utf-8")
    _, listed = _plan(module, env, log)
    assert listed


def test_entries_not_signed_by_this_user_are_not_used(
    setup: tuple[Path, dict[str, str], Path],
) -> None:
    module, env, log = setup
    first, _ = _plan(module, env, log)
    cache = Path(env["XDG_CACHE_HOME"]) / "otel-go-autoinst"
    entries = [
        p for kind in ("lists", "parsed", "words", "rules") for p in (cache / kind).iterdir()
    ]
    assert {p.parent.name for p in entries} == {"lists", "parsed", "words", "rules"}
    for entry in entries:  # same shape, another payload: the MAC no longer matches
        data = bytearray(entry.read_bytes())
        data[-1] ^= 0xFF
        entry.write_bytes(bytes(data))
    again, listed = _plan(module, env, log)
    assert listed and again == first

    (cache / "secret").unlink()  # a new secret: every entry signed under the old one is void
    _, listed = _plan(module, env, log)
    assert listed


@pytest.mark.parametrize(
    ("source", "header"),
    [
        ('package a\n\nimport "fmt"\n\nfunc F() {}\n', 'package a\n\nimport "fmt"\n\n'),
        ("//go:build linux\n\npackage a\nvar x = 1\n", "//go:build linux\n\npackage a\n"),
        # "func" inside a comment or a string before the first declaration does not end it
        (
            '/* func\nfunc */ package a\nimport "x/func"\ntype T int\n',
            '/* func\nfunc */ package a\nimport "x/func"\n',
        ),
        (
            "package a\n// const\nimport (\n\t`y`\n)\nconst c = 1\n",
            "package a\n// const\nimport (\n\t`y`\n)\n",
        ),
        ("package a\n", "package a\n"),
    ],
)
def test_the_header_is_what_go_list_reads(source: str, header: str) -> None:
    assert go_header(source.encode()) == header.encode()


class _Calls:
    """A payload that names a function to call when it is unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, ...]]:
        return (os.mkdir, (str(self.marker),))


def test_a_signed_entry_that_names_a_function_is_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    marker = tmp_path / "called"
    key = "k" * 64
    cache.store_signed("parsed", "slot", key, pickle.dumps(_Calls(marker)))
    assert cache.load_signed("parsed", "slot", key) is not None  # signed with this user's secret
    assert reuse._recall("parsed", "slot", key) is None
    assert not marker.exists()
    cache.store_signed("parsed", "slot", key, pickle.dumps({"plain": [Path("/x")]}))
    assert reuse._recall("parsed", "slot", key) == {"plain": [Path("/x")]}


def test_a_cleaned_module_cache_is_seen(setup: tuple[Path, dict[str, str], Path]) -> None:
    """The plan reads files in the module cache: after `go clean -modcache` they are gone, and
    the kept list, which names them, is not used."""
    _, env, log = setup
    module = log.parent / "depstd"
    shutil.copytree(MODULES / "depstd", module)
    downloads = Path(
        subprocess.run(
            ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    env = {
        **env,
        "GOMODCACHE": str(log.parent / "modcache"),
        "GOPROXY": f"file://{downloads / 'cache' / 'download'}",
        "GOFLAGS": "-modcacherw",
    }
    rules = ["--rules", str(module / "rules.yaml"), *only_user_rules(), "./use"]
    first, listed = _plan(module, env, log, *rules)
    assert listed and "github.com/google/uuid" in first
    _, listed = _plan(module, env, log, *rules)
    assert listed == []
    run_ok(["go", "clean", "-modcache"], module, env)
    again, listed = _plan(module, env, log, *rules)
    assert listed and again == first


def test_a_go_env_w_setting_is_seen(setup: tuple[Path, dict[str, str], Path]) -> None:
    """Settings written with `go env -w` live in a file, not in the environment."""
    module, env, log = setup
    env = {**env, "GOENV": str(log.parent / "go.env")}
    _plan(module, env, log)
    _, listed = _plan(module, env, log)
    assert listed == []
    run_ok(["go", "env", "-w", "CGO_ENABLED=0"], module, env)
    _, listed = _plan(module, env, log)
    assert listed
