"""Goroutine-local context and the run-time switches, end to end with the real Go toolchain.

The test service (tests/data/modules/gls) makes calls without a context: http.Get and db.Query in a
handler, in a goroutine the handler starts, in a worker goroutine that the first request starts and
later requests reuse. Built by `otel-go-autoinst build`, it sends real spans over OTLP/HTTP to a
receiver started here; each test checks who is whose parent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from otlp_receiver import OTLPReceiver, Span  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "tests" / "data" / "modules" / "gls"
CLI = [sys.executable, "-m", "otel_go_autoinst.cli"]


def _cli() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    return [exe] if exe else CLI


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert shutil.which("go"), "the Go toolchain is required"
    out = tmp_path_factory.mktemp("gls") / "gls"
    _run([*_cli(), "build", "-C", str(MODULE), "-o", str(out), "."], REPO)
    return out


@dataclass
class Service:
    proc: subprocess.Popen[str]
    base: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> str:
        req = urllib.request.Request(self.base + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=60) as resp:
            body: str = resp.read().decode()
            assert resp.status == 200, body
            return body


Start = Callable[..., Service]


@pytest.fixture
def start() -> Iterator[Start]:
    started: list[Service] = []

    def run(binary: Path, rx: OTLPReceiver | None, **env: str) -> Service:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        if rx is not None:
            environ.update(OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, OTEL_BSP_SCHEDULE_DELAY="100")
        environ.update(env)
        proc = subprocess.Popen(
            [str(binary)], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.match(r"listening on (\S+)", line)
        if not m:
            proc.kill()
            raise AssertionError(f"the service did not start: {line!r} {proc.communicate()[1]}")
        svc = Service(proc, f"http://{m.group(1)}")
        started.append(svc)
        return svc

    yield run
    for svc in started:
        if svc.proc.poll() is None:
            svc.proc.terminate()
            try:
                svc.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                svc.proc.kill()
                svc.proc.communicate()


def server(spans: list[Span], path: str) -> Span:
    found = [s for s in spans if s.kind == "SERVER" and s.attributes.get("url.path") == path]
    assert len(found) == 1, f"one SERVER span for {path} expected, got {found!r}"
    return found[0]


def client(spans: list[Span], leaf: str) -> Span:
    found = [
        s for s in spans if s.kind == "CLIENT" and str(s.attributes.get("url.full")).endswith(leaf)
    ]
    assert len(found) == 1, f"one CLIENT span for {leaf} expected, got {found!r}"
    return found[0]


def has_clients(*leaves: str) -> Callable[[list[Span]], bool]:
    def check(spans: list[Span]) -> bool:
        urls = [str(s.attributes.get("url.full")) for s in spans if s.kind == "CLIENT"]
        return all(any(u.endswith(leaf) for u in urls) for leaf in leaves)

    return check


def test_a_call_without_context_is_a_child_of_the_request(binary: Path, start: Start) -> None:
    with OTLPReceiver() as rx:
        svc = start(binary, rx)
        assert svc.get("/noctx/1") == "ok"
        assert svc.get("/go/2") == "ok"
        spans = rx.wait_for(has_clients("/leaf/1", "/leaf/2"))
        for route, leaf in (("/noctx/1", "/leaf/1"), ("/go/2", "/leaf/2")):
            srv, call = server(spans, route), client(spans, leaf)
            assert call.parent_span_id == srv.span_id, (route, call, srv)
            assert call.trace_id == srv.trace_id
            # and the trace goes on across the wire: the leaf's SERVER span is the call's child
            spans = rx.wait_for(lambda s, leaf=leaf: any(
                x.kind == "SERVER" and x.attributes.get("url.path") == leaf for x in s
            ))  # fmt: skip
            assert server(spans, leaf).parent_span_id == call.span_id


def test_db_calls_without_context_are_children_of_the_request(binary: Path, start: Start) -> None:
    with OTLPReceiver() as rx:
        svc = start(binary, rx)
        assert svc.get("/db/5") == "ok"
        spans = rx.wait_for(lambda s: {"SELECT", "INSERT"} <= {x.name for x in s})
        srv = server(spans, "/db/5")
        for name in ("SELECT", "INSERT"):
            (span,) = [s for s in spans if s.name == name]
            assert span.parent_span_id == srv.span_id, span
            assert span.trace_id == srv.trace_id


def test_a_reused_worker_does_not_keep_the_first_request_as_parent(
    binary: Path, start: Start
) -> None:
    """The worker goroutine is started by the first request: while that request runs, its call is
    the request's child; once the request ended, its calls are no longer (no stale parent)."""
    with OTLPReceiver() as rx:
        svc = start(binary, rx)
        for i in (1, 2, 3):
            assert svc.get(f"/worker/{i}") == "ok"
        spans = rx.wait_for(has_clients("/leaf/1", "/leaf/2", "/leaf/3"))
        first = server(spans, "/worker/1")
        assert client(spans, "/leaf/1").parent_span_id == first.span_id
        for i in (2, 3):
            call = client(spans, f"/leaf/{i}")
            assert call.parent_span_id == "", call  # the worker knows no request's span
            assert call.trace_id != first.trace_id


