"""Logs that carry the trace, end to end with the real toolchain: a program logging through log/slog,
log, logrus, zap and zerolog (tests/data/modules/logs, libraries at pinned versions from the Go module
proxy), built plain and with `otel-go-autoinst build` from this checkout. Lines written while a span
is current carry trace_id, span_id and trace_flags equal to the span received over OTLP; lines
written with no current span are byte-identical to the plain build's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cli_helpers import run_ok  # noqa: E402
from otlp_receiver import OTLPReceiver, Span  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "tests" / "data" / "modules" / "logs"
# The goroutine-local rule set: with it, lines logged without a context carry the goroutine's span.
GLS = (REPO / "rules" / "gls" / "gls.yaml").is_file()

# The first word of each line names the library that wrote it (see main.go).
WITH_CONTEXT = ["slog", "slogdefault", "stdlog", "logrus", "zap", "zapsugar", "zerolog"]
WITHOUT_CONTEXT = ["slog", "stdlog", "logrus", "zap", "zerolog"]

IDS = {
    "trace_id": re.compile(r'\btrace_id(?:=|":")([0-9a-f]{32})\b'),
    "span_id": re.compile(r'\bspan_id(?:=|":")([0-9a-f]{16})\b'),
    "trace_flags": re.compile(r'\btrace_flags(?:=|":")([0-9a-f]{2})\b'),
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert shutil.which("go"), "the Go toolchain is required"
    out = tmp_path_factory.mktemp("logs")
    paths = {"plain": out / "logs-plain", "inst": out / "logs-inst"}
    run_ok(["go", "build", "-o", str(paths["plain"]), "."], MODULE)
    cli = [sys.executable, "-m", "otel_go_autoinst.cli"]
    run_ok([*cli, "build", "-C", str(MODULE), "-o", str(paths["inst"]), "."], REPO, _env())
    return paths


def lines_of(output: str, where: str) -> dict[str, str]:
    """The lines written at `where` (outside, inside, inside-noctx, ...), by library."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        m = re.search(r'(?:msg="|msg":"|message":"|INFO |^)(\w+) ' + re.escape(where) + r"\b", line)
        if m and not re.search(re.escape(where) + r"-", line):
            found[m.group(1)] = line
    return found


def ids(line: str) -> dict[str, list[str]]:
    return {k: rx.findall(line) for k, rx in IDS.items()}


def test_plain_program_logs_what_the_test_expects(binaries):
    out = run_ok([str(binaries["plain"])], MODULE, _env()).stdout
    for where, libs in (("outside", WITH_CONTEXT), ("inside", WITH_CONTEXT)):
        assert sorted(lines_of(out, where)) == sorted(libs), out
    for where in ("outside-noctx", "inside-noctx", "inside-goroutine"):
        assert sorted(lines_of(out, where)) == sorted(WITHOUT_CONTEXT), out
    assert "trace_id" not in out


def test_lines_carry_the_ids_of_the_current_span(binaries):
    plain = run_ok([str(binaries["plain"])], MODULE, _env()).stdout
    with OTLPReceiver() as rx:
        out = run_ok(
            [str(binaries["inst"])],
            MODULE,
            _env(OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, OTEL_SERVICE_NAME="logs"),
        ).stdout
        spans = rx.wait_for(lambda s: any(x.kind == "SERVER" for x in s))
    server: Span = next(s for s in spans if s.kind == "SERVER")
    want = {
        "trace_id": [server.trace_id],
        "span_id": [server.span_id],
        "trace_flags": ["01"],
    }

    # In the handler, with the request's context: the SERVER span, each id exactly once (slog's
    # default handler writes through log, whose hook must not add them a second time).
    inside = lines_of(out, "inside")
    assert sorted(inside) == sorted(WITH_CONTEXT), out
    for lib, line in inside.items():
        assert ids(line) == want, (lib, line)
    # Field names and formats as each library writes them.
    assert f"trace_id={server.trace_id} span_id={server.span_id} trace_flags=01" in inside["slog"]
    assert inside["stdlog"] == (
        f"stdlog inside trace_id={server.trace_id} span_id={server.span_id} trace_flags=01"
    )
    assert f'"trace_id":"{server.trace_id}","span_id":"{server.span_id}"' in inside["zap"]
    assert '"trace_flags":"01","message":"zerolog inside"' in inside["zerolog"]

    # Without a context, in the handler's goroutine and in a goroutine it started: the
    # goroutine-local span when the engine has it, else nothing.
    for where in ("inside-noctx", "inside-goroutine"):
        got = lines_of(out, where)
        assert sorted(got) == sorted(WITHOUT_CONTEXT), out
        for lib, line in got.items():
            if GLS:
                assert ids(line) == want, (where, lib, line)
            else:
                assert line == lines_of(plain, where)[lib]

    # With no current span, the lines are the plain build's, byte for byte.
    for where in ("outside", "outside-noctx"):
        assert lines_of(out, where) == lines_of(plain, where)
    n_outside = len(WITH_CONTEXT) + len(WITHOUT_CONTEXT)
    assert out.splitlines()[:n_outside] == plain.splitlines()[:n_outside]


@pytest.mark.parametrize(
    "extra",
    [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_SAMPLER": "always_off"}],
    ids=["sdk-disabled", "sampler-off"],
)
def test_output_byte_identical_when_no_span_is_recorded(binaries, extra):
    plain = subprocess.run([str(binaries["plain"])], capture_output=True, timeout=60, env=_env())
    inst = subprocess.run(
        [str(binaries["inst"])], capture_output=True, timeout=60, env=_env(**extra)
    )
    assert inst.returncode == plain.returncode == 0
    if extra.get("OTEL_SDK_DISABLED"):
        # No span at all: every line, stdout and stderr, is the plain build's.
        assert (inst.stdout, inst.stderr) == (plain.stdout, plain.stderr)
    else:
        # A sampled-out span is still current (its ids are propagated, flags 00); lines outside
        # any span stay identical.
        n = len(WITH_CONTEXT) + len(WITHOUT_CONTEXT)
        assert inst.stdout.splitlines()[:n] == plain.stdout.splitlines()[:n]
        inside = lines_of(inst.stdout.decode(), "inside")
        assert all(ids(line)["trace_flags"] == ["00"] for line in inside.values()), inside
