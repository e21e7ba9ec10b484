#!/usr/bin/env python3
"""The corpus: plain `go test` vs `otel-go-autoinst test` on pinned public Go modules.

    python bench/corpus.py [--only NAME]... [--jobs N] [--timeout S] [--p N] [--keep]
                           [--at REV] [--corpus FILE] [--markdown] [--json FILE] [--logs DIR]
    python bench/corpus.py --from-json FILE [--markdown]     # the table of a saved run again

For each `module@version` of bench/corpus.txt (or --corpus FILE):

1. `go mod download -json module@version` (the Go module proxy) gives the module's directory in
   the module cache; it is copied to a temporary directory and made writable. Its own go.mod and
   go.sum are used as published. `go list -deps -test` fetches what the tests need; only when
   that fails for a missing go.sum entry is `go mod tidy` run on the copy, and the table says so.
2. Plain: `go test -count=1 -p 1 -timeout T PATTERNS`.
3. Instrumented: `otel-go-autoinst test --report R -count=1 -p 1 -timeout T PATTERNS`, the built-in
   rule sets, no OTEL_* variable set (a test binary with no OTel configuration).
4. A hash of every file of the copy before and after the instrumented run: "tree untouched".

It prints one row per module (packages, plain result, instrumented result, packages that pass
plain and fail instrumented, wall times and their ratio, tree untouched, functions instrumented),
then every failing package with its failing tests, the first lines of its output and a guessed
class. It never fails on a figure: exit 0 unless it cannot run at all (no go, no tool, a bad
corpus file, --only matching nothing).

--at REV runs the tool from `git archive REV` of this repository (PYTHONPATH; extracted once to
$TMPDIR/otel-corpus-tool-<sha> and reused), so the figures belong to one commit whatever is
uncommitted in the work tree; without it, `otel-go-autoinst` on
PATH is used (whose source may be an editable work tree: the header says if it has changes).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CORPUS = HERE / "corpus.txt"
EXCERPT_LINES = 12


class CannotRun(Exception):
    """The corpus cannot run at all (exit 2)."""


@dataclass
class Entry:
    module: str
    version: str
    patterns: list[str]
    note: str = ""
    flags: list[str] = field(default_factory=list)  # extra go test flags, e.g. -skip=^TestNeedsDNS$
    env: dict[str, str] = field(default_factory=dict)  # NAME=VALUE words: set for both runs

    @property
    def name(self) -> str:
        return f"{self.module}@{self.version}"

    @property
    def short(self) -> str:
        return self.module.removeprefix("github.com/")


@dataclass
class PackageFailure:
    package: str
    status: str  # "FAIL", "build failed", "setup failed"
    tests: list[str]
    excerpt: list[str]
    klass: str


@dataclass
class RunResult:
    status: str  # "pass", "fail", "timeout", "error"
    seconds: float
    exit_code: int
    ok: int = 0
    failed: list[PackageFailure] = field(default_factory=list)
    no_tests: int = 0
    tool_error: list[str] = field(
        default_factory=list
    )  # output tail when no package line explains it
    log: str = ""
    tree_changed: list[str] = field(default_factory=list)
    # system folders whose mode the run changed (put back after it): "/ 0755 -> 0750"
    system_changed: list[str] = field(default_factory=list)
    test_seconds: float = 0.0  # sum of the per-package times go test prints (test binaries running)
    # "otel-go-autoinst: ..." lines in the output, but the summary and dependency-change lines
    tool_lines: list[str] = field(default_factory=list)
    # test binary's package -> {"godebug": its DefaultGODEBUG}, read with `go version -m` by the
    # -exec wrapper before each test binary runs (a test binary's build info lists no deps)
    binaries: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModuleResult:
    entry: Entry
    go_line: str = ""
    packages: int = 0
    prep: str = ""
    error: str = ""  # download/copy/list failure: no run
    plain: RunResult | None = None
    inst: RunResult | None = None
    functions: int | None = None
    functions_by_rule: dict[str, int] = field(default_factory=dict)
    dependency_changes: list[str] = field(default_factory=list)  # "module plain -> instrumented"

    @property
    def godebug_changed(self) -> list[str]:
        """Packages whose test binary's DefaultGODEBUG differs, plain vs instrumented, and how."""
        if not self.plain or not self.inst:
            return []
        out = []
        for pkg in sorted(set(self.plain.binaries) & set(self.inst.binaries)):
            plain = godebug_settings(self.plain.binaries[pkg]["godebug"])
            inst = godebug_settings(self.inst.binaries[pkg]["godebug"])
            if plain != inst:
                diff = [
                    f"{k}={plain.get(k, '(default)')}->{inst.get(k, '(default)')}"
                    for k in sorted(set(plain) | set(inst))
                    if plain.get(k) != inst.get(k)
                ]
                out.append(f"{pkg}: {len(diff)} setting(s): {', '.join(diff)}")
        return out

    @property
    def regressions(self) -> list[PackageFailure]:
        """Packages that pass plain and fail instrumented, and packages that fail both ways with
        tests failing instrumented that did not fail plain (where plain's test binary ran to its
        end: its failure is failing tests, not a panic, a timeout or a build that did not run)."""
        if self.inst is None:
            return []
        plain = {f.package: f for f in self.plain.failed} if self.plain else {}
        return [f for f in self.inst.failed if f.package not in plain or new_tests(plain[f.package], f)]


