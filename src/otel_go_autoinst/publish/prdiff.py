"""What a pull request changed, from its unified diff (parsed with unidiff).

`PrChanges` says, for each repository-relative file of the PR's head, which lines of the new
version were added or changed, where lines were deleted, and which files are new. The Markdown
renderer uses it to mark instrumented functions:

- "new in this PR": the function's opening line (the report's `line`) is an added line, or its
  file is new. A function the PR added that a rule now matches.
- "changed by this PR": any added/changed line or deletion point falls in the function's range.
  The report only has a function's opening line, so the range of a function is from its line to
  the line before the next instrumented function in the same file (or the end of the file for the
  last one). Added lines that are blank or only a `//` comment do not count (a new function's doc
  comment right after an instrumented function does not mark it). This can over-mark the last
  function of a file when the PR edits code after it; it never misses a code change inside an
  instrumented function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

DIFF_MEDIA_TYPE = "application/vnd.github.v3.diff"


@dataclass
class FileChanges:
    """Changes to one file, in line numbers of the file's new version."""

    added_lines: set[int] = field(default_factory=set)
    # the subset of added_lines that are blank or only a // comment
    trivial_lines: set[int] = field(default_factory=set)
    # new-version line numbers before which lines were removed (a pure deletion touches these)
    deletion_points: set[int] = field(default_factory=set)
    is_new: bool = False
    old_path: str | None = None


@dataclass
class PrChanges:
    files: dict[str, FileChanges] = field(default_factory=dict)

    @property
    def added_files(self) -> set[str]:
        return {path for path, fc in self.files.items() if fc.is_new}

    def changed_lines(self, path: str) -> set[int]:
        fc = self.files.get(path)
        return set(fc.added_lines) if fc else set()

    def is_new_line(self, path: str, line: int) -> bool:
        """True when `line` of `path` was added by the PR (or the whole file is new)."""
        fc = self.files.get(path)
        if fc is None:
            return False
        return fc.is_new or line in fc.added_lines

    def touches(self, path: str, first: int, last: int | None) -> bool:
        """Did the PR add, change or delete a line in [first, last]? (last None: to EOF)"""
        fc = self.files.get(path)
        if fc is None:
            return False
        if fc.is_new:
            return True
        hi = last if last is not None else float("inf")
        code_lines = fc.added_lines - fc.trivial_lines
        return any(first <= n <= hi for n in code_lines) or any(
            first < n <= hi for n in fc.deletion_points
        )


def _strip_prefix(path: str) -> str:
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


def parse_diff(text: str) -> PrChanges:
    """Parse a unified diff (as `git diff` or GitHub's diff media type prints it)."""
    changes = PrChanges()
    if not text.strip():
        return changes
    try:
        patch = PatchSet(text)
    except UnidiffParseError as exc:
        raise ValueError(f"cannot parse the pull request's diff: {exc}") from exc
    for pf in patch:
        if pf.is_removed_file:
            continue
        path = _strip_prefix(pf.target_file)
        fc = FileChanges(is_new=pf.is_added_file)
        source = _strip_prefix(pf.source_file)
        if pf.is_rename or (source != path and source != "/dev/null"):
            fc.old_path = source
        for hunk in pf:
            pending_deletion = False
            for line in hunk:
                if line.is_added and line.target_line_no is not None:
                    fc.added_lines.add(line.target_line_no)
                    stripped = line.value.strip()
                    if not stripped or stripped.startswith("//"):
                        fc.trivial_lines.add(line.target_line_no)
                    pending_deletion = False
                elif line.is_removed:
                    pending_deletion = True
                elif line.is_context and line.target_line_no is not None:
                    if pending_deletion:
                        fc.deletion_points.add(line.target_line_no)
                    pending_deletion = False
            if pending_deletion:
                # deletion at the end of a hunk: mark the line after the hunk's last target line
                fc.deletion_points.add(hunk.target_start + hunk.target_length)
        changes.files[path] = fc
    return changes


def _diff_from_files(files: Sequence[tuple[str, str, str | None, str | None]]) -> str:
    """Assemble a unified diff from the /pulls/{n}/files entries (filename, status, patch, prev)."""
    parts: list[str] = []
    for filename, status, patch, previous in files:
        if patch is None:
            continue
        old = "/dev/null" if status == "added" else f"a/{previous or filename}"
        new = "/dev/null" if status == "removed" else f"b/{filename}"
        parts.append(f"--- {old}\n+++ {new}\n{patch.rstrip(chr(10))}\n")
    return "".join(parts)


def fetch_pr_changes(
    *,
    token: str,
    repo: str,
    pr_number: int,
    api_url: str = "https://api.github.com",
) -> PrChanges:
    """Fetch the PR's diff (diff media type; the paginated files list when GitHub refuses a too
    large diff with 406) and parse it. Raises github.GithubException on API errors."""
    from github import GithubException

    from otel_go_autoinst.publish.github import make_client

    gh = make_client(token=token, api_url=api_url)
    try:
        url = f"/repos/{repo}/pulls/{int(pr_number)}"
        status, _headers, body = gh.requester.requestJson(
            "GET", url, headers={"Accept": DIFF_MEDIA_TYPE}
        )
        if status == 200:
            return parse_diff(body)
        if status != 406:
            raise GithubException(status, body, _headers)
        pull = gh.get_repo(repo).get_pull(int(pr_number))
        entries: list[tuple[str, str, str | None, str | None]] = [
            (f.filename, f.status, f.patch, f.previous_filename) for f in pull.get_files()
        ]
        changes = parse_diff(_diff_from_files(entries))
        for filename, status_, patch, _prev in entries:
            if patch is None and status_ == "added":
                changes.files[filename] = FileChanges(is_new=True)
        return changes
    finally:
        gh.close()
