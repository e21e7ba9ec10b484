"""Messaging integrations end to end: tests/data/modules/msgsvc (an HTTP handler per library that
sends a message, a consumer goroutine per library that reads it back) built by `otel-go-autoinst
build` with the newest and the oldest supported release of each library, run against real servers
(Kafka: franz-go's kfake cluster in tests/data/modules/msgkfake; nats-server and RabbitMQ from
Debian's packages, tests/servers.py), its spans received over OTLP/HTTP: names, kinds, attributes,
errors, the producer span parented on the HTTP server span of the request that caused it, and the
consumer span parented on or linked to the producer's context carried in the message headers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from otlp_receiver import OTLPReceiver, Span  # noqa: E402
from servers import Server, nats_server, rabbitmq_server  # noqa: E402, F401  (fixtures)

REPO = Path(__file__).resolve().parents[1]
MODULES = REPO / "tests" / "data" / "modules"
CLI = [sys.executable, "-m", "otel_go_autoinst.cli"]

# The releases the rules claim (oldest.mod pins the oldest; go.mod the newest).
VERSIONS = {
    "newest": {
        "github.com/segmentio/kafka-go": "v0.4.51",
        "github.com/nats-io/nats.go": "v1.55.0",
        "github.com/rabbitmq/amqp091-go": "v1.16.0",
        "github.com/IBM/sarama": "v1.61.1",
        "github.com/twmb/franz-go": "v1.22.3",
    },
    "oldest": {
        "github.com/segmentio/kafka-go": "v0.4.42",
        "github.com/nats-io/nats.go": "v1.31.0",
        "github.com/rabbitmq/amqp091-go": "v1.8.1",
        "github.com/IBM/sarama": "v1.40.1",
        "github.com/twmb/franz-go": "v1.14.0",
    },
}


def _run(cmd: list[str], cwd: Path, timeout: float = 900) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as rx:
        yield rx


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An in-process Kafka-protocol cluster (kfake), built plain by the go command."""
    assert shutil.which("go"), "the Go toolchain is required"
    exe = tmp_path_factory.mktemp("kfake") / "msgkfake"
    _run(["go", "build", "-o", str(exe), "."], MODULES / "msgkfake")
    proc = subprocess.Popen(
        [str(exe), "-topics", "orders-kafkago,orders-sarama,orders-franzgo"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("KAFKA "), f"kfake did not start: {line!r}"
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@dataclass
class Service:
    proc: subprocess.Popen[str]
    base: str
    lines: list[str]
    cond: threading.Condition

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.base + path, timeout=60) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def wait_line(self, text: str, timeout: float = 30) -> None:
        with self.cond:
            ok = self.cond.wait_for(lambda: text in self.lines, timeout=timeout)
        assert ok, f"{text!r} not printed; got {self.lines}"


@pytest.fixture(scope="module", params=["newest", "oldest"])
def service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: OTLPReceiver,
    kafka: str,
    nats_server: Server,  # noqa: F811
    rabbitmq_server: Server,  # noqa: F811
) -> Iterator[Service]:
    """msgsvc built instrumented (one build per release set) and running against the servers."""
    which = str(request.param)
    work = tmp_path_factory.mktemp(f"msgsvc-{which}")
    src = work / "msgsvc"
    shutil.copytree(MODULES / "msgsvc", src)
    if which == "oldest":
        shutil.copy(src / "oldest.mod", src / "go.mod")
        shutil.copy(src / "oldest.sum", src / "go.sum")
    proc = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Path}} {{.Version}}", *VERSIONS[which]],
        cwd=src, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert dict(line.split() for line in proc.stdout.splitlines()) == VERSIONS[which]
    exe = work / "msgsvc-bin"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    build = subprocess.run(
        [*CLI, "build", "-C", str(src), "-o", str(exe), "."],
        cwd=REPO, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert build.returncode == 0, f"instrumented build failed:\n{build.stdout}\n{build.stderr}"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    run_env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME=f"msgsvc-{which}",
        OTEL_BSP_SCHEDULE_DELAY="50",
    )
    args = [
        "-kafka",
        kafka,
        "-nats",
        nats_server.extra["url"],
        "-amqp",
        rabbitmq_server.extra["url"],
    ]
    p = subprocess.Popen(
        [str(exe), *args], env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first = p.stdout.readline() if p.stdout else ""
    if not first.startswith("LISTEN "):
        p.kill()
        _, err = p.communicate(timeout=20)
        pytest.fail(f"msgsvc did not start: {first!r}\n{err}")
    svc = Service(p, "http://" + first.split()[1], [], threading.Condition())

    def read() -> None:
        assert p.stdout
        for line in p.stdout:
            with svc.cond:
                svc.lines.append(line.strip())
                svc.cond.notify_all()

    threading.Thread(target=read, daemon=True).start()
    try:
        yield svc
    finally:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def _server_span(spans: list[Span], route: str) -> Span | None:
    return next(
        (s for s in spans if s.kind == "SERVER" and s.attributes.get("url.path") == route), None
    )


def _flow(
    rx: OTLPReceiver, svc: Service, lib: str, route: str, value: str, consumed: str
) -> list[Span]:
    """Send value through route, wait until the consumer printed it and its spans arrived; the
    spans of that trace and of the consumer spans linked to it."""
    assert svc.get(f"{route}?v={value}") == 200
    svc.wait_line(f"{consumed} {lib} {value}")
    return rx.wait_for(lambda spans: _server_span(spans, route) is not None)


def _producer_of(rx: OTLPReceiver, server: Span, name: str) -> Span:
    spans = rx.wait_for(
        lambda spans: any(
            s.parent_span_id == server.span_id and s.kind == "PRODUCER" for s in spans
        )
    )
    producers = [s for s in spans if s.parent_span_id == server.span_id and s.kind == "PRODUCER"]
    assert [s.name for s in producers] == [name], producers
    p = producers[0]
    assert p.trace_id == server.trace_id
    assert p.status == "UNSET"
    assert "error.type" not in p.attributes
    return p


def _linked_to(rx: OTLPReceiver, producer: Span, kind: str, name: str) -> Span:
    def found(spans: list[Span]) -> bool:
        return any(
            s.kind == kind and s.name == name and (producer.trace_id, producer.span_id) in s.links
            for s in spans
        )

    spans = rx.wait_for(found)
    return next(
        s for s in spans
        if s.kind == kind and s.name == name and (producer.trace_id, producer.span_id) in s.links
    )  # fmt: skip


def _failed_send(rx: OTLPReceiver, svc: Service, route: str, name: str) -> Span:
    assert svc.get(route) == 500
    spans = rx.wait_for(lambda spans: _server_span(spans, route) is not None)
    server = _server_span(spans, route)
    assert server is not None
    spans = rx.wait_for(lambda spans: any(s.parent_span_id == server.span_id for s in spans))
    (p,) = [s for s in spans if s.parent_span_id == server.span_id]
    assert (p.kind, p.name, p.status) == ("PRODUCER", name, "ERROR"), p
    assert p.attributes.get("error.type"), p
    return p


def _fresh(rx: OTLPReceiver) -> None:
    """Forget the spans of the other release set's run (both share the receiver)."""
    with rx._cond:
        rx.exports.clear()


def test_kafkago(receiver: OTLPReceiver, service: Service, kafka: str) -> None:
    _fresh(receiver)
    _flow(receiver, service, "kafkago", "/kafkago/send", "k1", "consumed")
    server = _server_span(receiver.spans, "/kafkago/send")
    assert server is not None
    p = _producer_of(receiver, server, "send orders-kafkago")
    host, port = kafka.rsplit(":", 1)
    assert p.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": "orders-kafkago",
        "messaging.kafka.message.key": "k-k1",
        "server.address": host,
        "server.port": int(port),
    }
    r = _linked_to(receiver, p, "CLIENT", "receive orders-kafkago")
    a = r.attributes
    assert a["messaging.system"] == "kafka"
    assert a["messaging.operation.type"] == "receive"
    assert a["messaging.destination.name"] == "orders-kafkago"
    assert a["messaging.consumer.group.name"] == "msgsvc-kafkago"
    assert a["messaging.destination.partition.id"] == "0"
    assert isinstance(a["messaging.kafka.offset"], int) and a["messaging.kafka.offset"] >= 0
    assert a["messaging.kafka.message.key"] == "k-k1"
    assert r.status == "UNSET"
    _failed_send(receiver, service, "/kafkago/fail", "send orders-kafkago")


