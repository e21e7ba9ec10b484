"""The cached copy of a dependency module is checked against go.sum before every use.

A dependency module with targets is built from a copy under $XDG_CACHE_HOME/otel-go-autoinst/
modules (the go command refuses overlays of module-cache files). `go mod verify` checks the module
cache, not that copy: so the tool hashes the copy as Go does (dirhash h1:) before each build, and a
copy that does not match is made again. The end-to-end tests tamper with the copy of
github.com/google/uuid that depstd's test binary is built from (tests/data/modules/depstd).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CLI, MODULES, only_user_rules

from otel_go_autoinst import cache
from otel_go_autoinst.errors import UserError

TIMEOUT = 300
UUID, UUID_VERSION = "github.com/google/uuid", "v1.6.0"
DEP_OK = "DEP-OK hooked:6ba7b810-9dad-11d1-80b4-00c04fd430c8"
# depstd's go.sum line for the module tree.
UUID_H1 = "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="
# Go code that makes itself seen if it gets into the test binary.
TAMPERED_INIT = """
func init() {
	if path := os.Getenv("DEPSTD_MARKER"); path != "" {
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		f.WriteString("TAMPERED\\n")
		f.Close()
	}
	os.Stdout.WriteString("TAMPERED\\n")
}
"""


def _go_env(name: str, env: dict[str, str] | None = None) -> Path:
    out = subprocess.run(
        ["go", "env", name], capture_output=True, text=True, check=True, env=env
    ).stdout
    return Path(out.strip())


def _module_cache_dir() -> Path:
    return _go_env("GOMODCACHE") / f"{UUID}@{UUID_VERSION}"


@pytest.fixture
def depstd(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of depstd and an environment with a cache of our own (Go's build cache kept)."""
    module = tmp_path / "depstd"
    shutil.copytree(MODULES / "depstd", module)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "GOCACHE": str(_go_env("GOCACHE")),
        "DEPSTD_MARKER": str(tmp_path / "marker.txt"),
    }
    return module, env


