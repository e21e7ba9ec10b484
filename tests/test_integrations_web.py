"""Route templates and the fasthttp/Fiber servers end to end.

tests/data/modules/webrouters serves one API through gin, echo v4, chi v5, gorilla/mux and a Go 1.22
ServeMux (each mounted under a prefix of a top-level ServeMux, behind a middleware that copies the
request); tests/data/modules/webfast serves through fasthttp and Fiber v2 and calls out with the
fasthttp client. Each is built by `otel-go-autoinst build` with the newest releases and with the
oldest the rule sets claim, serves real requests over 127.0.0.1, and the spans it sends over
OTLP/HTTP are checked: the one SERVER span per request named `METHOD template` with http.route,
framework errors recorded on it, parent taken from the incoming traceparent.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cli_helpers import Built, build_variant, env_without_otel, run_ok  # noqa: E402
from otlp_receiver import OTLPReceiver, Span  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODULES = REPO / "tests" / "data" / "modules"
CLI = [sys.executable, "-m", "otel_go_autoinst.cli"]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"

ROUTER_VERSIONS = {
    "newest": {
        "github.com/gin-gonic/gin": "v1.12.0",
        "github.com/labstack/echo/v4": "v4.16.0",
        "github.com/go-chi/chi/v5": "v5.5.0",
        "github.com/gorilla/mux": "v1.8.1",
    },
    "oldest": {
        "github.com/gin-gonic/gin": "v1.9.0",
        "github.com/labstack/echo/v4": "v4.10.0",
        "github.com/go-chi/chi/v5": "v5.0.8",
        "github.com/gorilla/mux": "v1.8.0",
    },
}




def linked_versions(binary: Path) -> dict[str, str]:
    out = subprocess.run(
        ["go", "version", "-m", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    return {m.group(1): m.group(2) for m in re.finditer(r"^\s+dep\s+(\S+)\s+(\S+)", out, re.M)}


@dataclass
class Service:
    proc: subprocess.Popen[str]
    base: str
    port: int
    # the servers the program instruments itself, by name (webrouters' own_newest.go)
    others: dict[str, Service] = field(default_factory=dict)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.communicate()


def start(binary: Path, env: dict[str, str], services: list[Service]) -> Service:
    proc = subprocess.Popen(
        [str(binary), "-addr", "127.0.0.1:0"],
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
        raise AssertionError(f"service did not start: {line!r}\n{proc.communicate()[1]}")
    svc = Service(proc, f"http://{m.group(1)}", int(m.group(2)))
    for name, addr, port in re.findall(r" (\w+) (127\.0\.0\.1:(\d+))", line[m.end() :]):
        svc.others[name] = Service(proc, f"http://{addr}", int(port))
    services.append(svc)
    return svc


def otlp_env(rx: OTLPReceiver) -> dict[str, str]:
    return env_without_otel(
        OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
        OTEL_SERVICE_NAME="web",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )


def server_spans(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.kind == "SERVER"]


def exceptions(span: Span) -> list[str]:
    return [str(e.get("exception.message")) for e in span.events if e["name"] == "exception"]


# --- gin, echo, chi, gorilla/mux, ServeMux ---------------------------------------------------

# path -> (status, span name, http.route)
ROUTES = {
    "/gin/orders/1": (200, "GET /gin/orders/:id", "/gin/orders/:id"),
    "/echo/orders/2": (200, "GET /echo/orders/:id", "/echo/orders/:id"),
    "/chi/orders/3": (200, "GET /chi/orders/{id}", "/chi/orders/{id}"),
    "/gorilla/orders/4": (200, "GET /gorilla/orders/{id}", "/gorilla/orders/{id}"),
    "/mux/orders/5": (200, "GET /mux/orders/{id}", "/mux/orders/{id}"),
    "/gin/fail": (500, "GET /gin/fail", "/gin/fail"),
    "/echo/fail": (500, "GET /echo/fail", "/echo/fail"),
}


@pytest.fixture(scope="module", params=["newest", "oldest"])
def routers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_variant("webrouters", request.param, tmp_path_factory.mktemp(f"web-{request.param}"))


def test_router_rules_match_the_releases_of_the_build(routers: Built) -> None:
    want = ROUTER_VERSIONS[routers.variant]
    assert {m: v for m, v in linked_versions(routers.inst).items() if m in want} == want
    by_rule: dict[str, set[str]] = {}
    for f in routers.report["instrumented"]:  # type: ignore[attr-defined]
        for rule in f["rules"]:
            by_rule.setdefault(rule, set()).add(f"{f['receiver']}.{f['function']}")
    assert by_rule["gin"] == {"*Engine.handleHTTPRequest"}
    assert by_rule["echo"] == {"*Router.Find", "*Echo.DefaultHTTPErrorHandler"}
    assert by_rule["chi"] == {"*Mux.routeHTTP"}
    assert by_rule["gorillamux"] == {"*Router.Match"}
    assert "*ServeMux.ServeHTTP" in by_rule["nethttp"]


def test_one_server_span_per_request_named_by_route_template(
    routers: Built, services: list[Service]
) -> None:
    with OTLPReceiver() as rx:
        svc = start(routers.inst, otlp_env(rx), services)
        for path, (status, _, _) in ROUTES.items():
            got, _ = svc.get(path, {"traceparent": TRACEPARENT})
            assert got == status, path
        code, _, err = svc.stop()
        assert code == 0, err
        spans = rx.wait_for(lambda s: len(server_spans(s)) >= len(ROUTES))
    spans = [s for s in spans if s.trace_id == TRACE_ID]
    # One span per request, and it is net/http's SERVER span (no second span per request).
    assert len(spans) == len(ROUTES), spans
    for path, (status, name, route) in ROUTES.items():
        (span,) = [s for s in spans if s.attributes["url.path"] == path]
        assert span.kind == "SERVER"
        assert span.name == name, span
        assert span.attributes["http.route"] == route
        assert span.attributes["http.response.status_code"] == status
        assert span.parent_span_id == PARENT_ID
        assert span.scope.endswith("/rules/nethttp")
        assert span.status == ("ERROR" if status >= 500 else "UNSET")
    (gin_fail,) = [s for s in spans if s.attributes["url.path"] == "/gin/fail"]
    assert exceptions(gin_fail) == ["gin failure"]
    (echo_fail,) = [s for s in spans if s.attributes["url.path"] == "/echo/fail"]
    assert exceptions(echo_fail) == ["echo failure"]


# The servers of webrouters (newest releases) the program instruments itself: name -> (trace id,
# body the server answers, the scope of its instrumentation).
CONTRIB = "go.opentelemetry.io/contrib/instrumentation"
OWN_SERVERS = {
    "otelhttp": (
        "5bf92f3577b34da6a3ce929d0e0e4737",
        "otelhttp order 1",
        f"{CONTRIB}/net/http/otelhttp",
    ),
    "otelgin": (
        "6bf92f3577b34da6a3ce929d0e0e4738",
        "otelgin order 1",
        f"{CONTRIB}/github.com/gin-gonic/gin/otelgin",
    ),
}


@pytest.mark.parametrize("routers", ["newest"], indirect=True)
def test_server_the_program_instruments_itself_gets_its_span_only(
    routers: Built, services: list[Service]
) -> None:
    """A server whose Handler is otelhttp's, or a gin engine with otelgin's middleware, makes its
    own SERVER span: net/http's rule set stands aside (no second SERVER span as its parent), and
    the gin rule set, which only renames our span, does nothing."""
    with OTLPReceiver() as rx:
        svc = start(routers.inst, otlp_env(rx), services)
        assert set(svc.others) == set(OWN_SERVERS)
        for name, (trace, body, _) in OWN_SERVERS.items():
            got = svc.others[name].get(
                "/own/orders/1", {"traceparent": f"00-{trace}-{PARENT_ID}-01"}
            )
            assert got == (200, body), name
        # and the servers it does not instrument itself keep our span
        assert svc.get("/gin/orders/1", {"traceparent": TRACEPARENT})[0] == 200
        code, _, err = svc.stop()
        assert code == 0, err
        spans = rx.wait_for(lambda s: len(server_spans(s)) >= len(OWN_SERVERS) + 1)
    for name, (trace, _, scope) in OWN_SERVERS.items():
        traced = [s for s in spans if s.trace_id == trace]
        assert len(traced) == 1, (name, [(s.name, s.scope) for s in traced])
        (span,) = traced
        assert span.kind == "SERVER" and span.scope == scope, span
        assert span.parent_span_id == PARENT_ID
    (ours,) = [s for s in spans if s.trace_id == TRACE_ID]
    assert ours.scope.endswith("/rules/nethttp") and ours.name == "GET /gin/orders/:id"


def test_switched_off_router_rules_leave_the_span_to_net_http(
    routers: Built, services: list[Service]
) -> None:
    """OTEL_GO_DISABLED_INSTRUMENTATIONS names rule sets: gin and chi off, their requests keep
    net/http's own span name, while echo still names its route."""
    with OTLPReceiver() as rx:
        env = {**otlp_env(rx), "OTEL_GO_DISABLED_INSTRUMENTATIONS": "gin, chi"}
        svc = start(routers.inst, env, services)
        for path in ("/gin/orders/1", "/chi/orders/3", "/echo/orders/2"):
            assert svc.get(path, {"traceparent": TRACEPARENT})[0] == 200
        code, _, err = svc.stop()
        assert code == 0, err
        spans = rx.wait_for(lambda s: len(server_spans(s)) >= 3)
    names = {
        s.attributes["url.path"]: s.name for s in server_spans(spans) if s.trace_id == TRACE_ID
    }
    assert names["/echo/orders/2"] == "GET /echo/orders/:id"
    assert "/gin/orders/:id" not in names["/gin/orders/1"]
    assert "/chi/orders/{id}" not in names["/chi/orders/3"]


