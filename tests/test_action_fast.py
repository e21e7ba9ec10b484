"""The Action on every push (issue 11, part 2): a cgo module builds in the sandbox, Go's caches
are carried across runs in `cache_dir` (as the documented actions/cache step does), and the
release workflow points the released action.yml at the published image's digest. Real entrypoint,
real Go builds."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import test_action as base
import yaml
from test_action import DATA, ROOT, git, make_checkout, run_action

from entrypoint.sandbox import _chown_tree, _remove
from otel_go_autoinst.report import Report

build_user = base.build_user
tmp_path = base.tmp_path


def test_cgo_module_builds_and_tests_instrumented(tmp_path: Path) -> None:
    co = make_checkout(tmp_path, DATA / "cgodrv")
    run = run_action(
        tmp_path,
        co.workspace,
        inputs={"working_directory": co.module, "go_test_flags": "-count=1"},
        event_name="push",
        extra_env={"CGO_ENABLED": "1"},
    )
    assert run.code == 0, run.log[-5000:]
    report = Report.read(co.workspace / run.outputs["report"])
    assert report.build is not None and report.build.status == "passed"
    assert report.test is not None and report.test.status == "passed"
    assert any(f.package == "database/sql" for f in report.instrumented)
    assert co.status() == ""


def test_cache_dir_is_carried_to_the_next_run(tmp_path: Path) -> None:
    """Run 1 fills `cache_dir` inside the checkout; run 2, on a fresh checkout with one changed
    file and the folder restored (what actions/cache does), reuses Go's build and test cache."""
    first = make_checkout(tmp_path / "one", DATA / "hello")
    cache = first.workspace / ".otel-go-autoinst-cache"
    inputs = {"working_directory": first.module, "cache_dir": ".otel-go-autoinst-cache"}
    run1 = run_action(tmp_path / "one", first.workspace, inputs=inputs, event_name="push")
    assert run1.code == 0, run1.log[-4000:]
    assert first.status() == ""  # the cache folder ignores itself
    assert (cache / "go-build").is_dir() and (cache / "go-mod").is_dir()
    owner = first.workspace.stat()
    assert (cache.stat().st_uid, cache.stat().st_gid) == (owner.st_uid, owner.st_gid)

    # a new job: the same workspace path (as /github/workspace), a fresh checkout, the folder
    # restored into it
    kept = tmp_path / "restored-cache"
    cache.rename(kept)
    shutil.rmtree(first.workspace)
    second = make_checkout(tmp_path / "one", DATA / "hello")
    with (second.workspace / second.module / "cmd" / "hello" / "main.go").open("a") as handle:
        handle.write("\nfunc touched() int { return 2 }\n")
    git(second.workspace, "commit", "-qam", "one file changed")
    kept.rename(second.workspace / ".otel-go-autoinst-cache")
    run2 = run_action(tmp_path / "one", second.workspace, inputs=inputs, event_name="push")
    assert run2.code == 0, run2.log[-4000:]
    # the unchanged package's instrumented test result comes from the carried build cache
    assert re.search(r"^ok\s+example\.com/hello\s+\(cached\)", run2.stdout, re.M), run2.stdout[
        -3000:
    ]
    assert second.status() == ""


def test_release_points_action_yml_at_the_published_digest(tmp_path: Path) -> None:
    """The release workflow's step that rewrites action.yml, run on a copy of action.yml."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    steps = workflow["jobs"]["release-commit"]["steps"]
    [step] = [s for s in steps if s.get("id") == "pin"]
    (tmp_path / "action.yml").write_text((ROOT / "action.yml").read_text())
    digest = "sha256:" + "ab" * 32
    env = {**os.environ, "DIGEST": digest, "IMAGE": "ghcr.io/octo-org/otel-go-autoinst"}
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, text=True, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    meta = yaml.safe_load((tmp_path / "action.yml").read_text())
    assert meta["runs"] == {
        "using": "docker",
        "image": f"docker://ghcr.io/octo-org/otel-go-autoinst@{digest}",
    }
    assert meta["inputs"] == yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]


def test_the_cache_hand_over_changes_links_not_what_they_point_to(tmp_path: Path) -> None:
    """The cache folder goes to the build user and back with coreutils' walk: every entry,
    symbolic links included, changes owner; a link's target outside the folder does not."""
    if os.geteuid() != 0:
        pytest.skip("only root hands the cache folder over")
    outside = tmp_path / "outside.txt"
    outside.write_text("root's")
    tree = tmp_path / "cache"
    (tree / "go-build" / "ab").mkdir(parents=True)
    (tree / "go-build" / "ab" / "entry-d").write_text("x")
    (tree / "link").symlink_to(outside)
    _chown_tree(tree, 54321, 54321)
    entries = [tree, *tree.rglob("*")]
    assert len(entries) == 5
    assert {(p.lstat().st_uid, p.lstat().st_gid) for p in entries} == {(54321, 54321)}
    assert (outside.stat().st_uid, outside.stat().st_gid) == (0, 0)


def test_removing_the_sandbox_leaves_the_folder_it_is_in_alone(tmp_path: Path) -> None:
    """An error on the sandbox folder itself (here: it is already gone) once made the clean-up
    chmod its parent, the system's /tmp, to 0700 (as root: other users lost /tmp)."""
    parent = tmp_path / "tmp"
    parent.mkdir()
    parent.chmod(0o1777)
    _remove(parent / "otel-go-autoinst-sandbox-gone")
    assert stat.S_IMODE(parent.stat().st_mode) == 0o1777
    sandbox = parent / "otel-go-autoinst-sandbox-x"
    (sandbox / "mod" / "m@v1").mkdir(parents=True)
    (sandbox / "mod" / "m@v1" / "f.go").write_text("package m\n")
    (sandbox / "mod" / "m@v1").chmod(0o555)  # a read-only module folder, as Go leaves it
    _remove(sandbox)
    assert not sandbox.exists()
    assert stat.S_IMODE(parent.stat().st_mode) == 0o1777