def checkout_name(module: str) -> str:
    """The folder a clone of the module's repository gets: its last path element, less a major
    version suffix (github.com/go-chi/chi/v5 -> chi)."""
    parts = module.split("/")
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts.pop()
    return parts[-1]


def new_tests(plain: PackageFailure, inst: PackageFailure) -> list[str]:
    """The tests that fail instrumented and not plain, when plain's run of the package can tell."""
    if plain.klass != "test failure (other)" or not plain.tests:
        return []
    return [t for t in inst.tests if t not in plain.tests]


# --------------------------------------------------------------------------- the corpus file


ENV_WORD = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def read_corpus(path: Path) -> list[Entry]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CannotRun(f"cannot read the corpus file {path}: {exc.strerror}.") from None
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line, _, note = raw.partition("#")
        words = line.split()
        if not words:
            continue
        module, at, version = words[0].partition("@")
        if not at or not module or not version.startswith("v"):
            raise CannotRun(f"{path}:{number}: expected module@version, got {words[0]!r}.")
        env = dict(w.split("=", 1) for w in words[1:] if ENV_WORD.match(w))
        flags = [w for w in words[1:] if w.startswith("-")]
        rest = [w for w in words[1:] if not w.startswith("-") and not ENV_WORD.match(w)]
        entries.append(Entry(module, version, rest or ["./..."], note.strip(), flags, env))
    if not entries:
        raise CannotRun(f"{path} lists no module.")
    return entries


# --------------------------------------------------------------------------- processes


def run(
    cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float, log: Path | None = None
) -> tuple[int, str, float, bool]:
    """Run cmd in its own process group; return (exit code, stdout+stderr, seconds, timed out)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    seconds = time.monotonic() - started
    text = out.decode("utf-8", "replace")
    if log is not None:
        log.write_text(f"$ (cd {cwd} && {shlex.join(cmd)})\n{text}", encoding="utf-8")
    return proc.returncode, text, seconds, timed_out


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.setdefault("GOTOOLCHAIN", "local")
    env["GOPROXY"] = env.get("GOPROXY") or "https://proxy.golang.org,direct"
    return env


# --------------------------------------------------------------------------- go test output

RESULT_LINE = re.compile(r"^(ok  |FAIL|\?   )\t(\S+)(?:[\t ](.*))?$")
FAIL_TEST = re.compile(r"^(\s*)--- FAIL: (\S+)")
TOOL_SUMMARY = re.compile(
    r"^otel-go-autoinst: (instrumented \d+ function|the hooks. requirements changed)"
)
NOISE = re.compile(r"^(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|SKIP)|PASS$|FAIL$|ok  \t|\?   \t)")


def classify(status: str, text: str) -> str:
    if "relocation target" in text and "not defined" in text:
        return "link: hooks not linked (relocation target not defined)"
    if re.search(
        r"unexpected goroutine|goleak|leaked goroutine|goroutines? (are )?still running", text
    ):
        return "goroutine-leak check"
    if "missing go.sum entry" in text or "updates to go.mod needed" in text:
        return "module graph (go.sum/go.mod)"
    if "inconsistent vendoring" in text or "/vendor/" in text and status != "FAIL":
        return "vendor"
    if "panic: test timed out" in text:
        return "timeout (go test -timeout)"
    if "WARNING: DATA RACE" in text:
        return "data race"
    if status == "build failed":
        return "build failure (other)"
    if status == "setup failed":
        return "setup failure"
    if re.search(r"^panic: ", text, re.M):
        return "panic"
    return "test failure (other)"


def parse_go_test(text: str) -> tuple[int, int, list[PackageFailure]]:
    """(packages ok, packages without tests, failures) from go test's text output."""
    ok = no_tests = 0
    failures: list[PackageFailure] = []
    segment: list[str] = []
    for line in text.splitlines():
        m = RESULT_LINE.match(line)
        if not m:
            segment.append(line)
            continue
        kind, pkg, rest = m.group(1).strip(), m.group(2), (m.group(3) or "")
        if kind == "ok":
            ok += 1
        elif kind == "?":
            no_tests += 1
        else:
            status = rest.strip("[] ") if rest.startswith("[") else "FAIL"
            if status not in ("build failed", "setup failed"):
                status = "FAIL"
            body = "\n".join(segment)
            tests = [t.group(2) for t in map(FAIL_TEST.match, segment) if t and not t.group(1)]
            subtests = [t.group(2) for t in map(FAIL_TEST.match, segment) if t and t.group(1)]
            failures.append(
                PackageFailure(
                    pkg, status, tests or subtests, excerpt(segment), classify(status, body)
                )
            )
        segment = []
    return ok, no_tests, failures