def test_nats(receiver: OTLPReceiver, service: Service, nats_server: Server) -> None:  # noqa: F811
    _fresh(receiver)
    _flow(receiver, service, "nats", "/nats/publish", "n1", "consumed")
    service.wait_line("pulled nats n1")
    server = _server_span(receiver.spans, "/nats/publish")
    assert server is not None
    p = _producer_of(receiver, server, "publish orders.nats")
    assert p.attributes["messaging.system"] == "nats"
    assert p.attributes["messaging.operation.type"] == "send"
    assert p.attributes["messaging.destination.name"] == "orders.nats"
    assert p.attributes["server.port"] == nats_server.port
    # Pushed to the Subscribe handler: a CONSUMER span, child of the producer and linked to it.
    c = _linked_to(receiver, p, "CONSUMER", "process orders.nats")
    assert (c.trace_id, c.parent_span_id) == (p.trace_id, p.span_id)
    assert c.attributes["messaging.operation.type"] == "process"
    assert c.attributes["messaging.message.body.size"] == 2
    # Pulled with NextMsg: a CLIENT receive span linked to the producer.
    r = _linked_to(receiver, p, "CLIENT", "receive orders.nats")
    assert r.attributes["messaging.operation.type"] == "receive"
    _failed_send(receiver, service, "/nats/fail", "publish orders.nats")


