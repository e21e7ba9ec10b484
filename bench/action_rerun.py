"""A second push, timed: two consecutive runs of the Action's entrypoint with the cache folder
carried over (as actions/cache does), everything else fresh, against a plain warm
`go build ./... && go test ./...` after the same one-file change.

    python bench/action_rerun.py [--module examples/service] [--file main.go]

Run 1: a fresh git checkout of the module, the entrypoint (`otel-go-autoinst action`, run mode,
no comment) with `cache_dir` set to an empty folder: cold. Run 2: a new fresh checkout at the same
path (a runner's workspace path does not change) with one file changed (a function appended, as
in a one-file push), a new runner folder, the same cache folder: the time that matters on every
push. Plain: the same change in another checkout, after
one warm-up `go build && go test`, timed with the user's own (warm) Go caches.

As root (the Action's container), the entrypoint runs the build and tests as the build user
(scripts/install.sh creates it); the cache folder is handed to it for the run. Prints a table;
never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("otel-go-autoinst")
ACTION = (
    [str(SCRIPT), "action"]
    if SCRIPT.is_file()
    else [sys.executable, "-c", "import sys; from entrypoint import main; sys.exit(main())"]
)


def checkout(source: Path, dest: Path, touch: str | None, n: int) -> Path:
    """A git checkout of `source` at dest/<name>; with `touch`, that file gets one more function."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("otel-go-autoinst-out", ".git"))
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.com",
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)
    if touch:
        with (dest / touch).open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n// benchTouched{n} is the one-file change of a second push.\n"
                f"func benchTouched{n}() int {{ return {n} }}\n"
            )
    return dest


def run_entrypoint(workspace: Path, cache: Path, runner: Path) -> tuple[float, int, str]:
    runner.mkdir(parents=True)
    for name in ("output", "summary"):
        (runner / name).touch()
    (runner / "event.json").write_text("{}")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_", "OTEL_GO_AUTOINST_"))
    }
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_EVENT_PATH": str(runner / "event.json"),
            "GITHUB_REPOSITORY": "bench/bench",
            "GITHUB_OUTPUT": str(runner / "output"),
            "GITHUB_STEP_SUMMARY": str(runner / "summary"),
            "RUNNER_TEMP": str(runner),
            "INPUT_COMMENT": "false",
            "INPUT_CACHE_DIR": str(cache),
        }
    )
    start = time.monotonic()
    proc = subprocess.run(ACTION, cwd=workspace, env=env, capture_output=True, text=True)
    return time.monotonic() - start, proc.returncode, proc.stdout + proc.stderr


def plain(workspace: Path) -> tuple[float, int]:
    start = time.monotonic()
    code = 0
    for cmd in (["go", "build", "-o", os.devnull, "./..."], ["go", "test", "./..."]):
        code = subprocess.run(cmd, cwd=workspace, capture_output=True).returncode or code
    return time.monotonic() - start, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", default="examples/service", help="module folder to copy")
    parser.add_argument("--file", default="main.go", help="the file the second push changes")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    source = (ROOT / args.module).resolve()
    base = Path(tempfile.mkdtemp(prefix="otel-go-autoinst-rerun-"))
    base.chmod(0o755)  # the build user reads the checkouts
    try:
        cache, workspace = base / "cache", base / "workspace"
        t1, c1, log1 = run_entrypoint(checkout(source, workspace, None, 1), cache, base / "r1")
        # A runner checks out to the same path every time (/github/workspace): a fresh checkout
        # there, fresh files and times.
        subprocess.run(["chmod", "-R", "u+w", str(workspace)], capture_output=True)
        shutil.rmtree(workspace)
        t2, c2, log2 = run_entrypoint(checkout(source, workspace, args.file, 2), cache, base / "r2")
        ws3 = checkout(source, base / "ws3", None, 3)
        plain(ws3)  # warm-up
        with (ws3 / args.file).open("a", encoding="utf-8") as handle:
            handle.write("\nfunc benchTouched3() int { return 3 }\n")
        tp, cp = plain(ws3)
        for code, log in ((c1, log1), (c2, log2)):
            if code != 0:
                print(log[-3000:], file=sys.stderr)
        rows = [
            ("entrypoint run 1 (empty cache folder)", t1, c1),
            ("entrypoint run 2 (cache carried, one file changed)", t2, c2),
            ("plain warm go build && go test (same change)", tp, cp),
        ]
        print(f"module: {args.module}, changed file: {args.file}")
        for label, seconds, code in rows:
            print(f"  {label:<52} {seconds:7.1f} s   exit {code}")
        print(f"  ratio run 2 / plain warm: {t2 / tp:.2f}" if tp > 0 else "")
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {"module": args.module, "run1_s": t1, "run2_s": t2, "plain_warm_s": tp},
                    indent=2,
                )
            )
        return 0 if c1 == c2 == cp == 0 else 1
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