def test_seconds(text: str) -> float:
    """Sum of the durations on go test's package result lines: the test binaries' own run time."""
    total = 0.0
    for line in text.splitlines():
        m = RESULT_LINE.match(line)
        d = re.match(r"(\d+(?:\.\d+)?)s\b", (m.group(3) or "").strip()) if m else None
        if d:
            total += float(d.group(1))
    return total


def excerpt(lines: list[str]) -> list[str]:
    start = next((i for i, s in enumerate(lines) if FAIL_TEST.match(s)), None)
    if start is not None:
        # the test's log lines come right after its --- FAIL line
        chosen = lines[start:]
    else:
        chosen = lines
    kept: list[str] = []
    for line in chosen:  # repeated log lines say nothing new: keep the first of each
        if line.strip() and not NOISE.match(line) and line.rstrip() not in kept:
            kept.append(line.rstrip())
    return [s if len(s) <= 240 else s[:237] + "..." for s in kept[:EXCERPT_LINES]]


def log_figures(result: RunResult, text: str) -> None:
    """The figures read from the whole output (also for a run saved before they existed)."""
    result.test_seconds = test_seconds(text)
    result.tool_lines = [
        s.strip()
        for s in text.splitlines()
        if s.strip().startswith("otel-go-autoinst: ") and not TOOL_SUMMARY.match(s.strip())
    ]


def go_test_result(code: int, text: str, seconds: float, timed_out: bool, log: str) -> RunResult:
    ok, no_tests, failures = parse_go_test(text)
    if timed_out:
        status = "timeout"
    elif code == 0:
        status = "pass"
    elif failures:
        status = "fail"
    else:
        status = "error"
    result = RunResult(status, seconds, code, ok, failures, no_tests, log=log)
    log_figures(result, text)
    if status in ("error", "timeout") or (code != 0 and not failures):
        tail = [s for s in text.strip().splitlines() if s.strip()]
        result.tool_error = [s[:240] for s in tail[-EXCERPT_LINES:]]
    return result


# --------------------------------------------------------------------------- build info

EXEC_WRAPPER = """#!/bin/sh
# go test -exec: record the test binary's build info (go version -m), then run it unchanged.
if [ -n "$CORPUS_BUILDINFO" ]; then
    go version -m "$1" > "$CORPUS_BUILDINFO/$$.txt" 2>&1
fi
exec "$@"
"""


def godebug_settings(value: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in value.split(",") if "=" in kv)


