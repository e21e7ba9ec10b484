"""Run the pull request's build and tests as an unprivileged user.

The Action's container runs as root and holds the token (INPUT_GITHUB_TOKEN in its environment and
memory) and the runner's command files (GITHUB_OUTPUT, GITHUB_ENV, ...). Removing them from the
child's environment is not enough: a test can read `/proc/<ancestor>/environ` or append to the
command files when it runs as the same user. So, when the entrypoint runs as root, everything
that executes the repository's code (the engine, `go build`, `go test`, release builds, and the
`go` calls that check the toolchain) runs as the build user `otel-go-build` (created by
scripts/install.sh; `OTEL_GO_AUTOINST_BUILD_USER` names another), which:

- cannot read the publisher's `/proc/<pid>/environ` or memory (another uid, not dumpable to it);
- cannot write the command files, the output folder or the checkout (owned by others);
- writes only to a private folder (HOME, TMPDIR, reports) and to the Go caches it owns;
- leaves nothing running: after each command, the processes it left behind (found by the
  sandbox's TMPDIR in their environment, which they inherit) are killed before what the command
  wrote is read. A process that replaces its whole environment is not found; it still cannot
  read the token nor write the command files.

Go's caches: `cache_dir` (input `cache_dir`, carried across workflow runs with actions/cache) holds
GOMODCACHE, GOCACHE and the engine's cache; it is handed to the build user for the run and back to
the owner of its parent folder afterwards (the runner's user, which saves it). Without one, a
GOMODCACHE/GOCACHE the build user already owns (the image's) is used, else fresh private ones, and
modules the image has already downloaded are served to it as a read-only `file://` GOPROXY.

Not root (a developer's machine): nothing to drop, the commands run as the current user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_go_autoinst.errors import UserError

BUILD_USER = "otel-go-build"
BUILD_USER_ENV = "OTEL_GO_AUTOINST_BUILD_USER"


@dataclass
class Sandbox:
    uid: int | None  # None: no privilege drop
    gid: int | None
    root: Path  # private to the build user
    env: dict[str, str]

    @property
    def scratch(self) -> Path:
        return self.root / "out"

    @property
    def dropped(self) -> bool:
        return self.uid is not None

    def popen_kwargs(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        # umask 022: the carried cache must stay readable by the runner's user (actions/cache);
        # everything else the build user writes is under the sandbox's 0700 folder
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "umask": 0o022}

    def run(self, cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("text", True)
        return subprocess.run(cmd, **kwargs, **self.popen_kwargs())

    def popen(self, cmd: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("text", True)
        return subprocess.Popen(cmd, **kwargs, **self.popen_kwargs())

    def reap(self) -> int:
        """Kill what the commands run here left running (a test's server never stopped, a
        process that waits to rewrite a report); return how many were killed."""
        marker = f"TMPDIR={self.root / 'tmp'}".encode()
        killed = 0
        if not Path("/proc/self/environ").exists():  # no procfs (not Linux): nothing to find
            return 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                environ = (proc / "environ").read_bytes()
            except OSError:  # gone, or not ours to read (another user's, without root)
                continue
            if marker in environ.split(b"\0"):
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
        return killed


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    """Give the tree to uid:gid, symbolic links themselves and never what they point to.

    coreutils' walk (fts) checks each directory it enters against the one it listed, so a
    process of the build user still running cannot swap a directory for a link to elsewhere under
    the root walk that hands the cache back; it is also faster (65 ms against 105 ms for 24,000
    entries). Python's walk, which has neither property, is the fallback."""
    if shutil.which("chown"):
        done = subprocess.run(
            ["chown", "-R", "-P", "-h", f"{uid}:{gid}", "--", str(path)], capture_output=True
        )
        if done.returncode == 0:
            return
    os.lchown(path, uid, gid)
    for current, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(current, name), uid, gid)


def _others_can_read(path: Path) -> bool:
    """Every folder up to `path` is traversable by other users and `path` is readable by them."""
    try:
        for part in [path, *path.parents]:
            mode = part.stat().st_mode
            if not mode & stat.S_IXOTH:
                return False
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


def _owned_by(path: str, uid: int) -> bool:
    try:
        return os.stat(path).st_uid == uid
    except OSError:
        return False


