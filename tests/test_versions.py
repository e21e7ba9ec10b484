"""Version ranges over Go module versions and Go toolchain versions."""

from __future__ import annotations

import pytest

from otel_go_autoinst.versions import (
    VersionRange,
    go_version_key,
    module_version_key,
    version_key,
)

# (range, version, expected)
MODULE_CASES = [
    # inclusive / exclusive ends
    ("[1.9.0,1.11.0)", "v1.9.0", True),
    ("[1.9.0,1.11.0)", "v1.10.7", True),
    ("[1.9.0,1.11.0)", "v1.11.0", False),
    ("[1.9.0,1.11.0)", "v1.8.9", False),
    ("(1.9.0,1.11.0]", "v1.9.0", False),
    ("(1.9.0,1.11.0]", "v1.9.1", True),
    ("(1.9.0,1.11.0]", "v1.11.0", True),
    ("[v1.9.0,v1.11.0]", "1.11.0", True),
    # open ends
    ("[1.2.0,)", "v1.2.0", True),
    ("[1.2.0,)", "v99.0.0", True),
    ("[1.2.0,)", "v1.1.9", False),
    ("(,2.0.0)", "v0.0.1", True),
    ("(,2.0.0)", "v2.0.0", False),
    ("(,2.0.0]", "v2.0.0", True),
    ("[,2.0.0)", "v1.0.0", True),
    ("(,)", "v3.4.5", True),
    ("[ 1.0.0 , 2.0.0 )", "v1.5.0", True),
    # a bare version is that version only
    ("v1.2.3", "v1.2.3", True),
    ("1.2.3", "v1.2.3", True),
    ("v1.2.3", "v1.2.4", False),
    ("v1.2.3", "v1.2.3-rc.1", False),
    # short forms
    ("[v1,v2)", "v1.9.9", True),
    ("[1.2,)", "v1.2.0", True),
    # pseudo-versions
    ("[1.2.3,1.2.4)", "v1.2.4-0.20230101120000-abcdef123456", True),
    ("(1.2.3,)", "v1.2.4-0.20230101120000-abcdef123456", True),
    ("[1.2.4,)", "v1.2.4-0.20230101120000-abcdef123456", False),
    ("(,0.1.0)", "v0.0.0-20230101120000-abcdef123456", True),
    ("[0.0.0,)", "v0.0.0-20230101120000-abcdef123456", False),
    ("[1.2.4-pre,1.2.4)", "v1.2.4-pre.0.20230101120000-abcdef123456", True),
    # +incompatible compares as the plain version
    ("[2.3.0,2.3.0]", "v2.3.0+incompatible", True),
    ("v2.3.0", "v2.3.0+incompatible", True),
    ("[2.0.0,2.3.0)", "v2.3.0+incompatible", False),
    ("[v2.0.0+incompatible,)", "v2.1.0+incompatible", True),
    # prereleases
    ("[1.0.0,)", "v1.0.0-rc.1", False),
    ("[1.0.0-rc.1,)", "v1.0.0-rc.1", True),
    ("[1.0.0-rc.1,)", "v1.0.0-rc.2", True),
    ("[1.0.0-rc.2,)", "v1.0.0-rc.10", True),
    ("[1.0.0-alpha,1.0.0-beta)", "v1.0.0-alpha.1", True),
    ("(,1.0.0)", "v1.0.0-rc.1", True),
]

GO_CASES = [
    ("[1.22,)", "go1.22.3", True),
    ("[1.22,)", "go1.22", True),
    ("[1.22,)", "1.22.0", True),
    ("[1.22,)", "go1.21.13", False),
    ("[1.22,)", "go1.22rc1", False),
    ("[1.22rc1,)", "go1.22rc1", True),
    ("[go1.22rc2,)", "go1.22rc10", True),
    ("[1.22.0,1.23)", "go1.23beta1", True),
    ("[1.22.0,1.23)", "go1.23rc1", True),
    ("[1.22.0,1.23)", "go1.23", False),
    ("[1.23beta2,1.23rc1)", "go1.23beta3", True),
    ("[1.23rc1,)", "go1.23beta9", False),
    ("1.22", "go1.22.0", True),
    ("1.22.0", "go1.22", True),
    ("go1.22", "1.22.1", False),
    ("[1.21,1.21]", "go1.21.0", True),
    ("(,1.21)", "go1.20.14", True),
    ("(,1.21)", "go1.21rc2", True),
    ("[1.9.0,1.11.0)", "go1.10", True),
    ("[1.21,)", "go1.22.3 X:nocoverageredesign", True),
    ("[1.24rc1,)", "devel go1.24-abcdef012345 Tue Jan 1 00:00:00 2025 +0000", False),
    ("(1.23.9,1.24.0)", "devel go1.24-abcdef012345", True),
    ("[1,)", "go1", True),
]