def test_amqp091(receiver: OTLPReceiver, service: Service) -> None:
    _fresh(receiver)
    _flow(receiver, service, "amqp091", "/amqp091/publish", "a1", "pulled")
    server = _server_span(receiver.spans, "/amqp091/publish")
    assert server is not None
    p = _producer_of(receiver, server, "publish amq.default")
    assert p.attributes["messaging.system"] == "rabbitmq"
    assert p.attributes["messaging.operation.type"] == "send"
    assert p.attributes["messaging.rabbitmq.destination.routing_key"] == "orders-amqp"
    assert p.attributes["messaging.message.id"] == "m-a1"
    r = _linked_to(receiver, p, "CLIENT", "receive orders-amqp")
    assert r.attributes["messaging.destination.name"] == "orders-amqp"
    assert r.attributes["messaging.message.id"] == "m-a1"
    assert isinstance(r.attributes["messaging.rabbitmq.message.delivery_tag"], int)
    # Delivered to a Channel.Consume consumer (tag generated by the library): a CLIENT receive span
    # made when the library hands the delivery over, a trace of its own linked to the producer.
    _flow(receiver, service, "amqp091", "/amqp091/push", "a2", "delivered")
    server = _server_span(receiver.spans, "/amqp091/push")
    assert server is not None
    p = _producer_of(receiver, server, "publish amq.default")
    d = _linked_to(receiver, p, "CLIENT", "receive orders-amqp-push")
    assert (d.parent_span_id, d.status) == ("", "UNSET"), d
    assert d.attributes["messaging.destination.name"] == "orders-amqp-push"
    assert d.attributes["messaging.operation.type"] == "receive"
    assert d.attributes["messaging.message.id"] == "m-a2"
    assert isinstance(d.attributes["messaging.rabbitmq.message.delivery_tag"], int)
    _failed_send(receiver, service, "/amqp091/fail", "publish amq.default")


def _kafka_producer_attrs(p: Span, topic: str) -> dict[str, object]:
    """The attributes of a Kafka send span, its offset checked and left out."""
    a = dict(p.attributes)
    assert isinstance(a.pop("messaging.kafka.offset"), int)
    assert a.pop("messaging.destination.partition.id") == "0"
    assert a.pop("messaging.system") == "kafka"
    assert a.pop("messaging.operation.name") == "send"
    assert a.pop("messaging.operation.type") == "send"
    assert a.pop("messaging.destination.name") == topic
    return a


