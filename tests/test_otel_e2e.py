"""End to end, with the real Go toolchain: the example service built by `otel-go-autoinst build`
sends real OpenTelemetry spans over OTLP/HTTP to a receiver started here, correctly parented, and
answers exactly as the plain `go build` of the same service does.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cli_helpers import env_without_otel, run_ok  # noqa: E402
from otlp_receiver import OTLPReceiver, Span  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SERVICE = REPO / "examples" / "service"
CLI = [sys.executable, "-m", "otel_go_autoinst.cli"]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"

# The requests every comparison sends, and what they must answer.
REQUESTS = [
    "/hello/ada",
    "/hello/grace?lang=fr",
    "/hello/linus?lang=xx",
    "/fail",
    "/healthz",
    "/nowhere",
]


def _cli() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    return [exe] if exe else CLI


@pytest.fixture(scope="session")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example built once per session: plain, instrumented, and instrumented with the test tag
    that makes every hook panic."""
    assert shutil.which("go"), "the Go toolchain is required"
    out = tmp_path_factory.mktemp("bin")
    paths = {name: out / f"service-{name}" for name in ("plain", "inst", "panic")}
    run_ok(["go", "build", "-o", str(paths["plain"]), "."], SERVICE)
    run_ok([*_cli(), "build", "-C", str(SERVICE), "-o", str(paths["inst"]), "."], REPO)
    run_ok(
        [
            *_cli(),
            "build",
            "-C",
            str(SERVICE),
            "-tags",
            "otel_autoinst_panictest",
            "-o",
            str(paths["panic"]),
            ".",
        ],
        REPO,
    )
    return paths


