"""Version ranges of rules: `[1.9.0,1.11.0)`, either end open, over module versions and Go releases.

Two kinds of versions meet here, and both map onto one ordering (a `semver.Version`), so a range
can be written in either syntax and tested against either kind:

* Go module versions (`module_version_key`): semantic versions with an optional leading `v`
  (`v1.2.3`, `1.2.3-rc.1`), pseudo-versions (`v0.0.0-20230101120000-abcdef123456`,
  `v1.2.4-0.20230101120000-abcdef123456`, which sorts after v1.2.3 and before v1.2.4 by plain
  semver prerelease ordering), and `+incompatible` (build metadata: `v2.3.0+incompatible`
  compares equal to 2.3.0). The short forms `v1` / `v1.2` mean `v1.0.0` / `v1.2.0`.
* Go toolchain versions (`go_version_key`), also used as the standard library's "module version":
  `go1.22.3`, `1.22`, `1.22.0`, `go1.21rc2`, `go1.23beta1`. `1.22` equals `1.22.0` (unlike Go's own
  `gover`, where the language version `1.22` sorts before `1.22rc1`); `1.21rc2` becomes
  `1.21.0-rc.2` and `1.23beta1` becomes `1.23.0-beta.1`, so alpha < beta < rc < the release and
  `rc2` < `rc10`. Output of `go env GOVERSION` is accepted too: a trailing ` X:...` is dropped,
  `devel go1.24-abcdef` is `1.24.0-devel`, and a custom-build suffix (`go1.22.3-corp`) is ignored.

`VersionRange.contains(version, *, go=False)`: with `go=True` the version is read strictly as a Go
toolchain version; otherwise the kind is detected: text starting with `go` (or `devel`) is a Go
version, anything else a module version, falling back to the Go syntax (so `1.21rc2` works too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import semver

_GO_VERSION = re.compile(
    r"^(?:devel\s+)?go(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:(?P<pre>alpha|beta|rc)(?P<pre_n>\d+))?(?:-(?P<suffix>\S*))?$"
)

_RANGE_EXAMPLE = (
    'a range like "[1.9.0,1.11.0)", "[1.21,)" or "(,2.0.0]", or one version like "v1.2.3"'
)


def go_version_key(text: str) -> semver.Version:
    """The sort key of a Go toolchain version (`go1.22.3`, `1.22`, `go1.21rc2`...).

    Keys compare with each other and with `module_version_key` keys; raises ValueError.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a Go version (expected text like go1.22.3)")
    s = text.strip()
    devel = s.startswith("devel")
    # `go env GOVERSION` may append experiments and dates: "go1.22.3 X:nocoverageredesign".
    parts = s.split()
    if devel and len(parts) >= 2:
        s = "devel " + parts[1]
    elif parts:
        s = parts[0]
    if not devel and not s.startswith("go"):
        s = "go" + s
    m = _GO_VERSION.match(s)
    if m is None:
        raise ValueError(
            f"{text!r} is not a Go version (expected text like go1.22.3, 1.22 or go1.21rc2)"
        )
    prerelease: str | None = None
    if m["pre"]:
        prerelease = f"{m['pre']}.{int(m['pre_n'])}"
    elif devel:
        prerelease = "devel"
    return semver.Version(
        int(m["major"]), int(m["minor"] or 0), int(m["patch"] or 0), prerelease=prerelease
    )