def test_concurrent_requests_never_cross_parent(binary: Path, start: Start) -> None:
    n = 200
    with OTLPReceiver() as rx:
        svc = start(binary, rx)
        with ThreadPoolExecutor(max_workers=n) as pool:
            paths = [f"/go/c{i}" if i % 2 else f"/noctx/c{i}" for i in range(n)]
            assert list(pool.map(svc.get, paths)) == ["ok"] * n
        spans = rx.wait_for(has_clients(*(f"/leaf/c{i}" for i in range(n))), timeout=60)
        parents = {s.span_id: s for s in spans if s.kind == "SERVER"}
        for i, path in enumerate(paths):
            call = client(spans, f"/leaf/c{i}")
            assert parents[call.parent_span_id].attributes["url.path"] == path, call


# ---- what the rewrite does to the runtime


def test_the_runtime_edits_keep_every_line(tmp_path: Path) -> None:
    """The field goes last in runtime.g, the copy and the clearing on the functions' brace lines."""
    proc = _run([*_cli(), "diff", "-C", str(MODULE), "."], REPO)
    files = re.split(r"(?m)^--- ", proc.stdout)
    runtime = {f.split("\n", 1)[0]: f for f in files if "GOROOT/src/runtime/" in f.split("\n")[0]}
    added = {
        name.split()[0]: [x[1:] for x in text.splitlines() if x.startswith("+") and not x.startswith("+++")]
        for name, text in runtime.items()
    }  # fmt: skip
    assert added["a/GOROOT/src/runtime/runtime2.go"] == ["otelGLS unsafe.Pointer; }"]
    gdestroy, newproc1 = added["a/GOROOT/src/runtime/proc.go"]  # in file order
    assert newproc1.startswith("func newproc1(") and newproc1.endswith(
        "(_otelR0 *g) { defer func() { _otelR0.otelGLS = callergp.otelGLS }();"
    )
    assert gdestroy == "func gdestroy(gp *g) { gp.otelGLS = nil;"
    for name in ("runtime2.go", "proc.go"):
        removed = [x for x in runtime[f"a/GOROOT/src/runtime/{name}"].splitlines()
                   if x.startswith("-") and not x.startswith("---")]  # fmt: skip
        assert len(removed) == len(added[f"a/GOROOT/src/runtime/{name}"])


