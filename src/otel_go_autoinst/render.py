"""Markdown rendering of the report (job summary and sticky PR comment), and report merging.

The Markdown is rendered from the report model alone (plus, optionally, where the PR's head is and
what the PR changed), deterministically: the same report gives byte-identical Markdown, so the
sticky comment is only edited when something really changed.

Layout, top to bottom (truncation removes items from the bottom up, never the headline):

    <!-- otel-go-autoinst -->            hidden marker that finds the sticky comment
    ## headline, status line, summary    always kept
    truncation note                      only when something was left out
    build / test errors   <details>      first, they matter most when something failed
    instrumented functions table
    warnings              <details>
    rules, binaries, output tail <details>
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from otel_go_autoinst.report import (
    SCHEMA_VERSION,
    Binary,
    DependencyChange,
    Diagnostic,
    InstrumentedFunction,
    ModuleInfo,
    Report,
    RuleInfo,
    StepOutcome,
)

if TYPE_CHECKING:
    from otel_go_autoinst.publish.prdiff import PrChanges

COMMENT_MARKER = "<!-- otel-go-autoinst -->"
COMMENT_LIMIT = 65_536  # GitHub's limit for an issue comment body, in characters
SUMMARY_LIMIT = 1_048_576  # GitHub's limit for a job summary (1 MiB)

_MAX_ITEM_CHARS = 2_000  # one error message or warning
_MAX_TAIL_CHARS = 6_000  # the output tail of a failed step

_STATUS = {"passed": "✅ passed", "failed": "❌ failed", "skipped": "⏭️ skipped"}
_INLINED = {True: "✓", False: "✗", None: "?"}


# --------------------------------------------------------------------------- escaping


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def escape_text(text: str) -> str:
    """Plain Markdown text (table cells, list items): no HTML, no table breaks, no formatting."""
    text = re.sub(r"([\\*_\[\]~#!])", r"\\\1", " ".join(text.split()))
    text = re.sub(r"@(?=[A-Za-z0-9])", "@\u200b", text)  # no live @user / @org/team mention
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "&#124;").replace("`", "&#96;")


def code(text: str) -> str:
    """An inline code span that is safe in a table cell."""
    text = " ".join(text.split())
    if not text or "`" in text:
        return escape_text(text)
    return "`" + text.replace("|", "\\|") + "`"


def _fence(text: str, lang: str = "text") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --------------------------------------------------------------------------- table rows


def method_name(fn: InstrumentedFunction) -> str:
    """`(*Recv).Name` for pointer receivers, `Recv.Name` for value receivers, `Name` otherwise."""
    if not fn.receiver:
        return fn.function
    recv = fn.receiver.strip()
    if recv.startswith("*"):
        return f"({recv}).{fn.function}"
    return f"{recv}.{fn.function}"


def is_repo_file(path: str) -> bool:
    """Whether a report's file may become a link into the repository: a relative path with no
    `..` or `.` segment, no scheme and no backslash (the report may come from a fork)."""
    parts = path.split("/")
    return not (
        path.startswith(("GOROOT/", "GOMODCACHE/", "/"))
        or any(part in ("..", ".", "") for part in parts)
        or "\\" in path
        or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", path)
    )


def _origin(fn: InstrumentedFunction) -> int:
    """Sort order: the repository's own code first, then dependencies, then the standard library."""
    if fn.module == "std" or fn.file.startswith("GOROOT/"):
        return 2
    if fn.file.startswith("GOMODCACHE/") or not is_repo_file(fn.file):
        return 1
    return 0


def _sort_key(fn: InstrumentedFunction) -> tuple[int, str, str, int, str, str]:
    return (_origin(fn), fn.package, fn.file, fn.line, fn.receiver or "", fn.function)


