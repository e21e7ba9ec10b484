"""MongoDB end to end against a real wire-protocol server (FerretDB, the mongo_server fixture of
tests/servers.py): the service in tests/data/modules/mongosvc, built by `otel-go-autoinst build`
with the newest and with the oldest supported releases of go.mongodb.org/mongo-driver v1 and v2,
sends its spans over OTLP/HTTP to a receiver started here. For each driver: one CLIENT span per
command with its name, attributes and errors (a duplicate key the server answers with ok:1, an
unknown command), parented on the SERVER span of the HTTP request; the program's own command
monitor keeps running, and a Client the program traces with otelmongo is left to otelmongo.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from otlp_receiver import OTLPReceiver, Span  # noqa: E402
from servers import Server, mongo_server  # noqa: E402, F401  (a pytest fixture)

REPO = Path(__file__).resolve().parents[1]
MONGOSVC = REPO / "tests" / "data" / "modules" / "mongosvc"
CLI = [sys.executable, "-m", "otel_go_autoinst.cli"]

SCOPES = {
    "v1": "github.com/otel-go-autoinst/otel-go-autoinst/rules/mongo",
    "v2": "github.com/otel-go-autoinst/otel-go-autoinst/rules/mongov2",
}
OTELMONGO_SCOPE = (
    "go.opentelemetry.io/contrib/instrumentation/go.mongodb.org/mongo-driver/mongo/otelmongo"
)

# go.mod.oldest / go.sum.oldest in MONGOSVC pin the oldest release each rule set claims (the
# build with them leaves otelmongo.go out: otelmongo needs a newer v1 driver).
OLDEST = {"go.mongodb.org/mongo-driver": "v1.11.0", "go.mongodb.org/mongo-driver/v2": "v2.0.0"}


def _cli() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    return [exe] if exe else CLI


@dataclass
class Service:
    proc: subprocess.Popen[str]
    base: str
    rx: OTLPReceiver
    release: str

    def get(self, path: str) -> tuple[int, str, str]:
        """GET path with a fresh traceparent: (status, body, trace id)."""
        trace_id = uuid.uuid4().hex
        req = urllib.request.Request(
            self.base + path, headers={"traceparent": f"00-{trace_id}-{'ab' * 8}-01"}
        )
        try:
            with urllib.request.urlopen(req, timeout=90) as resp:
                return resp.status, resp.read().decode(), trace_id
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), trace_id

    def trace(self, trace_id: str, clients: int) -> tuple[Span, list[Span]]:
        """The SERVER span and the CLIENT spans of one trace, once at least `clients` arrived."""

        def of_trace(spans: list[Span]) -> list[Span]:
            return [s for s in spans if s.trace_id == trace_id]

        def complete(spans: list[Span]) -> bool:
            mine = of_trace(spans)
            return any(s.kind == "SERVER" for s in mine) and (
                sum(s.kind == "CLIENT" for s in mine) >= clients
            )

        spans = of_trace(self.rx.wait_for(complete, timeout=30))
        servers = [s for s in spans if s.kind == "SERVER"]
        assert len(servers) == 1, spans
        return servers[0], [s for s in spans if s.kind == "CLIENT"]


def _source(release: str, tmp: Path) -> Path:
    if release == "newest":
        return MONGOSVC
    dst = tmp / "src"
    shutil.copytree(MONGOSVC, dst)
    (dst / "otelmongo.go").unlink()
    (dst / "go.mod").write_text((MONGOSVC / "go.mod.oldest").read_text())
    (dst / "go.sum").write_text((MONGOSVC / "go.sum.oldest").read_text())
    return dst


@pytest.fixture(scope="module", params=["newest", "oldest"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The instrumented service (one build per release set), running against FerretDB."""
    mongo: Server = request.getfixturevalue("mongo_server")
    tmp = tmp_path_factory.mktemp(f"mongosvc-{request.param}")
    src = _source(request.param, tmp)
    binary = tmp / "mongosvc"
    proc = subprocess.run(
        [*_cli(), "build", "-C", str(src), "-o", str(binary), "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, f"instrumented build failed:\n{proc.stdout}\n{proc.stderr}"
    with OTLPReceiver() as rx:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
            OTEL_SERVICE_NAME="mongosvc",
            OTEL_BSP_SCHEDULE_DELAY="100",
            MONGO_URI=f"mongodb://{mongo.address}/",
        )
        svc_proc = subprocess.Popen(
            [str(binary), "-addr", "127.0.0.1:0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert svc_proc.stdout is not None
        line = svc_proc.stdout.readline()
        m = re.match(r"listening on (127\.0\.0\.1:\d+)", line)
        if not m:
            svc_proc.kill()
            _, err = svc_proc.communicate()
            raise AssertionError(f"mongosvc did not start: {line!r}\n{err}")
        try:
            yield Service(svc_proc, f"http://{m.group(1)}", rx, request.param)
        finally:
            svc_proc.kill()
            svc_proc.communicate()


def by_name(spans: list[Span], name: str) -> list[Span]:
    return [s for s in spans if s.name == name]


@pytest.mark.parametrize("driver", ["v1", "v2"])
def test_commands_errors_and_the_programs_monitor(
    service: Service,
    mongo_server: Server,  # noqa: F811
    driver: str,
) -> None:
    status, body, trace_id = service.get(f"/{driver}")
    assert status == 200, body
    m = re.search(r"found=3 .* unknown=59 monitor=(\d+)", body)
    assert m, body
    monitored = int(m.group(1))
    server, clients = service.trace(trace_id, clients=monitored)
    assert server.name == f"GET /{driver}"
    # the program's own monitor saw every command, and each command has exactly one span
    assert [s.scope for s in clients] == [SCOPES[driver]] * monitored, clients
    names = sorted(s.name for s in clients)
    getmores = names.count("getMore items")
    assert getmores >= 2, names  # three documents read one per batch
    assert names == sorted(
        ["insert items"] * 3
        + ["find items", "update items", "delete items", "aggregate items"]
        + ["ping admin", "noSuchCommand app"]
        + ["getMore items"] * getmores
    ), names
    for s in clients:
        # ping is called without a context: its parent comes from the goroutine
        assert s.parent_span_id == server.span_id, f"{s!r} is not a child of {server!r}"
        assert s.attributes["db.system.name"] == "mongodb"
        assert s.attributes["db.namespace"] == ("admin" if s.name == "ping admin" else "app")
        assert s.attributes["server.address"] == "127.0.0.1"
        assert s.attributes["server.port"] == mongo_server.port
        op, _, target = s.name.partition(" ")
        assert s.attributes["db.operation.name"] == op
        if target == "items":
            assert s.attributes["db.collection.name"] == "items"
        else:
            assert "db.collection.name" not in s.attributes
        # the command's documents are the program's data: never recorded
        assert "db.query.text" not in s.attributes
        assert "secret-alpha" not in repr(s.attributes) + s.status_message
    # the second insert of the same _id: the server answers ok:1 with a write error
    inserts = by_name(clients, "insert items")
    failed = [s for s in inserts if s.status == "ERROR"]
    assert len(failed) == 1, inserts
    assert failed[0].attributes["db.response.status_code"] == "11000"
    assert failed[0].attributes["error.type"] == "11000"
    assert "duplicate key" in failed[0].status_message.lower()
    # a command the server does not know fails; v2's event carries the code, v1's only its name
    (unknown,) = by_name(clients, "noSuchCommand app")
    assert unknown.status == "ERROR"
    if driver == "v2":
        assert unknown.attributes["db.response.status_code"] == "59"
        assert unknown.attributes["error.type"] == "59"
    else:
        assert "db.response.status_code" not in unknown.attributes
        assert unknown.attributes["error.type"] == "CommandNotFound"
    ok = [s for s in clients if s is not failed[0] and s is not unknown]
    assert all(s.status == "UNSET" for s in ok), ok


def test_a_client_traced_by_otelmongo_is_left_to_it(service: Service) -> None:
    status, body, trace_id = service.get("/v1/otelmongo")
    if service.release == "oldest":
        # otelmongo needs a newer v1 driver than the oldest claimed: that build leaves it out
        assert status == 404, body
        return
    assert status == 200, body
    server, clients = service.trace(trace_id, clients=1)
    # one span for the one command (aggregate, which CountDocuments sends): otelmongo's alone
    assert [s.scope for s in clients] == [OTELMONGO_SCOPE], clients
    assert clients[0].parent_span_id == server.span_id