def test_sarama(receiver: OTLPReceiver, service: Service, kafka: str) -> None:
    _fresh(receiver)
    # SyncProducer: the span is the caller's, parented on the HTTP server span.
    _flow(receiver, service, "sarama", "/sarama/send", "s1", "consumed")
    server = _server_span(receiver.spans, "/sarama/send")
    assert server is not None
    p = _producer_of(receiver, server, "send orders-sarama")
    assert _kafka_producer_attrs(p, "orders-sarama") == {"messaging.kafka.message.key": "k-s1"}
    # The consumer group's claim: a receive span per message, a trace of its own, linked.
    r = _linked_to(receiver, p, "CLIENT", "receive orders-sarama")
    assert (r.parent_span_id, r.status) == ("", "UNSET"), r
    assert r.trace_id != p.trace_id
    assert r.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.name": "receive",
        "messaging.operation.type": "receive",
        "messaging.destination.name": "orders-sarama",
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": p.attributes["messaging.kafka.offset"],
        "messaging.kafka.message.key": "k-s1",
        "messaging.consumer.group.name": "msgsvc-sarama",
    }
    # SendMessages: a span per message, each the caller's, each linked from its receive span.
    assert service.get("/sarama/batch?v=b") == 200
    service.wait_line("consumed sarama b1")
    service.wait_line("consumed sarama b2")
    receiver.wait_for(lambda spans: _server_span(spans, "/sarama/batch") is not None)
    server = _server_span(receiver.spans, "/sarama/batch")
    assert server is not None
    spans = receiver.wait_for(
        lambda spans: sum(s.parent_span_id == server.span_id for s in spans) >= 2
    )
    batch = sorted(
        (s for s in spans if s.parent_span_id == server.span_id),
        key=lambda s: str(s.attributes.get("messaging.kafka.message.key")),
    )
    assert [(s.kind, s.name) for s in batch] == [("PRODUCER", "send orders-sarama")] * 2, batch
    assert [_kafka_producer_attrs(s, "orders-sarama") for s in batch] == [
        {"messaging.kafka.message.key": "k-b1"},
        {"messaging.kafka.message.key": "k-b2"},
    ]
    for s in batch:
        _linked_to(receiver, s, "CLIENT", "receive orders-sarama")
    # AsyncProducer: the dispatcher takes the message with no caller known: a root send span,
    # whose context still travels to the consumer.
    _flow(receiver, service, "sarama", "/sarama/async", "s2", "consumed")

    def root_send(s: Span) -> bool:
        return s.kind == "PRODUCER" and s.name == "send orders-sarama" and not s.parent_span_id

    (ap,) = [s for s in receiver.wait_for(lambda spans: any(map(root_send, spans))) if root_send(s)]
    assert ap.status == "UNSET", ap
    assert _kafka_producer_attrs(ap, "orders-sarama") == {}
    r = _linked_to(receiver, ap, "CLIENT", "receive orders-sarama")
    assert r.attributes["messaging.kafka.offset"] == ap.attributes["messaging.kafka.offset"]
    # One interceptor of ours however many producers share the configuration: one span per send.
    sends = [
        s.name for s in receiver.spans if s.scope.endswith("/rules/sarama") and s.kind == "PRODUCER"
    ]
    assert sends == ["send orders-sarama"] * 4, sends
    _failed_send(receiver, service, "/sarama/fail", "send orders-sarama")


KOTEL = "github.com/twmb/franz-go/plugin/kotel"


def test_franzgo(receiver: OTLPReceiver, service: Service, kafka: str) -> None:
    _fresh(receiver)
    _flow(receiver, service, "franzgo", "/franzgo/send", "f1", "consumed")
    server = _server_span(receiver.spans, "/franzgo/send")
    assert server is not None
    p = _producer_of(receiver, server, "send orders-franzgo")
    host, port = kafka.rsplit(":", 1)
    assert _kafka_producer_attrs(p, "orders-franzgo") == {
        "messaging.kafka.message.key": "k-f1",
        "server.address": host,
        "server.port": int(port),
    }
    # PollFetches returned the record: a receive span for the poll, linked to the producer.
    r = _linked_to(receiver, p, "CLIENT", "receive orders-franzgo")
    assert (r.parent_span_id, r.status) == ("", "UNSET"), r
    a = r.attributes
    assert a["messaging.operation.type"] == "receive"
    assert a["messaging.consumer.group.name"] == "msgsvc-franzgo"
    assert a["messaging.destination.partition.id"] == "0"
    assert (a["server.address"], a["server.port"]) == (host, int(port))
    assert a.get("messaging.kafka.offset", a.get("messaging.batch.message_count")) is not None
    # A client the program traces itself with kotel: its spans only, none of ours (the consumer's
    # receive span, linked to kotel's producer span, comes after both producers would have ended).
    _flow(receiver, service, "franzgo", "/franzgo/kotel", "f2", "consumed")
    server = _server_span(receiver.spans, "/franzgo/kotel")
    assert server is not None
    spans = receiver.wait_for(lambda spans: any(s.parent_span_id == server.span_id for s in spans))
    (k,) = [s for s in spans if s.parent_span_id == server.span_id]
    assert (k.kind, k.name, k.scope) == ("PRODUCER", "orders-franzgo publish", KOTEL), k
    _linked_to(receiver, k, "CLIENT", "receive orders-franzgo")
    ours = [s for s in receiver.spans if s.trace_id == server.trace_id and s.scope != KOTEL]
    assert ours == [server], ours
    # A record without a topic fails before it is sent: the span (no destination) says so.
    _failed_send(receiver, service, "/franzgo/fail", "send")