def source_link(fn: InstrumentedFunction, repo_url: str | None, head_sha: str | None) -> str:
    label = f"{fn.file}:{fn.line}"
    if repo_url and head_sha and is_repo_file(fn.file):
        url = f"{repo_url.rstrip('/')}/blob/{head_sha}/{quote(fn.file, safe='/')}#L{fn.line}"
        return f"[{escape_text(label)}]({url})"
    return code(label)


def _marks(report: Report, changes: PrChanges | None) -> dict[int, str]:
    """Index in report.instrumented -> "new" | "changed" (see publish/prdiff.py for the rule)."""
    if changes is None:
        return {}
    by_file: dict[str, list[int]] = {}
    for i, fn in enumerate(report.instrumented):
        if is_repo_file(fn.file):
            by_file.setdefault(fn.file, []).append(i)
    marks: dict[int, str] = {}
    for path, idxs in by_file.items():
        starts = sorted({report.instrumented[i].line for i in idxs})
        for i in idxs:
            line = report.instrumented[i].line
            later = [s for s in starts if s > line]
            end = later[0] - 1 if later else None
            if changes.is_new_line(path, line):
                marks[i] = "new"
            elif changes.touches(path, line, end):
                marks[i] = "changed"
    return marks


_MARK_TEXT = {"new": "🆕 new", "changed": "✏️ changed"}


# --------------------------------------------------------------------------- blocks


@dataclass
class _Block:
    """A part of the document made of items; truncation keeps a prefix of the items."""

    kind: str  # "table" | "details"
    title: str
    items: list[str]
    head: list[str] = field(default_factory=list)  # table header lines
    open: bool = False

    def render(self, keep: int) -> str:
        kept = self.items[:keep]
        if not kept:
            return ""
        if self.kind == "table":
            return "\n".join([f"### {self.title}", "", *self.head, *kept]) + "\n"
        attr = " open" if self.open else ""
        body = "\n".join(kept)
        return f"<details{attr}><summary>{self.title}</summary>\n\n{body}\n\n</details>\n"


def _step_line(name: str, step: StepOutcome | None, durations: bool) -> str:
    if step is None:
        return f"{name}: not run"
    status = _STATUS.get(step.status, escape_text(step.status))
    if step.status == "skipped" or not durations:
        return f"{name}: {status}"
    return f"{name}: {status} in {_duration(step.duration_s)}"


def _diagnostic(d: Diagnostic) -> str:
    where = f"{d.file}:{d.line}:{d.column}" if d.column else f"{d.file}:{d.line}"
    return f"- {code(where)} {escape_text(_clip(d.message, _MAX_ITEM_CHARS))}"


def _header(
    report: Report, marks: dict[int, str], changes: PrChanges | None, durations: bool
) -> list[str]:
    fns = report.instrumented
    packages = {fn.package for fn in fns}
    own = sum(1 for fn in fns if _origin(fn) == 0)
    deps = sum(1 for fn in fns if _origin(fn) == 1)
    std = sum(1 for fn in fns if _origin(fn) == 2)
    failed = any(s is not None and s.status == "failed" for s in (report.build, report.test))
    icon = "❌" if failed else ("✅" if fns else "ℹ️")
    lines = [
        COMMENT_MARKER,
        "## OpenTelemetry auto-instrumentation",
        "",
        f"{icon} **{_plural(len(fns), 'function')} instrumented** in "
        f"{_plural(len(packages), 'package')} "
        f"({own} in this repository, {deps} in dependencies, {std} in the standard library)",
        "",
        f"{_step_line('Build', report.build, durations)} · "
        f"{_step_line('Tests', report.test, durations)}"
        + (f" · Go {escape_text(report.go_version)}" if report.go_version else ""),
    ]
    if report.modules:
        mods = ", ".join(code(m.path) for m in sorted(report.modules, key=lambda m: m.path))
        lines += ["", f"Modules: {mods}"]
    if changes is not None:
        new = sum(1 for m in marks.values() if m == "new")
        changed = sum(1 for m in marks.values() if m == "changed")
        lines += [
            "",
            f"This pull request: {_plural(changed, 'instrumented function')} changed, "
            f"{_plural(new, 'new function')} now matched by a rule.",
        ]
    if fns:
        opt = Counter(fn.optimization for fn in fns)
        inl = Counter(fn.inlined for fn in fns)
        opts = ", ".join(f"{code(k)} {v}" for k, v in sorted(opt.items()))
        lines += [
            "",
            f"Optimizations: {opts} · trampolines inlined: {inl[True]} of {len(fns)}"
            + (f" ({inl[None]} unknown)" if inl[None] else "")
            + f" · functions still inlinable: {sum(1 for fn in fns if fn.raw_inlinable)}",
        ]
    if report.warnings:
        lines += ["", f"⚠️ {_plural(len(report.warnings), 'warning')} (see below)"]
    if report.dependency_changes:
        lines += [
            "",
            f"⬆️ {_plural(len(report.dependency_changes), 'dependency version')} changed by the "
            "hooks' requirements (see below)",
        ]
    if not fns and not failed:
        lines += ["", "No function matched an instrumentation rule."]
    lines.append("")
    return lines