def test_routers_answer_like_plain(routers: Built, services: list[Service]) -> None:
    plain = start(routers.plain, env_without_otel(), services)
    want = [plain.get(p) for p in ROUTES]
    plain.stop()
    inst = start(routers.inst, env_without_otel(OTEL_TRACES_EXPORTER="none"), services)
    assert [inst.get(p) for p in ROUTES] == want
    assert inst.stop()[0] == 0


# One instrumented test build per module: the newest releases (the fixture's build is reused).
@pytest.mark.parametrize("routers", ["newest"], indirect=True)
def test_router_module_go_test_plain_and_instrumented(routers: Built) -> None:
    run_ok(["go", "test", "-count=1", "./..."], routers.mod)
    run_ok([*CLI, "test", "-C", str(routers.mod), "-count=1", "./..."], REPO, env_without_otel())


# --- fasthttp and Fiber v2 ---------------------------------------------------------------------

FAST_VERSIONS = {
    "newest": {"github.com/gofiber/fiber/v2": "v2.52.15", "github.com/valyala/fasthttp": "v1.78.0"},
    "oldest": {"github.com/gofiber/fiber/v2": "v2.52.0", "github.com/valyala/fasthttp": "v1.51.0"},
}


@pytest.fixture(scope="module", params=["newest", "oldest"])
def fast(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_variant("webfast", request.param, tmp_path_factory.mktemp(f"fast-{request.param}"))


@dataclass
class FastService:
    proc: subprocess.Popen[str]
    fiber: Service
    bare: Service
    # the Fiber app the program instruments itself with otelfiber (own_newest.go), newest only
    own: Service | None = None


def start_fast(binary: Path, env: dict[str, str], services: list[Service]) -> FastService:
    proc = subprocess.Popen(
        [str(binary)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.match(
        r"listening on (127\.0\.0\.1:(\d+)) (127\.0\.0\.1:(\d+))(?: otelfiber (127\.0\.0\.1:(\d+)))?",
        line,
    )
    if not m:
        proc.kill()
        raise AssertionError(f"service did not start: {line!r}\n{proc.communicate()[1]}")
    fiber = Service(proc, f"http://{m.group(1)}", int(m.group(2)))
    services.append(fiber)
    own = Service(proc, f"http://{m.group(5)}", int(m.group(6))) if m.group(5) else None
    return FastService(proc, fiber, Service(proc, f"http://{m.group(3)}", int(m.group(4))), own)


FAST_REQUESTS = [
    ("fiber", "/api/orders/1", 200, "fiber order 1"),
    ("fiber", "/api/fail", 500, "fiber failure"),
    ("fiber", "/nowhere", 404, "Cannot GET /nowhere"),
    ("bare", "/hello", 200, "hello"),
    ("bare", "/call", 200, "called: fiber order 7"),
]


def fast_answers(svc: FastService, headers: dict[str, str] | None = None) -> list[tuple[int, str]]:
    return [getattr(svc, side).get(path, headers) for side, path, _, _ in FAST_REQUESTS]


def test_fast_rules_match_the_releases_of_the_build(fast: Built) -> None:
    want = FAST_VERSIONS[fast.variant]
    assert {m: v for m, v in linked_versions(fast.inst).items() if m in want} == want
    by_rule: dict[str, set[str]] = {}
    for f in fast.report["instrumented"]:  # type: ignore[attr-defined]
        for rule in f["rules"]:
            by_rule.setdefault(rule, set()).add(f"{f['receiver']}.{f['function']}")
    assert by_rule["fasthttp"] == {"*Server.Serve", "*Server.ServeConn", "*HostClient.Do"}
    assert by_rule["fiber"] == {"*App.next", "*App.startupProcess"}


def test_fasthttp_and_fiber_spans(fast: Built, services: list[Service]) -> None:
    with OTLPReceiver() as rx:
        svc = start_fast(fast.inst, otlp_env(rx), services)
        got = fast_answers(svc, {"traceparent": TRACEPARENT})
        assert [(s, b) for s, b in got] == [(s, b) for _, _, s, b in FAST_REQUESTS]
        code, _, err = svc.fiber.stop()
        assert code == 0, err
        spans = rx.wait_for(lambda s: len(server_spans(s)) >= len(FAST_REQUESTS) + 1)
    servers_ = server_spans(spans)
    for side, path, status, _ in FAST_REQUESTS:
        port = getattr(svc, side).port
        (span,) = [
            s
            for s in servers_
            if s.attributes["url.path"] == path
            and s.attributes["server.port"] == port
            and s.trace_id == TRACE_ID
        ]
        assert span.parent_span_id == PARENT_ID
        assert span.scope.endswith("/rules/fasthttp")
        assert span.attributes["http.request.method"] == "GET"
        assert span.attributes["http.response.status_code"] == status
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["client.address"] == "127.0.0.1"
        assert span.status == ("ERROR" if status >= 500 else "UNSET")
        if path.startswith("/api/"):
            route = "/api/orders/:id" if path == "/api/orders/1" else path
            assert span.name == f"GET {route}"
            assert span.attributes["http.route"] == route
        else:
            # no route: "{method}", never the URI path (semantic conventions, HTTP span name)
            assert span.name == "GET" and "http.route" not in span.attributes
    (fail,) = [s for s in servers_ if s.attributes["url.path"] == "/api/fail"]
    assert exceptions(fail) == ["fiber failure"]

    # /call: a fasthttp CLIENT span, whose request the Fiber app served as its child.
    (client,) = [s for s in spans if s.kind == "CLIENT"]
    assert client.name == "GET" and client.scope.endswith("/rules/fasthttp")
    assert client.attributes["url.full"] == f"{svc.fiber.base}/api/orders/7"
    assert client.attributes["server.port"] == svc.fiber.port
    assert client.attributes["http.response.status_code"] == 200
    (callee,) = [s for s in servers_ if s.attributes["url.path"] == "/api/orders/7"]
    assert callee.parent_span_id == client.span_id and callee.trace_id == client.trace_id
    assert callee.name == "GET /api/orders/:id"
    # Its parent is the /call server span when goroutine-local context is linked in, else none.
    (call,) = [s for s in servers_ if s.attributes["url.path"] == "/call"]
    assert client.parent_span_id in ("", call.span_id)


OWN_FIBER_TRACE = "7bf92f3577b34da6a3ce929d0e0e4739"


@pytest.mark.parametrize("fast", ["newest"], indirect=True)
def test_fast_fiber_app_the_program_instruments_itself_gets_its_span_only(
    fast: Built, services: list[Service]
) -> None:
    """A Fiber app with otelfiber's middleware makes its own SERVER span: fasthttp's rule set
    leaves that app's Server unwrapped (no second SERVER span as its parent), while the app
    without it keeps ours."""
    with OTLPReceiver() as rx:
        svc = start_fast(fast.inst, otlp_env(rx), services)
        assert svc.own is not None
        got = svc.own.get("/own/orders/1", {"traceparent": f"00-{OWN_FIBER_TRACE}-{PARENT_ID}-01"})
        assert got == (200, "otelfiber order 1")
        assert svc.fiber.get("/api/orders/1", {"traceparent": TRACEPARENT})[0] == 200
        code, _, err = svc.fiber.stop()
        assert code == 0, err
        spans = rx.wait_for(lambda s: len(server_spans(s)) >= 2)
    traced = [s for s in spans if s.trace_id == OWN_FIBER_TRACE]
    assert len(traced) == 1, [(s.name, s.scope) for s in traced]
    (span,) = traced
    assert span.kind == "SERVER" and span.scope == "github.com/gofiber/contrib/otelfiber", span
    assert span.parent_span_id == PARENT_ID
    (ours,) = [s for s in spans if s.trace_id == TRACE_ID]
    assert ours.scope.endswith("/rules/fasthttp") and ours.name == "GET /api/orders/:id"


def test_fast_answers_like_plain(fast: Built, services: list[Service]) -> None:
    plain = start_fast(fast.plain, env_without_otel(), services)
    want = fast_answers(plain)
    plain.fiber.stop()
    inst = start_fast(fast.inst, env_without_otel(OTEL_TRACES_EXPORTER="none"), services)
    assert fast_answers(inst) == want
    assert inst.fiber.stop()[0] == 0


# One instrumented test build per module: the newest releases (the fixture's build is reused).
@pytest.mark.parametrize("fast", ["newest"], indirect=True)
def test_fast_module_go_test_plain_and_instrumented(fast: Built) -> None:
    run_ok(["go", "test", "-count=1", "./..."], fast.mod)
    run_ok([*CLI, "test", "-C", str(fast.mod), "-count=1", "./..."], REPO, env_without_otel())