def read_build_infos(folder: Path) -> dict[str, Any]:
    """Package -> {"godebug"} from the `go version -m` outputs the wrapper wrote."""
    infos: dict[str, Any] = {}
    for f in sorted(folder.glob("*.txt")):
        pkg, godebug = "", ""
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.strip().split("\t")
            if words[0] == "path" and len(words) > 1:
                pkg = words[1].removesuffix(".test")
            elif words[0] == "build" and len(words) > 1 and words[1].startswith("DefaultGODEBUG="):
                godebug = words[1].removeprefix("DefaultGODEBUG=")
        if pkg:
            infos[pkg] = {"godebug": godebug}
    return infos


# --------------------------------------------------------------------------- the tree hash


def tree_digest(root: Path) -> dict[str, str]:
    """Path -> digest of content and kind for every file, link and directory under root."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            p = Path(dirpath, name)
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "link:" + os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            else:
                h = hashlib.sha256()
                with p.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                out[rel] = ("x:" if st.st_mode & 0o111 else "f:") + h.hexdigest()
    return out


def tree_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changed = [f"+{p}" for p in after if p not in before]
    changed += [f"-{p}" for p in before if p not in after]
    changed += [f"~{p}" for p in before if p in after and before[p] != after[p]]
    return sorted(changed, key=lambda s: s[1:])


# Folders that a module's tests, run as root, may change for everything else on the machine: gin's
# TestSaveUploadedCreateFailed calls SaveUploadedFile(f, "/"), which makes "/" 0750, and other
# users (a database server, the Action's build user) can no longer reach anything.
SYSTEM_FOLDERS = ("/", "/tmp", "/usr", "/etc", "/var", "/home", str(Path.home()))


def system_modes() -> dict[str, int]:
    return {f: os.stat(f).st_mode & 0o7777 for f in SYSTEM_FOLDERS if os.path.isdir(f)}


def put_back(modes: dict[str, int]) -> list[str]:
    """Restore the modes a run changed; what it changed, as "/ 0755 -> 0750"."""
    changed = []
    for folder, mode in modes.items():
        now = os.stat(folder).st_mode & 0o7777
        if now != mode:
            os.chmod(folder, mode)
            changed.append(f"{folder} {mode:04o} -> {now:04o}")
    return changed


# --------------------------------------------------------------------------- one module


def copy_writable(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)
    for dirpath, _dirnames, filenames in os.walk(dst):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = Path(dirpath, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)


def summarize_report(path: Path, result: ModuleResult) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    inst = data.get("instrumented") or []
    result.functions = len(inst)
    result.functions_by_rule = {}
    result.dependency_changes = [
        f"{c.get('module')} {c.get('plain')} -> {c.get('instrumented')}"
        for c in data.get("dependency_changes") or []
    ]
    for fn in inst:
        for rule in fn.get("rules") or ["?"]:
            result.functions_by_rule[rule] = result.functions_by_rule.get(rule, 0) + 1


def run_module(entry: Entry, opts: argparse.Namespace, tool: list[str], tool_env: dict[str, str],
               work: Path, logs: Path, say: Any) -> ModuleResult:  # fmt: skip
    result = ModuleResult(entry)
    env = {**base_env(), **entry.env}
    # Lower-case letters, digits and "_" only: a test may match its own path (zap's do, with [a-z0-9_-]+)
    slug = re.sub(r"[^a-z0-9]+", "_", entry.name.lower())
    scratch = work / "dl" / slug
    scratch.mkdir(parents=True, exist_ok=True)
    code, out, _, timed_out = run(
        ["go", "mod", "download", "-json", entry.name], cwd=scratch, env=env, timeout=opts.timeout
    )
    try:
        info = json.loads(out)
    except ValueError:
        info = {}
    if code != 0 or "Dir" not in info:
        why = (
            info.get("Error")
            or out.strip().splitlines()[-1:]
            or ["timed out" if timed_out else "?"]
        )
        result.error = f"go mod download failed: {why if isinstance(why, str) else why[0]}"
        return result
    # in a folder named as a clone of the repository is (go-hclog's tests expect "go-hclog/")
    copy = work / "src" / slug / checkout_name(entry.module)
    copy_writable(Path(info["Dir"]), copy)
    gomod = (
        (copy / "go.mod").read_text(encoding="utf-8", errors="replace")
        if (copy / "go.mod").exists()
        else ""
    )
    m = re.search(r"^go\s+(\S+)", gomod, re.M)
    result.go_line = m.group(1) if m else "(none)"
    if not (copy / "go.mod").exists():
        result.error = "the module has no go.mod"
        return result

    # What the tests need, fetched before anything is timed.
    listing = [
        "go",
        "list",
        "-deps",
        "-test",
        "-e",
        "-f",
        "{{if .Error}}{{.Error}}{{end}}",
        *entry.patterns,
    ]
    code, out, _, _ = run(
        listing, cwd=copy, env=env, timeout=opts.timeout, log=logs / f"{slug}.list.log"
    )
    if code != 0 or "missing go.sum entry" in out or "updates to go.mod needed" in out:
        code, out, _, _ = run(["go", "mod", "tidy"], cwd=copy, env=env, timeout=opts.timeout,
                              log=logs / f"{slug}.tidy.log")  # fmt: skip
        result.prep = "go mod tidy" if code == 0 else "go mod tidy failed"
        code, out, _, _ = run(
            listing, cwd=copy, env=env, timeout=opts.timeout, log=logs / f"{slug}.list.log"
        )
        if code != 0:
            result.error = "go list fails: " + " ".join(out.strip().splitlines()[:2])
            return result
    code, out, _, _ = run(["go", "list", *entry.patterns], cwd=copy, env=env, timeout=opts.timeout)
    result.packages = len([s for s in out.splitlines() if s.strip() and not s.startswith("go:")])

    wrapper = work / "exec-buildinfo.sh"
    flags = [
        "-count=1",
        f"-p={opts.p}",
        f"-timeout={opts.go_timeout}",
        f"-exec={wrapper}",
        *entry.flags,
    ]
    infos = {
        "plain": work / "buildinfo" / slug / "plain",
        "inst": work / "buildinfo" / slug / "inst",
    }
    for folder in infos.values():
        folder.mkdir(parents=True, exist_ok=True)
    say(f"{entry.short}: plain go test ({result.packages} packages)")
    before, modes = tree_digest(copy), system_modes()
    penv = {**env, "CORPUS_BUILDINFO": str(infos["plain"])}
    code, out, secs, timed_out = run(["go", "test", *flags, *entry.patterns], cwd=copy, env=penv,
                                     timeout=opts.timeout, log=logs / f"{slug}.plain.log")  # fmt: skip
    result.plain = go_test_result(code, out, secs, timed_out, str(logs / f"{slug}.plain.log"))
    result.plain.tree_changed = tree_diff(before, tree_digest(copy))
    result.plain.system_changed = put_back(modes)
    result.plain.binaries = read_build_infos(infos["plain"])
    say(f"{entry.short}: plain {result.plain.status} in {secs:.1f}s; instrumented test")

    report = logs / f"{slug}.report.json"
    report.unlink(missing_ok=True)
    before, modes = tree_digest(copy), system_modes()
    ienv = {**env, **tool_env, "CORPUS_BUILDINFO": str(infos["inst"])}
    cmd = [*tool, "test", "--report", str(report), *flags, *entry.patterns]
    code, out, secs, timed_out = run(cmd, cwd=copy, env=ienv, timeout=opts.timeout,
                                     log=logs / f"{slug}.instrumented.log")  # fmt: skip
    result.inst = go_test_result(code, out, secs, timed_out, str(logs / f"{slug}.instrumented.log"))
    result.inst.tree_changed = tree_diff(before, tree_digest(copy))
    result.inst.system_changed = put_back(modes)
    result.inst.binaries = read_build_infos(infos["inst"])
    summarize_report(report, result)
    say(f"{entry.short}: instrumented {result.inst.status} in {secs:.1f}s")
    return result


# --------------------------------------------------------------------------- output


def describe(r: RunResult | None) -> str:
    if r is None:
        return "-"
    if r.status == "pass":
        return "pass"
    if r.status == "timeout":
        return f"TIMEOUT ({len(r.failed)} failed before)"
    if r.status == "error":
        return f"ERROR (exit {r.exit_code})"
    return f"FAIL ({len(r.failed)} pkg)"


def untouched(r: RunResult | None) -> str:
    if r is None:
        return "-"
    return "yes" if not r.tree_changed else f"NO ({len(r.tree_changed)} paths)"


def godebug_kept(res: ModuleResult) -> str:
    if not res.plain or not res.inst or not (set(res.plain.binaries) & set(res.inst.binaries)):
        return "-"
    changed = res.godebug_changed
    return "yes" if not changed else f"NO ({len(changed)} pkg)"


def row(res: ModuleResult) -> list[str]:
    e = res.entry
    if res.error:
        cells = [e.module, e.version, res.go_line or "-", "-", res.error]
        return cells + ["-"] * (len(HEADER) - len(cells))
    plain, inst = res.plain, res.inst
    ratio = f"{inst.seconds / plain.seconds:.2f}x" if plain and inst and plain.seconds > 0 else "-"
    regress = str(len(res.regressions)) if inst else "-"
    pkgs = str(res.packages) + (" (tidied)" if res.prep == "go mod tidy" else "")
    return [
        e.module, e.version, res.go_line, pkgs, describe(plain), describe(inst), regress,
        f"{plain.seconds:.1f}" if plain else "-", f"{inst.seconds:.1f}" if inst else "-", ratio,
        f"{plain.test_seconds:.2f} / {inst.test_seconds:.2f}" if plain and inst else "-",
        untouched(inst), "-" if res.functions is None else str(res.functions),
        godebug_kept(res),
        "-" if res.functions is None else str(len(res.dependency_changes)),
    ]  # fmt: skip


HEADER = ["module", "version", "go", "packages", "plain", "instrumented", "regressions",
          "plain s", "inst s", "ratio", "tests s plain / inst", "tree untouched", "functions", "GODEBUG kept",
          "deps changed"]  # fmt: skip


def render_table(results: list[ModuleResult], markdown: bool) -> str:
    rows = [HEADER] + [row(r) for r in results]
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def render_details(results: list[ModuleResult], markdown: bool) -> str:
    out: list[str] = []
    bullet = "- " if markdown else ""
    for res in results:
        name = res.entry.name
        lines: list[str] = []
        if res.error:
            lines.append(f"{bullet}{name}: {res.error}")
        for label, r in (("plain", res.plain), ("instrumented", res.inst)):
            if r is None:
                continue
            plain_failed = (
                {f.package: f for f in res.plain.failed} if res.plain and label != "plain" else {}
            )
            for f in r.failed:
                also = ""
                if f.package in plain_failed:
                    new = new_tests(plain_failed[f.package], f)
                    also = (f" (fails plain too, but not {', '.join(new)})" if new
                            else " (fails plain too)")  # fmt: skip
                tests = ", ".join(f.tests[:8]) + (
                    f" (+{len(f.tests) - 8})" if len(f.tests) > 8 else ""
                )
                lines.append(f"{bullet}{label} {f.status}: {f.package}{also} [{f.klass}]"
                             + (f" tests: {tests}" if tests else ""))  # fmt: skip
                lines += fence(f.excerpt, markdown)
            if r.tool_error and r.status in ("error", "timeout"):
                lines.append(
                    f"{bullet}{label} {r.status}: exit {r.exit_code}, last lines of the output:"
                )
                lines += fence(r.tool_error, markdown)
            if r.tool_lines:
                seen = sorted(set(r.tool_lines))
                lines.append(
                    f"{bullet}{label} output has {len(r.tool_lines)} line(s) from the tool or its SDK "
                    "(only failing packages' output is shown by go test):"
                )
                lines += fence(seen[:5], markdown)
            if r.tree_changed:
                shown = ", ".join(r.tree_changed[:10]) + (
                    " ..." if len(r.tree_changed) > 10 else ""
                )
                lines.append(f"{bullet}{label} run changed the copy: {shown}")
            if r.system_changed:
                lines.append(
                    f"{bullet}{label} run changed system folders (put back): "
                    + ", ".join(r.system_changed)
                )
        if res.functions_by_rule:
            by = ", ".join(f"{k} {v}" for k, v in sorted(res.functions_by_rule.items()))
            lines.append(f"{bullet}functions instrumented by rule set: {by}")
        for line in res.godebug_changed:
            lines.append(f"{bullet}DefaultGODEBUG differs: {line}")
        if res.dependency_changes:
            changed = ", ".join(res.dependency_changes)
            lines.append(f"{bullet}dependency versions the instrumented build changed: {changed}")
        if res.entry.env:
            shown = " ".join(f"{k}={v}" for k, v in res.entry.env.items())
            lines.append(f"{bullet}environment (both runs): {shown}")
        if res.entry.flags:
            lines.append(f"{bullet}extra go test flags (both runs): {' '.join(res.entry.flags)}")
        if res.prep:
            lines.append(
                f"{bullet}prepared with: {res.prep} (the published go.sum lacked entries the tests need)"
            )
        if lines:
            out.append(("### " if markdown else "== ") + name)
            out += lines
            out.append("")
    return "\n".join(out)


def fence(lines: list[str], markdown: bool) -> list[str]:
    if not lines:
        return []
    if markdown:
        return ["  ```", *("  " + s for s in lines), "  ```"]
    return ["    " + s for s in lines]


# --------------------------------------------------------------------------- the tool


def resolve_tool(at: str | None, work: Path) -> tuple[list[str], dict[str, str], str]:
    """(command, extra env, description with the commit) of the tool to measure."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    if at:
        try:
            sha = git("rev-parse", "--verify", f"{at}^{{commit}}")
        except (subprocess.CalledProcessError, FileNotFoundError):
            raise CannotRun(f"--at {at}: not a commit of {REPO}.") from None
        # One folder per commit, kept and reused: the tool's caches (escape verdicts) and Go's build
        # cache are keyed on the hooks' paths, so a re-run of the same commit starts warm.
        snap = Path(tempfile.gettempdir()) / f"otel-corpus-tool-{sha[:12]}"
        if not (snap / "src").is_dir():
            staging = Path(tempfile.mkdtemp(prefix=f"{snap.name}.", dir=snap.parent))
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", sha], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(staging)], input=archive.stdout, check=True)
            try:
                staging.rename(snap)
            except OSError:  # another run of the same commit got there first
                shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            sys.executable,
            "-c",
            "import sys; from otel_go_autoinst.cli import main; sys.exit(main())",
        ]
        return cmd, {"PYTHONPATH": str(snap / "src")}, f"commit {sha[:12]} (git archive)"
    exe = shutil.which("otel-go-autoinst")
    if exe is None:
        raise CannotRun("otel-go-autoinst is not on PATH (pip install -e . or use --at REV).")
    where = "?"
    try:
        import otel_go_autoinst  # noqa: PLC0415

        where = str(Path(otel_go_autoinst.__file__).resolve().parent)
    except ImportError:
        pass
    desc = f"otel-go-autoinst on PATH ({where})"
    if where.startswith(str(REPO)):
        try:
            sha = git("rev-parse", "HEAD")
            dirty = git("status", "--porcelain", "--", "src", "rules")
            desc = f"commit {sha[:12]}" + (
                " + uncommitted changes in src/ or rules/" if dirty else ""
            )
        except (subprocess.CalledProcessError, FileNotFoundError):
            pass
    return [exe], {}, desc


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="module list (default bench/corpus.txt)"
    )
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="only modules whose path contains NAME (repeatable)")  # fmt: skip
    ap.add_argument(
        "--jobs", type=int, default=1, help="modules run at once (default 1: a 2-CPU machine)"
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds per go test run of one module (default 900)",
    )
    ap.add_argument(
        "--go-timeout", default="5m", help="go test -timeout (per test binary, default 5m)"
    )
    ap.add_argument("--p", type=int, default=1, help="go test -p (default 1)")
    ap.add_argument("--at", metavar="REV", help="run the tool from this commit of the repository")
    ap.add_argument("--keep", action="store_true", help="keep the copies, logs and reports")
    ap.add_argument("--logs", type=Path, help="write the go test outputs and reports there (kept)")
    ap.add_argument(
        "--markdown", action="store_true", help="print the table and details in Markdown"
    )
    ap.add_argument("--json", type=Path, help="write every result as JSON there")
    ap.add_argument("--from-json", type=Path, metavar="FILE",
                    help="print the table of a run that --json saved, without running anything")  # fmt: skip
    opts = ap.parse_args(argv)
    if opts.jobs < 1 or opts.p < 1 or opts.timeout <= 0:
        ap.error("--jobs, --p and --timeout must be positive")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    try:
        return corpus(opts)
    except CannotRun as exc:
        print(f"corpus: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("corpus: interrupted", file=sys.stderr)
        return 130


def emit(header: str, done: list[ModuleResult], opts: argparse.Namespace) -> None:
    passing = [r for r in done if r.plain and r.plain.status == "pass"]
    kept = [r for r in passing if r.inst and r.inst.status == "pass"]
    regress = sum(len(r.regressions) for r in done)
    summary = (
        f"Plain passes on {len(passing)} of {len(done)} modules; instrumented passes on {len(kept)} "
        f"of those {len(passing)}; {regress} package(s) pass plain and fail instrumented, or fail "
        "instrumented in tests that pass plain."
    )
    print(header)
    print()
    print(render_table(done, opts.markdown))
    print()
    print(summary)
    details = render_details(done, opts.markdown)
    if details:
        print()
        print(details)
    if opts.json and not opts.from_json:
        data = {
            "header": header,
            "summary": summary,
            "results": [dataclasses.asdict(r) for r in done],
        }
        opts.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_json(path: Path) -> tuple[str, list[ModuleResult]]:
    """The header and results that --json wrote, for printing the table again (--from-json)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        results = []
        for r in data["results"]:
            runs: dict[str, RunResult | None] = {}
            for key in ("plain", "inst"):
                d = r.get(key)
                if d is None:
                    runs[key] = None
                    continue
                d["failed"] = [PackageFailure(**f) for f in d.get("failed", [])]
                run_result = RunResult(**d)
                log = Path(run_result.log)
                if log.is_file():  # figures added since the run was recorded come from its log
                    log_figures(run_result, log.read_text(encoding="utf-8", errors="replace"))
                runs[key] = run_result
            entry = Entry(**r["entry"])
            fields = {k: v for k, v in r.items() if k not in ("entry", "plain", "inst")}
            result = ModuleResult(entry, plain=runs["plain"], inst=runs["inst"], **fields)
            inst_run = runs["inst"]
            if inst_run is not None and inst_run.log.endswith(".instrumented.log"):
                report = Path(inst_run.log.removesuffix(".instrumented.log") + ".report.json")
                if report.is_file():  # likewise for the figures read from the report
                    summarize_report(report, result)
            results.append(result)
        return str(data["header"]), results
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CannotRun(f"cannot read the results in {path}: {exc}.") from None


def corpus(opts: argparse.Namespace) -> int:
    if opts.from_json:
        header, done = load_json(opts.from_json)
        emit(header, done, opts)
        return 0
    if shutil.which("go") is None:
        raise CannotRun("go is not on PATH.")
    entries = read_corpus(opts.corpus)
    if opts.only:
        entries = [e for e in entries if any(o.lower() in e.module.lower() for o in opts.only)]
        if not entries:
            raise CannotRun(f"--only {' '.join(opts.only)} matches no module of {opts.corpus}.")
    work = Path(tempfile.mkdtemp(prefix="otel-corpus-"))
    logs = opts.logs.resolve() if opts.logs else work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    def say(msg: str) -> None:
        with lock:
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        tool, tool_env, tool_desc = resolve_tool(opts.at, work)
        wrapper = work / "exec-buildinfo.sh"
        wrapper.write_text(EXEC_WRAPPER, encoding="utf-8")
        wrapper.chmod(0o755)
        gov = subprocess.run(
            ["go", "env", "GOVERSION"], capture_output=True, text=True
        ).stdout.strip()
        started = time.monotonic()
        results: list[ModuleResult | None] = [None] * len(entries)
        with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
            futures = {pool.submit(run_module, e, opts, tool, tool_env, work, logs, say): i
                       for i, e in enumerate(entries)}  # fmt: skip
            for fut in concurrent.futures.as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as exc:  # one module's surprise must not lose the others' figures
                    results[i] = ModuleResult(
                        entries[i], error=f"corpus.py error: {type(exc).__name__}: {exc}"
                    )
        done = [r for r in results if r is not None]
        total = time.monotonic() - started
        header = (
            f"Measured {datetime.date.today().isoformat()} at {tool_desc}; {gov} {platform.system().lower()}/"
            f"{platform.machine()}, {os.cpu_count()} CPUs; go test -count=1 -p {opts.p} -timeout {opts.go_timeout}; "
            f"total {total / 60:.1f} min."
        )
        emit(header, done, opts)
        if opts.keep:
            say(f"kept: the module copies under {work / 'src'}")
        if opts.keep or opts.logs:
            say(f"kept: go test outputs and reports under {logs}")
    finally:
        if not opts.keep:  # --logs DIR lies outside the work folder and stays
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