def _blocks(
    report: Report,
    repo_url: str | None,
    head_sha: str | None,
    marks: dict[int, str],
    with_marks: bool,
) -> list[_Block]:
    blocks: list[_Block] = []
    for name, step in (("Build", report.build), ("Test", report.test)):
        if step is None or step.status != "failed":
            continue
        items = [_diagnostic(d) for d in sorted(step.errors, key=_diag_key)]
        title = f"{name} errors ({len(step.errors)})" if step.errors else f"{name} failed"
        if step.command:
            items.insert(0, f"Command: {code(' '.join(step.command))} (exit code {step.exit_code})")
        if step.output_tail.strip():
            tail = step.output_tail[-_MAX_TAIL_CHARS:]
            items.append("\nLast lines of output:\n\n" + _fence(tail))
        blocks.append(_Block("details", title, items, open=True))

    head = ["| Package | Method | Optimization | Trampoline inlined | Function inlinable | Source |"]
    head.append("|---|---|---|:---:|:---:|---|")
    if with_marks:
        head = ["| PR " + head[0], "|---" + head[1]]
    # One table per integration (the rule sets that instrument a function, joined).
    groups: dict[str, list[int]] = {}
    for i in sorted(range(len(report.instrumented)), key=lambda i: _sort_key(report.instrumented[i])):
        groups.setdefault(", ".join(sorted(report.instrumented[i].rules)), []).append(i)
    for integration, indexes in sorted(groups.items()):
        rows = []
        for i in indexes:
            fn = report.instrumented[i]
            cells = [
                code(fn.package),
                code(method_name(fn)),
                code(fn.optimization),
                _INLINED.get(fn.inlined, "?"),
                _INLINED.get(fn.raw_inlinable, "?"),
                source_link(fn, repo_url, head_sha),
            ]
            if with_marks:
                cells.insert(0, _MARK_TEXT.get(marks.get(i, ""), ""))
            rows.append("| " + " | ".join(cells) + " |")
        title = f"Instrumented functions: {escape_text(integration) or 'no rule'} ({len(rows)})"
        blocks.append(_Block("table", title, rows, head=head))

    if report.warnings:
        items = [f"- {escape_text(_clip(w, _MAX_ITEM_CHARS))}" for w in sorted(report.warnings)]
        blocks.append(_Block("details", f"Warnings ({len(report.warnings)})", items))
    if report.dependency_changes:
        items = [
            f"- {code(c.module)} {code(c.plain)} → {code(c.instrumented)}"
            for c in sorted(report.dependency_changes, key=lambda c: c.module)
        ]
        title = f"Dependency versions changed ({len(report.dependency_changes)})"
        blocks.append(_Block("details", title, items))
    if report.rules:
        items = [
            f"- {code(r.name)} {'(built-in)' if r.builtin else code(r.path)} hooks {code(r.hooks)}"
            for r in sorted(report.rules, key=lambda r: (r.name, r.path))
        ]
        blocks.append(_Block("details", f"Rules loaded ({len(report.rules)})", items))
    if report.binaries:
        items = [
            f"- {code(b.path)} {escape_text(f'{b.goos}/{b.goarch}')} sha256 {code(b.sha256)}"
            for b in sorted(report.binaries, key=lambda b: b.path)
        ]
        blocks.append(_Block("details", f"Binaries ({len(report.binaries)})", items))
    return blocks


