"""The tool's cache does not grow for ever: an entry unused for five days is removed, at most once
a day, as Go trims its build cache; using an entry keeps it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cli_helpers import CLI, run_ok

from otel_go_autoinst import cache

DAY = 24 * 3600


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "otel-go-autoinst"


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _module_copy(root: Path, name: str) -> Path:
    copy = root / "modules" / name
    (copy / "sub").mkdir(parents=True)
    (copy / "sub" / "a.go").write_text("package sub\n")
    (copy / "sub").chmod(0o555)  # as the module cache makes them
    return copy


def test_entries_unused_for_five_days_go_the_rest_stays(root: Path) -> None:
    cache.store_signed("parsed", "old", "k-old", b"old")
    cache.store_signed("parsed", "new", "k-new", b"new")
    cache.store_verdicts("oldverdicts", {("p", "f"): [True]})
    old_copy, new_copy = _module_copy(root, "a@v1"), _module_copy(root, "b@v1")
    for path in (root / "parsed" / "old", root / "verdicts" / "oldverdicts.json", old_copy):
        _age(path, 6 * DAY)
    _age(root / "parsed" / "new", 4 * DAY)
    _age(new_copy, 4 * DAY)

    cache.trim()

    assert sorted(p.name for p in (root / "parsed").iterdir()) == ["new"]
    assert not (root / "verdicts" / "oldverdicts.json").exists()
    assert sorted(p.name for p in (root / "modules").iterdir()) == ["b@v1"]
    assert (root / "secret").is_file(), "the per-user secret is never trimmed"
    assert cache.load_signed("parsed", "new", "k-new") == b"new"


def test_trimmed_at_most_once_a_day(root: Path) -> None:
    cache.store_signed("lists", "first", "k", b"x")
    cache.trim()  # the day's trim: nothing old yet
    cache.store_signed("lists", "stale", "k", b"x")
    _age(root / "lists" / "stale", 6 * DAY)
    cache.trim()
    assert (root / "lists" / "stale").exists(), "a second trim the same day walked the cache"
    cache.trim(now=time.time() + DAY + 60)
    assert not (root / "lists" / "stale").exists()


def test_an_entry_in_use_is_kept(root: Path) -> None:
    """A read refreshes the entry's time (at most hourly), so an old but used entry survives."""
    cache.store_signed("lists", "used", "k", b"payload")
    cache.store_verdicts("usedverdicts", {("p", "f"): [False]})
    for path in (root / "lists" / "used", root / "verdicts" / "usedverdicts.json"):
        _age(path, 6 * DAY)
    assert cache.load_signed("lists", "used", "k") == b"payload"
    assert cache.load_verdicts("usedverdicts") == {("p", "f"): [False]}
    cache.trim()
    assert (root / "lists" / "used").exists()
    assert (root / "verdicts" / "usedverdicts.json").exists()


def test_a_verified_module_copy_is_kept(root: Path, tmp_path: Path) -> None:
    """A copy gets fresh times when made (copytree gives it the module cache's) and when used."""
    source = tmp_path / "src"
    (source / "p").mkdir(parents=True)
    (source / "p" / "p.go").write_text("package p\n")
    _age(source, 30 * DAY)  # a module downloaded long ago
    h1 = cache.dirhash_h1(source, "example.com/m@v1.0.0")
    assert h1 is not None
    copy = root / "modules" / "example.com" / "m@v1.0.0"
    made = cache.verified_copy(source, copy, "example.com/m", "v1.0.0", {h1})
    assert time.time() - made.stat().st_mtime < 60
    _age(copy, 6 * DAY)
    cache.verified_copy(source, copy, "example.com/m", "v1.0.0", {h1})
    assert time.time() - copy.stat().st_mtime < 60


def test_a_run_trims_the_cache(tmp_path: Path) -> None:
    """The CLI trims after its work: a stale entry left by some old run is gone, this run's stay."""
    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.23\n")
    (module / "main.go").write_text(
        'package main\n\nimport "net/http"\n\nfunc main() { http.ListenAndServe(":0", nil) }\n'
    )
    root = tmp_path / "xdg" / "otel-go-autoinst"
    (root / "parsed").mkdir(parents=True)
    stale = root / "parsed" / "stale"
    stale.write_bytes(b"left by an old run")
    _age(stale, 6 * DAY)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    run_ok([*CLI, "plan", "-C", str(module)], module, env)
    assert not stale.exists()
    assert any((root / "parsed").iterdir()), "the run's own entries were trimmed"
    assert (root / "trim.txt").is_file()