def _go_env(env: Mapping[str, str], name: str) -> str:
    try:
        proc = subprocess.run(
            ["go", "env", name], env=dict(env), capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _remove(path: Path) -> None:
    """Remove the tree, making read-only folders in it (module caches) writable as needed. Only
    folders inside it: an error on the tree itself (it is gone, or not empty) must not change the
    folder it is in, which is the system's temporary folder (as root, a chmod 0700 of /tmp)."""
    top = os.path.abspath(path)

    def onerror(func: Any, name: str, _exc: Any) -> None:
        try:
            if os.path.abspath(name) != top:
                os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            func(name)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)


@contextmanager
def sandbox(env: Mapping[str, str], cache_dir: Path | None) -> Iterator[Sandbox]:
    """The unprivileged environment for the repository's code; removed afterwards (the
    cache folder is kept)."""
    child = dict(env)
    root = Path(tempfile.mkdtemp(prefix="otel-go-autoinst-sandbox-"))
    uid = gid = None
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        name = env.get(BUILD_USER_ENV) or BUILD_USER
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            _remove(root)
            raise UserError(
                f"The build user {name} does not exist: running as root, the pull request's "
                "build and tests only run as an unprivileged user (scripts/install.sh creates it)."
            ) from None
        if user.pw_uid == 0:
            _remove(root)
            raise UserError(f"The build user {name} must not be root.")
        uid, gid = user.pw_uid, user.pw_gid
    try:
        for sub in ("home", "tmp", "out"):
            (root / sub).mkdir(mode=0o700)
        child.update(
            {
                "HOME": str(root / "home"),
                "TMPDIR": str(root / "tmp"),
                "XDG_CACHE_HOME": str(root / "home" / ".cache"),
                "XDG_CONFIG_HOME": str(root / "home" / ".config"),
            }
        )
        parent_modcache = _go_env(env, "GOMODCACHE") if (cache_dir or uid is not None) else ""
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            ignore = cache_dir / ".gitignore"
            if not ignore.exists():  # a cache inside the checkout must not show in `git status`
                ignore.write_text("*\n", encoding="utf-8")
            # module files stay writable, so the runner can delete or replace the folder
            child["GOFLAGS"] = " ".join([*env.get("GOFLAGS", "").split(), "-modcacherw"])
            child["GOMODCACHE"] = str(cache_dir / "go-mod")
            child["GOCACHE"] = str(cache_dir / "go-build")
            child["XDG_CACHE_HOME"] = str(cache_dir / "xdg")
        elif uid is not None:
            # the parent's caches when the build user owns them (the image's), else private ones
            for var, sub in (("GOMODCACHE", "go-mod"), ("GOCACHE", "go-build")):
                current = parent_modcache if var == "GOMODCACHE" else _go_env(env, var)
                if not (current and _owned_by(current, uid)):
                    child[var] = str(root / sub)
        if parent_modcache and child.get("GOMODCACHE", parent_modcache) != parent_modcache:
            _serve_downloads(child, env, Path(parent_modcache))
        if uid is not None and gid is not None:
            if cache_dir is not None:
                # handed back to the owner of the folder it is in (the runner's user) at the end
                parent = cache_dir.resolve().parent.stat()
                owner = (parent.st_uid, parent.st_gid)
                _chown_tree(cache_dir, uid, gid)
            _chown_tree(root, uid, gid)
        yield Sandbox(uid=uid, gid=gid, root=root, env=child)
    finally:
        Sandbox(uid=uid, gid=gid, root=root, env=child).reap()
        _remove(root)
        if owner is not None and cache_dir is not None and cache_dir.exists():
            _chown_tree(cache_dir, *owner)


def _serve_downloads(child: dict[str, str], env: Mapping[str, str], modcache: Path) -> None:
    """Let a fresh module cache fill from the modules already downloaded (read-only), then from
    the usual GOPROXY; go verifies every module against go.sum and the checksum database."""
    downloads = modcache / "cache" / "download"
    if not _others_can_read(downloads):
        return
    proxy = _go_env(env, "GOPROXY") or "https://proxy.golang.org,direct"
    if proxy == "off":
        child["GOPROXY"] = f"file://{downloads}"
        return
    child["GOPROXY"] = f"file://{downloads},{proxy}"