def _diag_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.line, d.column, d.message)


def _footer(report: Report) -> str:
    version = f" {escape_text(report.tool_version)}" if report.tool_version else ""
    return f"<sub>otel-go-autoinst{version} · rendered from the report JSON</sub>\n"


def _note(left_out: list[tuple[_Block, int]]) -> str:
    parts = []
    for block, n in left_out:
        total = len(block.items)
        if block.kind == "table":
            parts.append(f"{n} of {total} table rows")
        elif n == total:
            parts.append(f"the section “{block.title}”")
        else:
            parts.append(f"{n} of {total} entries of “{block.title}”")
    return (
        "> [!NOTE]\n> This report was truncated to fit GitHub's size limit: "
        f"{'; '.join(parts)} left out. The full report is in the JSON artifact.\n"
    )


def render_markdown(
    report: Report,
    *,
    repo_url: str | None = None,
    head_sha: str | None = None,
    changes: PrChanges | None = None,
    limit: int = 65_000,
    byte_limit: int | None = None,
    durations: bool = True,
) -> str:
    """Render the report as Markdown of at most `limit` characters (marker line first).

    `durations=False` leaves build and test times out: the sticky comment then stays the same
    for a re-run of the same commit, and is not edited.

    `byte_limit`, when given, also bounds the UTF-8 size (the job summary's limit is 1 MiB of
    bytes, e.g. `limit=SUMMARY_LIMIT, byte_limit=SUMMARY_LIMIT`; a comment's is 65,536 characters).
    """

    def fits(candidate: str) -> bool:
        if len(candidate) > limit:
            return False
        return byte_limit is None or len(candidate.encode("utf-8")) <= byte_limit

    marks = _marks(report, changes)
    header = "\n".join(_header(report, marks, changes, durations)) + "\n"
    blocks = _blocks(report, repo_url, head_sha, marks, changes is not None)
    footer = _footer(report)
    total = sum(len(b.items) for b in blocks)

    def assemble(keep: int) -> str:
        parts = [header]
        left_out: list[tuple[_Block, int]] = []
        body: list[str] = []
        remaining = keep
        for b in blocks:
            k = min(remaining, len(b.items))
            remaining -= k
            if k < len(b.items):
                left_out.append((b, len(b.items) - k))
            text = b.render(k)
            if text:
                body.append(text)
        if left_out:
            parts.append(_note(left_out) + "\n")
        parts.append("\n".join(body))
        if body:
            parts.append("\n")
        parts.append(footer)
        return "".join(parts)

    text = assemble(total)
    if fits(text):
        return text
    lo, hi = 0, total - 1  # find the largest number of items that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(assemble(mid)):
            lo = mid
        else:
            hi = mid - 1
    text = assemble(lo)
    if fits(text):
        return text
    # Even the headline does not fit (absurdly small limit): cut hard, keep the marker.
    tail = "\n\n… (truncated; the full report is in the JSON artifact)\n"
    cut = text[: max(limit - len(tail), 0)]
    while cut and not fits(cut + tail):  # only the headline is left here: a few hundred chars
        cut = cut[:-1]
    if cut.startswith(COMMENT_MARKER):
        return cut + tail
    return COMMENT_MARKER[:limit] if fits(COMMENT_MARKER[:limit]) else ""


# --------------------------------------------------------------------------- merging