def test_a_users_rule_cannot_change_the_runtime(tmp_path: Path) -> None:
    rules = tmp_path / "rt.yaml"
    (tmp_path / "go.mod").write_text("module example.com/rt\n\ngo 1.23\n")
    (tmp_path / "f.go").write_text("package rt\n")
    rules.write_text(
        "name: rt\nhooks: example.com/rt\nrules:\n"
        "  - {import_path: runtime, struct: g, field: mine, field_type: int}\n"
        "  - {import_path: runtime, file: f.go}\n"
        "  - {import_path: runtime, function: gdestroy, inject: 'gp.mine = 0'}\n"
    )
    report = tmp_path / "plan.json"
    _run([*_cli(), "plan", "-C", str(MODULE), "--rules", str(rules), "--json", str(report)], REPO)
    warnings = json.loads(report.read_text())["warnings"]
    assert sum("runtime cannot be" in w and "rt.yaml" in w for w in warnings) == 3, warnings


# ---- run-time switches and propagators


def test_disabled_instrumentations_make_no_spans_and_send_no_headers(
    binary: Path, start: Start
) -> None:
    for env in (
        {"OTEL_GO_DISABLED_INSTRUMENTATIONS": "nethttp"},
        {"OTEL_GO_ENABLED_INSTRUMENTATIONS": "databasesql,gls"},
    ):
        with OTLPReceiver() as rx:
            svc = start(binary, rx, **env)
            assert svc.get("/headers") == "", env  # no trace header went out
            assert svc.get("/db/1") == "ok"
            spans = rx.wait_for(lambda s: {"SELECT", "INSERT"} <= {x.name for x in s})
            assert not [s for s in spans if s.scope.endswith("/rules/nethttp")], env
            assert all(s.parent_span_id == "" for s in spans), env  # no request span to join


def test_sdk_disabled_makes_nothing(binary: Path, start: Start) -> None:
    with OTLPReceiver() as rx:
        svc = start(binary, rx, OTEL_SDK_DISABLED="true")
        assert svc.get("/headers", {"baggage": "k=v"}) == ""
        assert svc.get("/db/1") == "ok"
        svc.proc.terminate()
        svc.proc.communicate(timeout=20)
        assert rx.requests == 0


def test_gls_switched_off_leaves_calls_without_context_unparented(
    binary: Path, start: Start
) -> None:
    with OTLPReceiver() as rx:
        svc = start(binary, rx, OTEL_GO_DISABLED_INSTRUMENTATIONS="gls")
        assert svc.get("/noctx/9") == "ok"
        spans = rx.wait_for(has_clients("/leaf/9"))
        assert client(spans, "/leaf/9").parent_span_id == ""


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("propagators", "expected"),
    [
        (None, {"traceparent", "baggage"}),
        ("tracecontext", {"traceparent"}),
        ("baggage", {"baggage"}),
        ("b3", {"b3"}),
        ("b3multi", {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"}),
        ("tracecontext,b3", {"traceparent", "b3"}),
        ("none", set()),
    ],
)
def test_otel_propagators(
    binary: Path, start: Start, propagators: str | None, expected: set[str]
) -> None:
    env = {"OTEL_PROPAGATORS": propagators} if propagators is not None else {}
    with OTLPReceiver() as rx:
        svc = start(binary, rx, **env)
        incoming = {"baggage": "k=v"}
        if propagators not in ("b3", "b3multi"):
            incoming["traceparent"] = TRACEPARENT
        else:
            incoming["b3"] = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        lines = [x for x in svc.get("/headers", incoming).splitlines() if x]
        sent = dict(line.split(": ", 1) for line in lines)
        assert set(sent) == expected
        # The spans are made whatever goes out; the trace is the incoming one when it was read.
        spans = rx.wait_for(lambda s: any(x.attributes.get("url.path") == "/headers" for x in s))
        srv = server(spans, "/headers")
        if propagators == "none":
            assert srv.parent_span_id == ""
        elif propagators != "baggage":
            assert srv.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
            assert srv.parent_span_id == "00f067aa0ba902b7"
        for header in ("traceparent", "b3", "x-b3-traceid"):
            if header in sent:
                assert srv.trace_id in sent[header].replace("-", "")
        if "baggage" in sent:
            assert sent["baggage"] == "k=v"
