"""Reports from untrusted runs: schema validation and defusing before anything is rendered.

A report published in comment mode comes from a pull request's run (possibly a fork's), and a
report written by the engine in run mode was within reach of the pull request's tests. So every
report is checked against `report.schema.json` (the published schema, with `jsonschema`) before
it is turned into a `Report`, and the error names where the report is wrong without echoing its
content (which could hold workflow commands or Markdown). Strings that reach Markdown are then
defused: `@name` / `@org/team` mentions get a zero-width space so they notify nobody.
"""

from __future__ import annotations

import dataclasses
import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import jsonschema

from otel_go_autoinst.errors import UserError
from otel_go_autoinst.report import Report

MAX_REPORT_BYTES = 20 * 1024 * 1024
SCHEMA_FILE = "report.schema.json"

_MENTION = re.compile(r"(?<![A-Za-z0-9_`])@(?=[A-Za-z0-9])")
ZWSP = "\u200b"

T = TypeVar("T")


@cache
def schema() -> dict[str, Any]:
    text = resources.files("otel_go_autoinst.publish").joinpath(SCHEMA_FILE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _where(error: jsonschema.ValidationError) -> str:
    """`instrumented[3].line`: the keys on the path are the schema's own property names."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the top level"


def _reason(error: jsonschema.ValidationError) -> str:
    """Why, in words that never quote the untrusted value."""
    kind = error.validator
    value: Any = error.validator_value
    if kind == "type":
        kinds = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(str(k) for k in kinds)
    if kind == "required":
        missing = [p for p in value if isinstance(error.instance, dict) and p not in error.instance]
        return "lacks " + ", ".join(f"`{p}`" for p in missing)
    if kind == "additionalProperties":
        return "has a field the schema does not define"
    if kind in ("enum", "const"):
        return "must be one of " + ", ".join(
            json.dumps(v) for v in (value if kind == "enum" else [value])
        )
    if kind == "pattern":
        return "has a form or characters that are not allowed (see the schema)"
    if kind in ("maxLength", "maxItems"):
        return f"is longer than {value}"
    if kind in ("minimum", "maximum"):
        return "is out of range"
    if kind == "oneOf":
        return "is not of an allowed type or form"
    return f"breaks the schema's `{kind}`"


def validate(data: Any, label: str) -> None:
    """Raise UserError (one sentence) when `data` is not a valid report."""
    errors = sorted(
        _validator().iter_errors(data),
        key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))),
    )
    if not errors:
        return
    error = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise UserError(
        f"{label} is not a valid otel-go-autoinst report: {_where(error)} {_reason(error)}{more}; "
        "nothing is published from it."
    )


def read_report(path: Path, label: str) -> Report:
    """Read, validate and load one report file; any problem is one UserError sentence."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise UserError(f"{label} is too large to be a report; nothing is published from it.")
        data = json.loads(path.read_text(encoding="utf-8"))
    except UserError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read the report {label} ({type(exc).__name__}).") from None
    except ValueError:
        raise UserError(
            f"{label} is not an otel-go-autoinst report (not JSON); nothing is published from it."
        ) from None
    if not isinstance(data, dict):
        raise UserError(
            f"{label} is not an otel-go-autoinst report (not a JSON object); nothing is "
            "published from it."
        )
    validate(data, label)
    return Report.from_dict(data)


def defuse_text(text: str) -> str:
    """`@user` and `@org/team` no longer mention anyone (a zero-width space after the @)."""
    return _MENTION.sub("@" + ZWSP, text)


def _defuse(value: T) -> T:
    if isinstance(value, str):
        return defuse_text(value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [_defuse(v) for v in value]  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _defuse(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)  # type: ignore[return-value]
    return value


def defused(report: Report) -> Report:
    """A copy of the report whose every string is defused (mentions); the renderer escapes the
    rest (HTML, Markdown, table breaks) and only links repository-relative paths."""
    return _defuse(report)