def module_version_key(text: str) -> semver.Version:
    """The sort key of a Go module version (`v1.2.3`, pseudo-versions, `+incompatible`...).

    Keys compare with each other and with `go_version_key` keys; raises ValueError.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a module version (expected text like v1.2.3)")
    s = text.strip()
    if s.startswith("v"):
        s = s[1:]
    try:
        return semver.Version.parse(s, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        raise ValueError(
            f"{text!r} is not a module version (expected a semantic version like v1.2.3)"
        ) from None


def version_key(text: str) -> semver.Version:
    """The sort key of either kind: `go...` is a Go version, else a module version or Go syntax."""
    s = text.strip() if isinstance(text, str) else text
    if isinstance(s, str) and s.startswith(("go", "devel")):
        return go_version_key(s)
    try:
        return module_version_key(s)
    except ValueError:
        pass
    try:
        return go_version_key(s)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a version (expected a module version like v1.2.3 "
            "or a Go version like go1.22.3)"
        ) from None


@dataclass(frozen=True)
class VersionRange:
    """A range of versions parsed from its text: `[1.9.0,1.11.0)`, `[1.2.0,)`, `(,2.0.0)`, `v1.2.3`.

    `[`/`]` include the end, `(`/`)` exclude it, an empty end is open; a bare version is that
    version only. Equality is by text.
    """

    text: str
    # Filled from `text` by __post_init__; None for an open end.
    lower: semver.Version | None = field(default=None, init=False, compare=False, repr=False)
    lower_inclusive: bool = field(default=False, init=False, compare=False, repr=False)
    upper: semver.Version | None = field(default=None, init=False, compare=False, repr=False)
    upper_inclusive: bool = field(default=False, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        lower, lower_inc, upper, upper_inc = _parse_range(self.text)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "lower_inclusive", lower_inc)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "upper_inclusive", upper_inc)

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Parse range text; raises ValueError with a message saying what is wrong."""
        if not isinstance(text, str):
            raise ValueError(f"expected {_RANGE_EXAMPLE}, got {text!r}")
        return cls(text.strip())

    def contains(self, version: str, *, go: bool = False) -> bool:
        """Whether `version` is in the range; `go=True` reads it strictly as a Go toolchain version.

        Raises ValueError when `version` is not a version.
        """
        key = go_version_key(version) if go else version_key(version)
        if self.lower is not None:
            if key < self.lower or (key == self.lower and not self.lower_inclusive):
                return False
        if self.upper is not None:
            if key > self.upper or (key == self.upper and not self.upper_inclusive):
                return False
        return True

    def __str__(self) -> str:
        return self.text


def _parse_range(
    text: str,
) -> tuple[semver.Version | None, bool, semver.Version | None, bool]:
    if not isinstance(text, str):
        raise ValueError(f"expected {_RANGE_EXAMPLE}, got {text!r}")
    s = text.strip()
    if not s:
        raise ValueError(f"the version range is empty; expected {_RANGE_EXAMPLE}")
    if s[0] not in "[(":
        if s[-1] in "])" or "," in s:
            raise ValueError(f'"{s}" must start with "[" or "("; expected {_RANGE_EXAMPLE}')
        key = _bound(s, s)
        return key, True, key, True
    if s[-1] not in "])":
        raise ValueError(f'"{s}" must end with "]" or ")"; expected {_RANGE_EXAMPLE}')
    inner = s[1:-1]
    if inner.count(",") != 1:
        raise ValueError(
            f'"{s}" must have exactly one comma between its two ends; expected {_RANGE_EXAMPLE}'
        )
    low_text, high_text = (part.strip() for part in inner.split(","))
    lower = _bound(low_text, s) if low_text else None
    upper = _bound(high_text, s) if high_text else None
    lower_inc = s[0] == "["
    upper_inc = s[-1] == "]"
    if lower is not None and upper is not None:
        if lower > upper:
            raise ValueError(f'"{s}" is empty: its lower end {low_text} is above its upper end')
        if lower == upper and not (lower_inc and upper_inc):
            raise ValueError(
                f'"{s}" is empty: both ends are {low_text} and one of them is excluded'
            )
    return lower, lower_inc, upper, upper_inc


def _bound(part: str, whole: str) -> semver.Version:
    try:
        return version_key(part)
    except ValueError:
        raise ValueError(
            f'"{whole}" has "{part}" as an end, which is not a version '
            "(expected a module version like v1.2.3 or a Go version like 1.22 or go1.21rc2)"
        ) from None