@pytest.mark.parametrize(("text", "version", "expected"), MODULE_CASES)
def test_module_versions(text: str, version: str, expected: bool) -> None:
    assert VersionRange.parse(text).contains(version) is expected


@pytest.mark.parametrize(("text", "version", "expected"), GO_CASES)
def test_go_versions(text: str, version: str, expected: bool) -> None:
    assert VersionRange.parse(text).contains(version) is expected


@pytest.mark.parametrize(("text", "version", "expected"), GO_CASES)
def test_go_versions_when_the_caller_says_so(text: str, version: str, expected: bool) -> None:
    # With go=True the "go" prefix of the version is optional.
    bare = version.removeprefix("go")
    assert VersionRange.parse(text).contains(bare, go=True) is expected


def test_go_flag_is_strict() -> None:
    with pytest.raises(ValueError, match="not a Go version"):
        VersionRange.parse("[1.0.0,)").contains("v1.2.3", go=True)
    # Auto-detection reads Go's own prerelease syntax without the prefix too.
    assert VersionRange.parse("[1.21,)").contains("1.21rc2") is False


ORDERED_GO = ["go1", "go1.9beta1", "go1.9rc1", "go1.9", "1.9.1", "go1.21rc2", "go1.21rc10", "1.21"]


def test_go_version_key_order() -> None:
    keys = [go_version_key(v) for v in ORDERED_GO]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert go_version_key("1.22") == go_version_key("go1.22.0") == go_version_key("1.22.0")
    assert go_version_key("go1.23beta1") < go_version_key("go1.23rc1") < go_version_key("go1.23")


def test_module_version_key_order() -> None:
    ordered = [
        "v0.0.0-20220101000000-aaaaaaaaaaaa",
        "v0.0.0-20230101000000-aaaaaaaaaaaa",
        "v0.1.0",
        "v1.2.3",
        "v1.2.4-0.20230101120000-abcdef123456",
        "v1.2.4-rc.1",
        "v1.2.4",
        "v2.3.0+incompatible",
        "v2.3.1",
    ]
    keys = [module_version_key(v) for v in ordered]
    assert keys == sorted(keys)
    assert module_version_key("v2.3.0+incompatible") == module_version_key("2.3.0")


def test_keys_of_both_kinds_compare() -> None:
    assert version_key("go1.22.3") == version_key("v1.22.3")
    assert version_key("1.21rc2") < version_key("v1.21.0")


def test_range_keeps_its_text_and_bounds() -> None:
    r = VersionRange.parse("  [1.9.0,1.11.0)  ")
    assert r.text == "[1.9.0,1.11.0)"
    assert str(r) == "[1.9.0,1.11.0)"
    assert r == VersionRange("[1.9.0,1.11.0)")
    assert r.lower == version_key("1.9.0") and r.lower_inclusive
    assert r.upper == version_key("1.11.0") and not r.upper_inclusive
    open_range = VersionRange.parse("(,2.0.0)")
    assert open_range.lower is None
    assert {r, VersionRange("[1.9.0,1.11.0)")} == {r}


BAD_RANGES = [
    ("", "empty"),
    ("   ", "empty"),
    ("[1.9.0,1.11.0", 'must end with "]" or ")"'),
    ("1.9.0,1.11.0)", 'must start with "[" or "("'),
    ("1.9.0,1.11.0", 'must start with "[" or "("'),
    ("[1.0.0]", "exactly one comma"),
    ("[1.0.0,2.0.0,3.0.0)", "exactly one comma"),
    ("[abc,)", '"abc" as an end, which is not a version'),
    ("[1.0.0,x.y)", '"x.y" as an end'),
    ("[2.0.0,1.0.0)", "lower end 2.0.0 is above its upper end"),
    ("[1.0.0,1.0.0)", "one of them is excluded"),
    ("(1.0.0,1.0.0]", "one of them is excluded"),
    ("latest", "not a version"),
    ("v1.2.3.4", "not a version"),
    ("go1.2x", "not a version"),
    ("v01.2.3", "not a version"),
]


@pytest.mark.parametrize(("text", "message"), BAD_RANGES)
def test_bad_ranges(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        VersionRange.parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize("value", [None, 1.22, 12])
def test_bad_range_types(value: object) -> None:
    with pytest.raises(ValueError, match="expected a range like"):
        VersionRange.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["", "latest", "v1.2.3.4", "go", "gox1.2"])
def test_bad_versions_in_contains(version: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        VersionRange.parse("[1.0.0,)").contains(version)