def _merge_steps(steps: list[StepOutcome | None]) -> StepOutcome | None:
    present = [s for s in steps if s is not None]
    if not present:
        return None
    statuses = {s.status for s in present}
    if "failed" in statuses:
        status = "failed"
    elif "passed" in statuses:
        status = "passed"
    else:
        status = "skipped"
    exit_code = next((s.exit_code for s in present if s.exit_code != 0), 0)
    commands = [s.command for s in present]
    command = commands[0] if all(c == commands[0] for c in commands) else []
    if not command:
        distinct: list[list[str]] = []
        for c in commands:
            if c and c not in distinct:
                distinct.append(c)
        for c in distinct:
            command += (["&&"] if command else []) + list(c)
    errors: list[Diagnostic] = []
    seen: set[tuple[str, int, int, str]] = set()
    for s in present:
        for d in s.errors:
            if _diag_key(d) not in seen:
                seen.add(_diag_key(d))
                errors.append(d)
    tails = [s.output_tail for s in present if s.status == "failed" and s.output_tail]
    return StepOutcome(
        command=command,
        status=status,
        exit_code=exit_code,
        duration_s=round(sum(s.duration_s for s in present), 3),
        errors=errors,
        output_tail="\n".join(tails)[-_MAX_TAIL_CHARS * 2 :],
    )


def merge_reports(reports: Sequence[Report]) -> Report:
    """Fold several reports (one per module or job) into one, for a single comment.

    Unions of modules, rules, instrumented functions (one entry per function: rules are united,
    `inlined` is kept when all agree, else unknown), warnings and binaries; build/test fail if any
    failed, durations are summed. Order: first appearance.
    """
    if not reports:
        raise ValueError("merge_reports needs at least one report")
    if len(reports) == 1:
        return Report.from_dict(reports[0].to_dict())

    def unique(values: list[str]) -> str:
        vals = sorted({v for v in values if v})
        return ", ".join(vals)

    roots = {r.root for r in reports}
    modules: dict[tuple[str, str], ModuleInfo] = {}
    rules: dict[tuple[str, str], RuleInfo] = {}
    fns: dict[tuple[str, str, int, str, str], InstrumentedFunction] = {}
    warnings: dict[str, None] = {}
    changes: dict[tuple[str, str, str], DependencyChange] = {}
    binaries: dict[str, Binary] = {}
    for r in reports:
        for m in r.modules:
            modules.setdefault((m.path, m.dir), ModuleInfo(**vars(m)))
        for rule in r.rules:
            rules.setdefault((rule.name, rule.path), RuleInfo(**vars(rule)))
        for fn in r.instrumented:
            key = (fn.package, fn.file, fn.line, fn.receiver or "", fn.function)
            have = fns.get(key)
            if have is None:
                fns[key] = InstrumentedFunction(**{**vars(fn), "rules": list(fn.rules)})
                continue
            have.rules += [x for x in fn.rules if x not in have.rules]
            if have.inlined != fn.inlined:
                have.inlined = None
            if have.raw_inlinable != fn.raw_inlinable:
                have.raw_inlinable = None
        for w in r.warnings:
            warnings.setdefault(w, None)
        for c in r.dependency_changes:
            changes.setdefault((c.module, c.plain, c.instrumented), DependencyChange(**vars(c)))
        for b in r.binaries:
            binaries.setdefault(b.path, Binary(**vars(b)))
    return Report(
        root=roots.pop() if len(roots) == 1 else ".",
        go_version=unique([r.go_version for r in reports]),
        modules=list(modules.values()),
        rules=list(rules.values()),
        instrumented=list(fns.values()),
        warnings=list(warnings),
        dependency_changes=list(changes.values()),
        build=_merge_steps([r.build for r in reports]),
        test=_merge_steps([r.test for r in reports]),
        binaries=list(binaries.values()),
        schema=SCHEMA_VERSION,
        tool_version=next((r.tool_version for r in reports if r.tool_version), ""),
    )