def _test(module: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    marker = Path(env["DEPSTD_MARKER"])
    marker.unlink(missing_ok=True)
    proc = subprocess.run(
        [*CLI, "test", "-C", str(module), "--rules", str(module / "rules.yaml"),
         *only_user_rules(), "-count=1", "-v", "-run", "TestDependencyHooked", "./use"],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    marks = marker.read_text(encoding="utf-8").splitlines() if marker.exists() else []
    return proc, marks


def _copy(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "otel-go-autoinst" / "modules" / f"{UUID}@{UUID_VERSION}"


def _writable(directory: Path) -> None:
    directory.chmod(0o755)  # copies keep the module cache's read-only modes


def _same_tree(a: Path, b: Path) -> bool:
    files = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    return files == {p.relative_to(b) for p in b.rglob("*") if p.is_file()} and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files
    )


def _tamper_and_rebuild(module: Path, env: dict[str, str], tamper) -> None:  # type: ignore[no-untyped-def]
    proc, marks = _test(module, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marks == [DEP_OK]
    copy = _copy(env)
    assert cache.dirhash_h1(copy, f"{UUID}@{UUID_VERSION}") == UUID_H1
    # Its directories are ours to write (the module cache's are read-only, and a read-only
    # directory cannot be moved into place by a user other than root).
    assert all(d.stat().st_mode & stat.S_IWUSR for d in [copy, *copy.rglob("*")] if d.is_dir())

    _writable(copy)
    tamper(copy)

    proc, marks = _test(module, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TAMPERED" not in proc.stdout + proc.stderr
    assert marks == [DEP_OK]  # the hooks still fire, and the tampered init never ran
    # The copy was made again: it is the module again, file for file.
    assert _same_tree(copy, _module_cache_dir())
    assert cache.dirhash_h1(copy, f"{UUID}@{UUID_VERSION}") == UUID_H1


def test_a_file_added_to_the_cached_copy_is_not_built(
    depstd: tuple[Path, dict[str, str]],
) -> None:
    def add(copy: Path) -> None:
        (copy / "zz_added.go").write_text('package uuid\n\nimport "os"\n' + TAMPERED_INIT)

    _tamper_and_rebuild(*depstd, add)


def test_a_file_edited_in_the_cached_copy_is_not_built(
    depstd: tuple[Path, dict[str, str]],
) -> None:
    def edit(copy: Path) -> None:
        # version4.go has no target, so nothing overlays it: the copy's file is what Go compiles.
        path = copy / "version4.go"
        text = path.read_text(encoding="utf-8")
        assert 'import "io"' in text
        path.chmod(0o644)
        path.write_text(text.replace('import "io"', 'import (\n\t"io"\n\t"os"\n)') + TAMPERED_INIT)

    _tamper_and_rebuild(*depstd, edit)


def test_a_cached_copy_replaced_by_a_symlink_is_made_again(
    depstd: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A copy swapped for a link to another tree (with the same files plus one) is not followed."""

    def swap(copy: Path) -> None:
        elsewhere = tmp_path / "elsewhere"
        shutil.copytree(copy, elsewhere)
        _writable(elsewhere)
        (elsewhere / "zz_added.go").write_text('package uuid\n\nimport "os"\n' + TAMPERED_INIT)
        cache._remove_tree(copy)
        copy.symlink_to(elsewhere, target_is_directory=True)

    module, env = depstd
    proc, _ = _test(module, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    copy = _copy(env)
    swap(copy)
    proc, marks = _test(module, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marks == [DEP_OK]
    assert not copy.is_symlink() and _same_tree(copy, _module_cache_dir())
    assert (tmp_path / "elsewhere" / "zz_added.go").exists()  # what it pointed to is left alone


def test_a_module_cache_that_does_not_match_go_sum_is_refused(
    depstd: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A module cache of our own (filled offline from the real one's downloads), whose extracted
    uuid gains a file after download: `go mod verify` fails, and so does the tool, in one sentence,
    before building anything."""
    module, env = depstd
    modcache = tmp_path / "modcache"
    env = {
        **env,
        "GOMODCACHE": str(modcache),
        "GOFLAGS": "-modcacherw",
        "GOPROXY": (_go_env("GOMODCACHE") / "cache" / "download").as_uri(),
        "GOSUMDB": "off",
    }
    subprocess.run(
        ["go", "mod", "download", UUID], cwd=module, env=env, check=True, timeout=TIMEOUT
    )
    extracted = modcache / f"{UUID}@{UUID_VERSION}"
    (extracted / "zz_added.go").write_text('package uuid\n\nimport "os"\n' + TAMPERED_INIT)
    verify = subprocess.run(
        ["go", "mod", "verify"], cwd=module, env=env, capture_output=True, text=True
    )
    assert verify.returncode != 0  # the go command agrees this module cache is damaged

    proc, marks = _test(module, env)
    assert proc.returncode != 0
    assert "TAMPERED" not in proc.stdout and not marks
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{UUID}@{UUID_VERSION}" in lines[0] and "go mod verify" in lines[0]
    assert "go clean -modcache" in lines[0]
    assert not _copy(env).exists()
    subprocess.run(["go", "clean", "-modcache"], env=env, check=True, timeout=TIMEOUT)


# -- the hash itself -----------------------------------------------------------------------------


def test_dirhash_is_gos_h1() -> None:
    """The h1: hash of the real module cache tree is the one go.sum and the go command's own
    download record (.ziphash) give."""
    gomodcache = _go_env("GOMODCACHE")
    assert cache.dirhash_h1(_module_cache_dir(), f"{UUID}@{UUID_VERSION}") == UUID_H1
    assert cache.downloaded_hash(gomodcache, UUID, UUID_VERSION) == UUID_H1
    assert cache.go_sum_hashes(UUID, UUID_VERSION, [MODULES / "depstd" / "go.sum"]) == {UUID_H1}
    # The names are part of the hash: another prefix, another hash.
    assert cache.dirhash_h1(_module_cache_dir(), f"{UUID}@v1.6.1") != UUID_H1


def test_expected_hash_falls_back_to_the_download_record(tmp_path: Path) -> None:
    gomodcache = _go_env("GOMODCACHE")
    assert cache.expected_hashes(UUID, UUID_VERSION, _module_cache_dir(), gomodcache, []) == {
        UUID_H1
    }
    # Neither go.sum nor a download record: the module cache's own tree.
    tree = tmp_path / "tree"
    shutil.copytree(_module_cache_dir(), tree)
    assert cache.expected_hashes(UUID, UUID_VERSION, tree, tmp_path / "none", []) == {UUID_H1}


def test_module_paths_are_escaped_as_in_the_module_cache() -> None:
    assert cache.escape_module_path("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"
    assert cache.escape_module_path("v1.0.0-RC1") == "v1.0.0-!r!c1"
    assert cache.copy_name("github.com/DataDog/x", "v1.0.0") == "github.com/!data!dog/x@v1.0.0"


def test_a_tree_with_a_symlink_matches_nothing(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.go").write_text("package a\n")
    assert cache.dirhash_h1(tree, "m@v1.0.0") is not None
    (tree / "b.go").symlink_to(tree / "a.go")
    assert cache.dirhash_h1(tree, "m@v1.0.0") is None


def test_a_source_that_does_not_match_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(_module_cache_dir(), source)
    _writable(source)
    (source / "zz_added.go").write_text("package uuid\n")
    copy = tmp_path / "copies" / "uuid@v1.6.0"
    with pytest.raises(UserError, match="go mod verify"):
        cache.verified_copy(source, copy, UUID, UUID_VERSION, {UUID_H1})
    assert not copy.exists()
    assert [p.name for p in copy.parent.iterdir()] == []  # no staging left behind


def test_replace_directives_are_found(tmp_path: Path) -> None:
    """A module the user replaces is replaced by its copy at every version (use_module_copies):
    a line pinned to the replacement's version would not match the selected one and be ignored."""
    go_mod = tmp_path / "go.mod"
    go_mod.write_text(
        "module example.com/m\n\nrequire github.com/google/uuid v1.6.0\n\n"
        "replace github.com/google/uuid => example.com/fork v1.5.0 // a fork\n"
        "replace (\n\tgolang.org/x/net v0.1.0 => ../net\n\t// example.com/commented => ../c\n)\n"
        "// replace example.com/not => ../x\n",
        encoding="utf-8",
    )
    assert cache.replaced_modules([go_mod, tmp_path / "absent"]) == {
        "github.com/google/uuid", "golang.org/x/net",
    }  # fmt: skip
