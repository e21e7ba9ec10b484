"""The rule loader: real YAML files, built-in and user sets, and one-sentence errors."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_go_autoinst.errors import UserError
from otel_go_autoinst.rules import (
    FileRule,
    FunctionRule,
    RuleSet,
    StructRule,
    builtin_rules_dir,
    load_rule_file,
    load_rule_sets,
)
from otel_go_autoinst.versions import VersionRange

DATA = Path(__file__).parent / "data" / "rules"


@pytest.fixture
def empty_builtin(tmp_path: Path) -> Path:
    folder = tmp_path / "no-builtins"
    folder.mkdir()
    return folder


@pytest.fixture
def builtin(tmp_path: Path) -> Path:
    folder = tmp_path / "builtin"
    shutil.copytree(DATA / "builtin", folder)
    return folder


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    """Run in tmp_path so that messages show paths relative to it."""
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------
# Good input


def test_good_set_all_kinds(empty_builtin: Path) -> None:
    path = DATA / "good" / "nethttp.yaml"
    [rs] = load_rule_sets([path], builtin_dir=empty_builtin)
    assert isinstance(rs, RuleSet)
    assert rs.name == "nethttp"
    assert rs.hooks == "github.com/example/hooks/nethttp"
    assert rs.builtin is False
    assert rs.support is True
    assert rs.path == path.absolute()

    rt, main = rs.functions
    assert rt == FunctionRule(
        import_path="net/http",
        function="RoundTrip",
        receiver="*Transport",
        version=VersionRange("[1.21.0,)"),
        go_version=VersionRange("[1.22,)"),
        on_enter="clientOnEnter",
        on_exit="clientOnExit",
        order=10,
        source=rt.source,
    )
    assert rt.source.endswith("nethttp.yaml:6")
    assert rt.version is not None and rt.version.contains("v1.21.0")
    assert rt.go_version is not None and rt.go_version.contains("go1.22.3")
    assert not rt.go_version.contains("go1.21.5")

    # Defaults, and the special import path "main".
    assert main.import_path == "main"
    assert main.receiver is None
    assert main.on_enter is None
    assert main.on_exit == "mainOnExit"
    assert main.order == 0
    assert main.version is None and main.go_version is None
    assert main.source.endswith("nethttp.yaml:15")

    [st] = rs.structs
    assert st == StructRule(
        import_path="net/http",
        struct="Request",
        field_name="OtelSpan",
        field_type="any",
        source=st.source,
    )
    assert st.source.endswith("nethttp.yaml:19")

    [fr] = rs.files
    assert isinstance(fr, FileRule)
    assert fr.file == (DATA / "good" / "extra_http.go").absolute()
    assert fr.file.is_absolute()
    assert fr.version == VersionRange("v1.22.3")
    assert fr.source.endswith("nethttp.yaml:24")


def test_source_is_relative_to_cwd(in_tmp: Path) -> None:
    write(
        in_tmp,
        "r/set.yaml",
        "name: s\nhooks: example.com/h\nrules:\n  - import_path: a/b\n"
        "    function: F\n    on_enter: fOnEnter\n",
    )
    [rs] = load_rule_sets([in_tmp / "r" / "set.yaml"], builtin_dir=in_tmp / "none")
    assert rs.functions[0].source == os.path.join("r", "set.yaml") + ":4"
    [rs] = load_rule_sets([Path("r")], builtin_dir=in_tmp / "none")
    assert rs.functions[0].source == os.path.join("r", "set.yaml") + ":4"


def test_minimal_set_without_rules(empty_builtin: Path) -> None:
    [rs] = load_rule_sets([DATA / "tree" / "sub" / "b.yml"], builtin_dir=empty_builtin)
    assert rs.name == "tree_b"
    assert rs.support is False
    assert rs.functions == () and rs.structs == () and rs.files == ()


def test_folder_is_searched_recursively(empty_builtin: Path) -> None:
    sets = load_rule_sets([DATA / "tree"], builtin_dir=empty_builtin)
    assert [s.name for s in sets] == ["tree-a", "tree_b"]
    assert all(not s.builtin for s in sets)


def test_same_file_twice_is_loaded_once(empty_builtin: Path) -> None:
    sets = load_rule_sets([DATA / "tree", DATA / "tree" / "a.yaml"], builtin_dir=empty_builtin)
    assert [s.name for s in sets] == ["tree-a", "tree_b"]


def test_builtin_dir(builtin: Path) -> None:
    sets = load_rule_sets([], builtin_dir=builtin)
    # One level below only: top.yaml and nethttp/deep/deeper.yaml are not rule sets.
    assert [s.name for s in sets] == ["grpc", "nethttp"]
    assert all(s.builtin for s in sets)
    assert sets[0].functions[0].version == VersionRange("[1.40.0,)")


def test_builtin_then_user_sets(builtin: Path) -> None:
    sets = load_rule_sets([DATA / "tree" / "a.yaml"], builtin_dir=builtin)
    assert [(s.name, s.builtin) for s in sets] == [
        ("grpc", True),
        ("nethttp", True),
        ("tree-a", False),
    ]


def test_missing_builtin_dir_means_no_builtins(tmp_path: Path) -> None:
    assert load_rule_sets([], builtin_dir=tmp_path / "absent") == []


def test_disable_builtin_by_name(builtin: Path) -> None:
    sets = load_rule_sets([], ["nethttp"], builtin_dir=builtin)
    assert [s.name for s in sets] == ["grpc"]
    assert load_rule_sets([], ["nethttp", "grpc"], builtin_dir=builtin) == []


def test_user_set_may_replace_a_disabled_builtin(builtin: Path) -> None:
    sets = load_rule_sets([DATA / "replace"], ["nethttp"], builtin_dir=builtin)
    assert [(s.name, s.builtin) for s in sets] == [("grpc", True), ("nethttp", False)]


def test_unknown_disabled_name_lists_known_names(builtin: Path) -> None:
    with pytest.raises(UserError) as info:
        load_rule_sets([], ["nethtp"], builtin_dir=builtin)
    message = str(info.value)
    assert '"nethtp"' in message
    assert "grpc, nethttp" in message


def test_unknown_disabled_name_without_builtins(empty_builtin: Path) -> None:
    with pytest.raises(UserError, match="known built-in sets: none"):
        load_rule_sets([], ["nethttp"], builtin_dir=empty_builtin)


def test_duplicate_names_name_both_files(builtin: Path) -> None:
    with pytest.raises(UserError) as info:
        load_rule_sets([DATA / "replace"], builtin_dir=builtin)
    message = str(info.value)
    assert '"nethttp"' in message
    assert os.path.join("nethttp", "rules.yaml") in message
    assert os.path.join("replace", "nethttp.yaml") in message


def test_duplicate_names_between_user_sets(tmp_path: Path) -> None:
    a = write(tmp_path, "one/x.yaml", "name: same\nhooks: example.com/a\n")
    b = write(tmp_path, "two/y.yaml", "name: same\nhooks: example.com/b\n")
    with pytest.raises(UserError) as info:
        load_rule_sets([a, b], builtin_dir=tmp_path / "none")
    assert "x.yaml" in str(info.value) and "y.yaml" in str(info.value)


def test_missing_user_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(UserError, match="no such rule file or folder") as info:
        load_rule_sets([missing], builtin_dir=tmp_path)
    assert "nope.yaml" in str(info.value)


def test_user_folder_without_yaml(tmp_path: Path) -> None:
    write(tmp_path, "rules/readme.txt", "nothing here\n")
    with pytest.raises(UserError, match=r"holds no \*\.yaml or \*\.yml file"):
        load_rule_sets([tmp_path / "rules"], builtin_dir=tmp_path / "none")


def test_builtin_rules_dir_is_the_repo_rules_module() -> None:
    folder = builtin_rules_dir()
    assert folder.name == "rules"
    assert (folder / "go.mod").is_file()


# ------------------------------------------------------------------------------------------
# Bad input: each message is one sentence naming file, line and field.

HEAD = "name: bad\nhooks: example.com/hooks\nrules:\n"

# (yaml text, line, field, part of the message)
BAD = [
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: [Do\n",
        6,
        None,
        "YAML syntax error",
        id="yaml-syntax",
    ),
    pytest.param(
        "name: bad\nhooks: example.com/hooks\n  nested: x\n",
        3,
        None,
        "YAML syntax error",
        id="yaml-bad-indent",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_entr: doOnEnter\n",
        6,
        "rules[0].on_entr",
        'unknown key, perhaps a typo of "on_enter"',
        id="unknown-key",
    ),
    pytest.param(
        "name: bad\nhook: example.com/hooks\n",
        2,
        "hook",
        'perhaps a typo of "hooks"',
        id="unknown-top-key",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    fucntion: Do\n    on_enter: x\n",
        5,
        "rules[0].fucntion",
        'perhaps a typo of "function"',
        id="unknown-key-without-kind",
    ),
    pytest.param(
        "# comment\nname: bad\nrules: []\n",
        2,
        "hooks",
        "missing, it is required",
        id="missing-hooks",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    receiver: '*Client'\n",
        4,
        "rules[0]",
        "needs on_enter, on_exit or both",
        id="no-hooks-for-function",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    receiver: 12\n    on_enter: e\n",
        6,
        "rules[0].receiver",
        'expected a string like "Client" or "*Client", got 12',
        id="receiver-not-a-string",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    receiver: '**Client'\n"
        "    on_enter: e\n",
        6,
        "rules[0].receiver",
        'got "**Client"',
        id="bad-receiver",
    ),
    pytest.param(
        HEAD + "  - import_path: x/y\n    function: Push\n    receiver: '*Stack[T]'\n"
        "    on_enter: e\n",
        6,
        "rules[0].receiver",
        "base name",
        id="generic-receiver",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_enter: e\n"
        "    version: '[1.9.0,1.11.0'\n",
        7,
        "rules[0].version",
        'must end with "]" or ")"',
        id="bad-version-range",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_enter: e\n"
        "    go_version: '[1.22,go1.x)'\n",
        7,
        "rules[0].go_version",
        "not a version",
        id="bad-go-version-range",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_enter: e\n"
        "    go_version: 1.20\n",
        7,
        "rules[0].go_version",
        "got 1.20, which YAML reads as 1.2",
        id="unquoted-version-is-a-number",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    on_enter: e\n    function: Do\n"
        "    struct: Request\n",
        7,
        "rules[0].struct",
        "got both function and struct",
        id="function-and-struct",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    on_enter: e\n",
        4,
        "rules[0]",
        "exactly one of the keys function, struct or file",
        id="no-kind",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    file: missing.go\n",
        5,
        "rules[0].file",
        '"missing.go" is not a file next to the rule file',
        id="missing-file",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    file: notes.txt\n",
        5,
        "rules[0].file",
        "ends in .go",
        id="file-not-go",
    ),
    pytest.param("- name: bad\n- hooks: x\n", 1, None, "expected a mapping", id="not-a-mapping"),
    pytest.param("just text\n", 1, None, 'got "just text"', id="scalar-document"),
    pytest.param("", 1, None, "the file is empty", id="empty"),
    pytest.param("# only a comment\n", 1, None, "the file is empty", id="only-comment"),
    pytest.param(
        "name: Net HTTP\nhooks: example.com/h\n", 1, "name", 'got "Net HTTP"', id="bad-name"
    ),
    pytest.param(
        "name: bad\nhooks: example.com/h\nsupport: maybe\n",
        3,
        "support",
        'expected true or false, got "maybe"',
        id="bad-support",
    ),
    pytest.param(
        "name: bad\nhooks: example.com/h\nrules:\n  - just a string\n",
        4,
        "rules[0]",
        "expected a rule",
        id="rule-not-a-mapping",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_enter: e\n    order: first\n",
        7,
        "rules[0].order",
        'expected an integer like 10, got "first"',
        id="bad-order",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_enter: on-enter\n",
        6,
        "rules[0].on_enter",
        'got "on-enter"',
        id="hook-not-an-identifier",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: func\n    on_enter: e\n",
        5,
        "rules[0].function",
        'got "func"',
        id="function-is-a-keyword",
    ),
    pytest.param(
        HEAD + "  - import_path: net http\n    function: Do\n    on_enter: e\n",
        4,
        "rules[0].import_path",
        "expected a Go import path",
        id="bad-import-path",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    struct: Request\n    field: Span\n",
        4,
        "rules[0].field_type",
        "missing, it is required",
        id="struct-without-type",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_enter: e\n    on_enter: f\n",
        7,
        "rules[0].on_enter",
        "appears twice (first on line 6)",
        id="duplicate-key",
    ),
    pytest.param(
        "name: bad\nhooks: example.com/h\nx: !!python/object:os.system ls\n",
        3,
        None,
        "invalid YAML",
        id="unsafe-tag",
    ),
    pytest.param(
        HEAD + "  - import_path: net/http\n    function: Do\n    on_enter: yes\n",
        6,
        "rules[0].on_enter",
        "got yes, which YAML reads as true",
        id="yaml-boolean-for-a-name",
    ),
    pytest.param(
        "name: bad\nhooks: example.com/h\nx: \x07\n",
        3,
        None,
        "special characters are not allowed",
        id="control-character",
    ),
    pytest.param(
        "---\nname: a\nhooks: b\n---\nname: c\nhooks: d\n",
        4,
        None,
        "YAML syntax error",
        id="two-documents",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "part"), BAD)
def test_bad_input(in_tmp: Path, text: str, line: int, field: str | None, part: str) -> None:
    path = write(in_tmp, "rules/bad.yaml", text)
    write(in_tmp, "rules/notes.txt", "not go\n")
    with pytest.raises(UserError) as info:
        load_rule_sets([path], builtin_dir=in_tmp / "none")
    message = str(info.value)
    prefix = f"{os.path.join('rules', 'bad.yaml')}:{line}: "
    assert message.startswith(prefix), message
    if field is not None:
        assert message.startswith(f"{prefix}{field}: "), message
    assert part in message, message
    assert message.endswith("."), message
    assert "\n" not in message, message
    assert info.value.exit_code != 0


def test_the_example_message_of_the_design(in_tmp: Path) -> None:
    text = (
        "name: bad\n"
        "hooks: example.com/hooks\n"
        "rules:\n"
        "  - import_path: net/http\n"
        "    function: Do\n"
        "    on_enter: e\n"
        "    receiver: 12\n"
    )
    path = write(in_tmp, "rules/bad.yaml", text)
    with pytest.raises(UserError) as info:
        load_rule_file(path)
    assert str(info.value) == (
        f"{os.path.join('rules', 'bad.yaml')}:7: rules[0].receiver: "
        'expected a string like "Client" or "*Client", got 12.'
    )


def test_not_utf8(in_tmp: Path) -> None:
    path = in_tmp / "latin1.yaml"
    path.write_bytes(b"name: bad\nhooks: example.com/h\n# caf\xe9\n")
    with pytest.raises(UserError) as info:
        load_rule_sets([path], builtin_dir=in_tmp / "none")
    assert str(info.value).startswith("latin1.yaml:3: ")
    assert "not UTF-8" in str(info.value)


def test_bad_builtin_set_is_reported_too(builtin: Path) -> None:
    write(builtin, "broken/rules.yaml", "name: broken\nhooks: example.com/h\nrules: {}\n")
    with pytest.raises(UserError) as info:
        load_rule_sets([], builtin_dir=builtin)
    assert "rules.yaml:3: rules: expected a list of rules, got a mapping." in str(info.value)


def test_file_rule_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "pkg.go").mkdir()
    path = write(
        tmp_path, "set.yaml", HEAD.replace("bad", "s") + "  - import_path: a/b\n    file: pkg.go\n"
    )
    with pytest.raises(UserError, match=r"set\.yaml:5: rules\[0\]\.file: "):
        load_rule_file(path)
