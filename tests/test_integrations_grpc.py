"""The gRPC rule set end to end: a service of ours on google.golang.org/grpc (tests/data/modules/
grpcsvc), built by `otel-go-autoinst build` with the newest gRPC release and with the oldest the rule
set claims, serves in one process and is called from another over 127.0.0.1; the spans both send
over OTLP/HTTP are checked (names, kinds, attributes, status, the server span a child of the client
span across the process boundary), and a program that installed otelgrpc itself gets no second span.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cli_helpers import Built, build_variant, env_without_otel, run_ok  # noqa: E402
from otlp_receiver import MetricPoint, OTLPReceiver, Span  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "otel_go_autoinst.cli"]
OUR_SCOPE = "github.com/otel-go-autoinst/otel-go-autoinst/rules/grpc"
OTELGRPC_SCOPE = "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"

# What the client calls, in order (the span names), and what it prints.
METHODS = [
    "grpc.testing.TestService/UnaryCall",  # succeeds
    "grpc.testing.TestService/UnaryCall",  # fails with INTERNAL
    "grpc.testing.TestService/StreamingOutputCall",
    "grpc.testing.TestService/FullDuplexCall",
    "grpc.health.v1.Health/Check",
]
CLIENT_OUTPUT = "unary: hello ada\nfailing: Internal\nserver stream: 3\nbidi: 2\nhealth: SERVING\n"


@pytest.fixture(scope="module", params=["newest", "oldest"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_variant("grpcsvc", request.param, tmp_path_factory.mktemp(f"grpc-{request.param}"))


@dataclass
class Server:
    proc: subprocess.Popen[str]
    addr: str
    port: int

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.communicate()


def serve(binary: Path, env: dict[str, str], servers: list[Server], *args: str) -> Server:
    proc = subprocess.Popen(
        [str(binary), "-mode", "serve", "-addr", "127.0.0.1:0", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.match(r"listening on (127\.0\.0\.1:(\d+))", line)
    if not m:
        proc.kill()
        raise AssertionError(f"server did not start: {line!r}\n{proc.communicate()[1]}")
    server = Server(proc, m.group(1), int(m.group(2)))
    servers.append(server)
    return server


def call(binary: Path, addr: str, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [str(binary), "-mode", "call", "-addr", addr, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def otlp_env(rx: OTLPReceiver, service: str) -> dict[str, str]:
    return env_without_otel(
        OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
        OTEL_SERVICE_NAME=service,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )


def rpc_spans(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.kind in ("CLIENT", "SERVER") and "/" in s.name]


def test_the_rule_instruments_the_gRPC_release_of_the_build(built: Built) -> None:
    got = {
        (f["function"], f["module_version"])  # type: ignore[index]
        for f in built.report["instrumented"]  # type: ignore[attr-defined]
        if "grpc" in f["rules"]  # type: ignore[index]
    }
    version = "v1.75.0" if built.variant == "oldest" else "v1.85.0"
    assert got == {("NewClient", version), ("NewServer", version)}
    # The release the binary really links is the one the test claims to cover: the hooks raised
    # nothing.
    linked = subprocess.run(
        ["go", "version", "-m", str(built.inst)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(rf"\sgoogle\.golang\.org/grpc\s+{re.escape(version)}\s", linked), linked


def test_client_and_server_spans_across_processes(built: Built, servers: list[Server]) -> None:
    with OTLPReceiver() as rx:
        server = serve(built.inst, otlp_env(rx, "grpc-server"), servers)
        out = call(built.inst, server.addr, otlp_env(rx, "grpc-client"))
        assert out == CLIENT_OUTPUT
        code, _, err = server.stop()
        assert code == 0, err
        spans = rx.wait_for(lambda s: len(rpc_spans(s)) >= 2 * len(METHODS))
    spans = rpc_spans(spans)
    clients = [s for s in spans if s.kind == "CLIENT"]
    servers_ = [s for s in spans if s.kind == "SERVER"]
    assert sorted(s.name for s in clients) == sorted(METHODS), spans
    assert sorted(s.name for s in servers_) == sorted(METHODS), spans
    for c in clients:
        assert c.resource["service.name"] == "grpc-client"
        assert c.scope == OUR_SCOPE
        # Each server span is the child of its client span, in the other process.
        (s,) = [x for x in servers_ if x.parent_span_id == c.span_id]
        assert s.trace_id == c.trace_id and s.name == c.name
        assert s.resource["service.name"] == "grpc-server"
        service, method = c.name.split("/")
        for span in (c, s):
            assert span.attributes["rpc.system"] == "grpc"
            assert span.attributes["rpc.service"] == service
            assert span.attributes["rpc.method"] == method
        assert c.attributes["server.address"] == "127.0.0.1"
        assert c.attributes["server.port"] == server.port
        assert c.attributes["network.peer.port"] == server.port
        assert s.attributes["server.port"] == server.port
        assert s.attributes["client.address"] == "127.0.0.1"
        assert isinstance(s.attributes["network.peer.port"], int)

    failed = [c for c in clients if c.attributes["rpc.grpc.status_code"] == 13]
    assert len(failed) == 1 and failed[0].name == METHODS[1]
    assert failed[0].status == "ERROR" and failed[0].status_message == "it broke"
    assert failed[0].attributes["error.type"] == "Internal"
    (failed_server,) = [s for s in servers_ if s.parent_span_id == failed[0].span_id]
    assert failed_server.status == "ERROR"  # INTERNAL is a server error
    assert failed_server.attributes["rpc.grpc.status_code"] == 13
    for span in spans:
        if span is not failed[0] and span is not failed_server:
            assert span.attributes["rpc.grpc.status_code"] == 0, span
            assert span.status == "UNSET", span


def _last_points(rx: OTLPReceiver, name: str) -> list[MetricPoint]:
    """The points of metric name in the last export that has it (cumulative: the totals)."""
    for points in reversed(rx.metric_exports):
        found = [p for p in points if p.name == name]
        if found:
            return found
    return []


def test_rpc_duration_metrics_across_processes(built: Built, servers: list[Server]) -> None:
    # The same binaries, with metrics asked for: each side records one duration per RPC (semconv
    # v1.37.0: rpc.client.duration and rpc.server.duration, in ms), exported at exit.
    metrics = {"OTEL_METRICS_EXPORTER": "otlp"}
    with OTLPReceiver() as rx:
        server = serve(built.inst, {**otlp_env(rx, "grpc-server"), **metrics}, servers)
        out = call(built.inst, server.addr, {**otlp_env(rx, "grpc-client"), **metrics})
        assert out == CLIENT_OUTPUT
        code, _, err = server.stop()
        assert code == 0, err
        client = _last_points(rx, "rpc.client.duration")
        server_points = _last_points(rx, "rpc.server.duration")
    expected = Counter(
        (m.split("/")[0], m.split("/")[1], 13 if i == 1 else 0) for i, m in enumerate(METHODS)
    )
    for name, points, service_name in (
        ("rpc.client.duration", client, "grpc-client"),
        ("rpc.server.duration", server_points, "grpc-server"),
    ):
        assert points, (name, rx.metric_exports)
        got: Counter[tuple[object, ...]] = Counter()
        for p in points:
            assert (p.unit, p.kind, p.scope) == ("ms", "histogram", OUR_SCOPE), p
            assert p.resource["service.name"] == service_name, p
            assert p.attributes["rpc.system"] == "grpc", p
            assert p.attributes["server.address"] == "127.0.0.1", p
            assert p.attributes["server.port"] == server.port, p
            # The peer's address and port are per connection: kept off the metric.
            assert not {"client.address", "client.port", "network.peer.port"} & set(p.attributes)
            assert p.total is not None and p.total > 0, p
            key = (p.attributes["rpc.service"], p.attributes["rpc.method"])
            got[(*key, p.attributes["rpc.grpc.status_code"])] += p.count or 0
        assert got == expected, (name, points)


def test_program_with_its_own_otelgrpc_gets_no_second_span(
    built: Built, servers: list[Server]
) -> None:
    with OTLPReceiver() as rx:
        server = serve(built.inst, otlp_env(rx, "grpc-server"), servers, "-otelgrpc")
        out = call(built.inst, server.addr, otlp_env(rx, "grpc-client"), "-otelgrpc")
        assert out == CLIENT_OUTPUT
        code, _, err = server.stop()
        assert code == 0, err
        spans = rx.wait_for(lambda s: len(rpc_spans(s)) >= 2 * len(METHODS))
    spans = rpc_spans(spans)
    # otelgrpc's spans, exported by the SDK set-up, and none of ours beside them.
    assert {s.scope for s in spans} == {OTELGRPC_SCOPE}, spans
    assert sorted(s.name for s in spans if s.kind == "CLIENT") == sorted(METHODS)
    assert sorted(s.name for s in spans if s.kind == "SERVER") == sorted(METHODS)


def test_instrumented_answers_like_plain(built: Built, servers: list[Server]) -> None:
    server = serve(built.plain, env_without_otel(), servers)
    assert call(built.plain, server.addr, env_without_otel()) == CLIENT_OUTPUT
    # The instrumented client against the plain server, with tracing off: the same answers.
    assert call(built.inst, server.addr, env_without_otel(OTEL_SDK_DISABLED="true")) == CLIENT_OUTPUT
    assert server.stop()[0] == 0


# One instrumented test build per module: the newest release (the fixture's build is reused).
@pytest.mark.parametrize("built", ["newest"], indirect=True)
def test_go_test_passes_plain_and_instrumented(built: Built) -> None:
    run_ok(["go", "test", "-count=1", "./..."], built.mod)
    run_ok([*CLI, "test", "-C", str(built.mod), "-count=1", "./..."], REPO, env_without_otel())
