"""What the end-to-end tests share: how they run the CLI, and how they switch the built-ins off."""

from __future__ import annotations

import sys
from pathlib import Path

from otel_go_autoinst.rules import load_rule_sets

MODULES = Path(__file__).parent / "data" / "modules"
# The CLI as a child process, without the console script's shim (some tests empty PATH).
CLI = [sys.executable, "-c", "import sys; from otel_go_autoinst.cli import main; sys.exit(main())"]


def builtin_set_names() -> list[str]:
    """The built-in rule sets, as the loader itself finds them."""
    return [rule_set.name for rule_set in load_rule_sets([]) if rule_set.builtin]


def only_user_rules() -> list[str]:
    """Arguments that switch every built-in set off, so only a test's own rules apply."""
    return ["--disable", ",".join(builtin_set_names())]