@dataclass
class Service:
    proc: subprocess.Popen[str]
    base: str
    port: int

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, content type, body) of GET path."""
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> tuple[int, str, str]:
        """Signal the service and wait for it to end: (exit status, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def start(binary: Path, env: dict[str, str], *args: str) -> Service:
    proc = subprocess.Popen(
        [str(binary), "-addr", "127.0.0.1:0", *args],
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
        _, err = proc.communicate()
        raise AssertionError(f"service did not start: {line!r}\n{err}")
    return Service(proc, f"http://{m.group(1)}", int(m.group(2)))


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Services started by a test, killed at its end whatever happens."""
    started: list[Service] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.communicate()


def answers(svc: Service) -> list[tuple[int, str, str]]:
    return [svc.get(p, {"traceparent": TRACEPARENT}) for p in REQUESTS]


@pytest.fixture(scope="session")
def plain_answers(binaries: dict[str, Path]) -> list[tuple[int, str, str]]:
    svc = start(binaries["plain"], env_without_otel())
    try:
        got = answers(svc)
    finally:
        code, _, err = svc.stop()
    assert code == 0, err
    assert got[0] == (200, "text/plain; charset=utf-8", "Hello, ada!\n")
    assert got[1][2] == "Bonjour, grace!\n"
    assert [a[0] for a in got] == [200, 200, 404, 500, 200, 404]
    return got


def otlp_env(rx: OTLPReceiver, **extra: str) -> dict[str, str]:
    return env_without_otel(
        OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
        OTEL_SERVICE_NAME="example-service",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=e2e,team=otel",
        OTEL_BSP_SCHEDULE_DELAY="100",
        **extra,
    )


def in_trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s.trace_id == trace_id]


def one(spans: list[Span], **match: object) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one span with {match}, got {found!r} among {spans!r}"
    return found[0]


def test_hello_request_gives_parented_server_client_sql_spans(binaries, services):
    with OTLPReceiver() as rx:
        svc = start(binaries["inst"], otlp_env(rx))
        services.append(svc)
        status, _, body = svc.get("/hello/ada", {"traceparent": TRACEPARENT, "baggage": "k=v"})
        assert (status, body) == (200, "Hello, ada!\n")

        def complete(spans: list[Span]) -> bool:
            return len(in_trace(spans, TRACE_ID)) >= 5

        spans = in_trace(rx.wait_for(complete), TRACE_ID)

        server = one(spans, name="GET /hello/{name}")
        assert server.kind == "SERVER"
        assert server.parent_span_id == PARENT_ID  # the incoming traceparent's span
        assert server.status == "UNSET"
        assert server.attributes["http.request.method"] == "GET"
        assert server.attributes["url.path"] == "/hello/ada"
        assert server.attributes["url.scheme"] == "http"
        assert server.attributes["server.address"] == "127.0.0.1"
        assert server.attributes["server.port"] == svc.port
        assert server.attributes["http.route"] == "/hello/{name}"
        assert server.attributes["http.response.status_code"] == 200
        assert server.attributes["network.protocol.version"] == "1.1"
        assert server.scope.endswith("/rules/nethttp")

        client = one(spans, kind="CLIENT", name="GET")
        assert client.parent_span_id == server.span_id
        assert client.attributes["url.full"] == svc.base + "/backend/greeting"
        assert client.attributes["server.address"] == "127.0.0.1"
        assert client.attributes["server.port"] == svc.port
        assert client.attributes["http.response.status_code"] == 200
        assert client.status == "UNSET"

        # The backend's SERVER span is the client span's child: traceparent went out with the call.
        backend = one(spans, name="GET /backend/greeting")
        assert backend.kind == "SERVER"
        assert backend.parent_span_id == client.span_id
        assert backend.attributes["http.route"] == "/backend/greeting"

        select = one(spans, name="SELECT")
        insert = one(spans, name="INSERT")
        for sql_span, text in (
            (select, "SELECT greeting FROM greetings WHERE lang = ?"),
            (insert, "INSERT INTO visits (name, at) VALUES (?, ?)"),
        ):
            assert sql_span.kind == "CLIENT"
            assert sql_span.parent_span_id == server.span_id
            assert sql_span.attributes["db.system.name"] == "sqlite"
            assert sql_span.attributes["db.query.text"] == text
            assert sql_span.attributes["db.operation.name"] == sql_span.name
            assert sql_span.status == "UNSET"
            assert sql_span.scope.endswith("/rules/databasesql")

        assert server.resource["service.name"] == "example-service"
        assert server.resource["deployment.environment.name"] == "e2e"
        assert server.resource["team"] == "otel"
        assert server.resource["telemetry.sdk.language"] == "go"

        # The seeding transaction at start-up: BEGIN, its statements and COMMIT in one trace.
        all_spans = rx.wait_for(lambda s: any(x.name == "COMMIT" for x in s))
        commit = one(all_spans, name="COMMIT")
        begin = one(all_spans, name="BEGIN")
        tx = in_trace(all_spans, begin.trace_id)
        assert begin.parent_span_id == ""
        assert {s.name for s in tx} == {"BEGIN", "CREATE", "INSERT", "COMMIT"}
        for s in tx:
            if s is not begin:
                assert s.parent_span_id == begin.span_id, s
        assert commit.attributes["db.operation.name"] == "COMMIT"
        # The seeding's deferred Rollback after Commit does nothing and makes no span.
        assert not [s for s in all_spans if s.name == "ROLLBACK"]

        code, _, err = svc.stop()
        assert code == 0, err


def test_calls_without_a_context_stay_in_the_request_trace_and_logs_carry_it(binaries, services):
    """/stats reaches SQL and HTTP through helpers that take no context, and logs with slog: one
    connected trace, and the log line carries the SERVER span's ids."""
    with OTLPReceiver() as rx:
        svc = start(binaries["inst"], otlp_env(rx))
        services.append(svc)
        status, _, body = svc.get("/stats", {"traceparent": TRACEPARENT})
        assert (status, body) == (200, "visits 0, backend healthy true\n")
        spans = in_trace(rx.wait_for(lambda got: len(in_trace(got, TRACE_ID)) >= 4), TRACE_ID)
        server = one(spans, name="GET /stats")
        query = one(spans, kind="CLIENT", parent_span_id=server.span_id, name="SELECT")
        client = one(spans, kind="CLIENT", parent_span_id=server.span_id, name="GET")
        health = one(spans, name="GET /healthz")
        assert health.parent_span_id == client.span_id
        assert query.attributes["db.query.text"] == "SELECT count(*) FROM visits"
        _, _, stderr = svc.stop()
    line = next(line for line in stderr.splitlines() if " INFO stats " in line)
    assert f"trace_id={TRACE_ID}" in line and f"span_id={server.span_id}" in line, line


def test_server_error_status_and_untraced_exporter(binaries, services):
    with OTLPReceiver() as rx:
        svc = start(binaries["inst"], otlp_env(rx))
        services.append(svc)
        assert svc.get("/fail")[0] == 500
        assert svc.get("/hello/ada?lang=xx")[0] == 404
        spans = rx.wait_for(
            lambda s: (
                any(x.name == "GET /fail" for x in s)
                and any(x.attributes.get("http.response.status_code") == 404 for x in s)
            )
        )
        fail = one(spans, name="GET /fail")
        assert fail.kind == "SERVER"
        assert fail.parent_span_id == ""  # no traceparent: a new trace
        assert fail.status == "ERROR"
        assert fail.attributes["http.response.status_code"] == 500
        assert fail.attributes["error.type"] == "500"
        not_found = one(spans, name="GET /hello/{name}")
        assert not_found.status == "UNSET"  # a 4xx is not a server error

        code, _, err = svc.stop()
        assert code == 0, err
        # Several exports reached the receiver; none of them made a span of its own.
        assert rx.requests >= 1
        for s in rx.spans:
            assert "/v1/traces" not in str(s.attributes.get("url.full", "")), s
            assert s.attributes.get("server.port") != rx.port, s


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_spans_flushed_when_the_service_is_stopped(binaries, services, sig):
    with OTLPReceiver() as rx:
        # A schedule delay far longer than the test: only the flush at exit can deliver the spans.
        env = otlp_env(rx)
        env["OTEL_BSP_SCHEDULE_DELAY"] = "600000"
        svc = start(binaries["inst"], env)
        services.append(svc)
        assert svc.get("/healthz", {"traceparent": TRACEPARENT})[0] == 200
        code, out, err = svc.stop(sig)
        assert code == 0, err
        assert "bye" in out
        spans = rx.wait_for(lambda s: any(x.name == "GET /healthz" for x in s), timeout=5)
        assert one(spans, name="GET /healthz").trace_id == TRACE_ID


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_program_without_signal_handling_still_dies_of_the_signal_after_the_flush(
    binaries, services, sig
):
    # Without instrumentation, the service run with -graceful=false dies of the signal.
    plain = start(binaries["plain"], env_without_otel(), "-graceful=false")
    services.append(plain)
    assert plain.get("/healthz")[0] == 200
    plain_code, _, _ = plain.stop(sig)
    assert plain_code == -sig

    with OTLPReceiver() as rx:
        env = otlp_env(rx)
        env["OTEL_BSP_SCHEDULE_DELAY"] = "600000"
        svc = start(binaries["inst"], env, "-graceful=false")
        services.append(svc)
        assert svc.get("/healthz", {"traceparent": TRACEPARENT})[0] == 200
        code, out, _ = svc.stop(sig)
        assert code == plain_code  # the same end, by the same signal
        assert "bye" not in out
        spans = rx.wait_for(lambda s: any(x.name == "GET /healthz" for x in s), timeout=5)
        assert one(spans, name="GET /healthz").trace_id == TRACE_ID


def test_instrumented_answers_like_plain(binaries, services, plain_answers):
    with OTLPReceiver() as rx:
        svc = start(binaries["inst"], otlp_env(rx))
        services.append(svc)
        assert answers(svc) == plain_answers
        svc.stop()


@pytest.mark.parametrize(
    "extra",
    [
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_TRACES_SAMPLER": "always_off"},
    ],
    ids=["exporter-none", "sdk-disabled", "sampler-always-off"],
)
def test_nothing_sent_and_same_answers(binaries, services, plain_answers, extra):
    with OTLPReceiver() as rx:
        svc = start(binaries["inst"], otlp_env(rx, **extra))
        services.append(svc)
        assert answers(svc) == plain_answers
        code, _, err = svc.stop()  # the flush at exit has run when it has ended
        assert code == 0, err
        assert rx.requests == 0, rx.exports


def test_console_exporter_prints_spans(binaries, services):
    svc = start(binaries["inst"], env_without_otel(OTEL_TRACES_EXPORTER="console"))
    services.append(svc)
    assert svc.get("/healthz")[0] == 200
    code, out, err = svc.stop()
    assert code == 0, err
    names = [json.loads(line)["Name"] for line in out.splitlines() if line.startswith("{")]
    assert "GET /healthz" in names, out


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An endpoint that accepts TCP connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def _closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("kind", ["blackhole", "closed-port"])
def test_collector_down_adds_no_latency(binaries, services, plain_answers, blackhole, kind):
    endpoint = blackhole if kind == "blackhole" else _closed_port()
    env = env_without_otel(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2",
    )
    svc = start(binaries["inst"], env)
    services.append(svc)
    for _ in range(5):
        t0 = time.monotonic()
        got = answers(svc)
        elapsed = time.monotonic() - t0
        assert got == plain_answers
        # Six requests, each of which makes several spans: far below a second each even on a slow
        # machine, while an export that blocked would take the exporter's 10 s timeout.
        assert elapsed < len(REQUESTS) * 1.0, f"{len(REQUESTS)} requests took {elapsed:.2f}s"
    t0 = time.monotonic()
    code, _, err = svc.stop(timeout=30)
    assert code == 0, err
    assert time.monotonic() - t0 < 15  # the flush at exit is bounded


def test_panicking_hooks_change_nothing(binaries, services, plain_answers):
    with OTLPReceiver() as rx:
        svc = start(binaries["panic"], otlp_env(rx))
        services.append(svc)
        assert answers(svc) == plain_answers
        code, _, err = svc.stop()
        assert code == 0, err
        # Every hook did panic: no span was ever ended, so none was exported.
        assert rx.spans == []


def test_go_test_of_the_example_passes_plain_and_instrumented(binaries):
    run_ok(["go", "test", "-count=1", "./..."], SERVICE)
    with OTLPReceiver() as rx:
        env = env_without_otel(OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, OTEL_SERVICE_NAME="example-tests")
        run_ok([*_cli(), "test", "-C", str(SERVICE), "-count=1", "./..."], REPO, env)
        # The test binary had the SDK linked in and flushed its spans when it ended (os.Exit).
        spans = rx.wait_for(lambda s: any(x.kind == "SERVER" for x in s), timeout=5)
        assert {s.resource["service.name"] for s in spans} == {"example-tests"}
        assert any(s.name == "GET /hello/{name}" for s in spans)


def test_traces_specific_endpoint_variable(binaries, services):
    with OTLPReceiver() as rx:
        env = otlp_env(rx)
        del env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = rx.endpoint + "/v1/traces"
        svc = start(binaries["inst"], env)
        services.append(svc)
        assert svc.get("/healthz")[0] == 200
        code, _, err = svc.stop()
        assert code == 0, err
        assert any(s.name == "GET /healthz" for s in rx.spans)


OWN_PROVIDER_MAIN = """package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
	if err != nil {
		panic(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "own")
	}))
	resp, err := http.Get(srv.URL + "/mine")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.Close()
	_ = tp.Shutdown(context.Background())
	fmt.Println("body:", string(body))
}
"""


def test_program_with_its_own_tracer_provider_keeps_it(tmp_path):
    mod = tmp_path / "own"
    mod.mkdir()
    (mod / "main.go").write_text(OWN_PROVIDER_MAIN)
    (mod / "go.mod").write_text("module example.com/own\n\ngo 1.26\n")
    rules_mod = (REPO / "rules" / "go.mod").read_text()
    version = re.search(r"go\.opentelemetry\.io/otel/sdk (v\S+)", rules_mod).group(1)
    run_ok(
        [
            "go",
            "get",
            f"go.opentelemetry.io/otel@{version}",
            f"go.opentelemetry.io/otel/sdk@{version}",
            f"go.opentelemetry.io/otel/exporters/stdout/stdouttrace@{version}",
        ],
        mod,
    )
    run_ok(["go", "mod", "tidy"], mod)
    binary = tmp_path / "own-bin"
    run_ok([*_cli(), "build", "-C", str(mod), "-o", str(binary), "."], REPO)
    with OTLPReceiver() as rx:
        proc = subprocess.run(
            [str(binary)], env=otlp_env(rx), capture_output=True, text=True, timeout=60
        )
    assert proc.returncode == 0, proc.stderr
    assert "body: own" in proc.stdout
    spans = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    # The hooks' spans went to the program's own provider (its stdout exporter): the SERVER span
    # (2) of a handler without a route and the CLIENT span (3), both named by the method alone ...
    assert {(s["Name"], s["SpanKind"]) for s in spans} >= {("GET", 2), ("GET", 3)}, proc.stdout
    # ... and nothing to the OTLP endpoint of the set-up the program did not want.
    assert rx.requests == 0


def test_program_without_http_or_sql_gets_nothing(tmp_path):
    mod = tmp_path / "plainprog"
    mod.mkdir()
    (mod / "go.mod").write_text("module example.com/plainprog\n\ngo 1.24\n")
    (mod / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\n'
        'func main() {\n\tfmt.Println("hi", len(os.Args))\n\tos.Exit(3)\n}\n'
    )
    binary, report = tmp_path / "plainprog-bin", tmp_path / "report.json"
    run_ok([*_cli(), "build", "-C", str(mod), "--report", str(report), "-o", str(binary), "."], REPO)
    assert json.loads(report.read_text())["instrumented"] == []
    # The SDK set-up is a support set: with nothing else instrumented it is not linked in.
    mods = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True)
    assert "go.opentelemetry.io" not in mods.stdout
    proc = subprocess.run([str(binary)], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "hi 1\n", "")
