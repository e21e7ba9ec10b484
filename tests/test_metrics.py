"""Metrics end to end, with the real Go toolchain: the example service built by
`otel-go-autoinst build` sends the semantic-convention duration histograms (HTTP server, HTTP client,
database client) and the Go runtime metrics over OTLP/HTTP to a receiver started here, and the
counts and attributes match the requests made. Without metrics configuration nothing is sent to
/v1/metrics.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_otel_e2e as e2e  # noqa: E402
from otlp_receiver import MetricPoint, OTLPReceiver  # noqa: E402
from test_otel_e2e import REQUESTS, TRACEPARENT, otlp_env, start  # noqa: E402

# The example service's binaries (built once per session) and the service clean-up, shared.
binaries = e2e.binaries
services = e2e.services

HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
DB_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]


def last_points(rx: OTLPReceiver, name: str) -> list[MetricPoint]:
    """The points of metric name in the last export that has it (cumulative: the totals)."""
    for points in reversed(rx.metric_exports):
        found = [p for p in points if p.name == name]
        if found:
            return found
    return []


def counts(points: list[MetricPoint], *keys: str) -> Counter[tuple[object, ...]]:
    c: Counter[tuple[object, ...]] = Counter()
    for p in points:
        c[tuple(p.attributes.get(k) for k in keys)] += p.count or 0
    return c


def run_requests(
    binary: Path, started: list[e2e.Service], env: dict[str, str]
) -> tuple[OTLPReceiver, int]:
    """Start the service with env (+ the receiver's endpoint), send REQUESTS, stop it (the flush at
    exit exports the final totals); return the receiver and the service's port."""
    rx = OTLPReceiver()
    with rx:
        env = {**otlp_env(rx), **env}
        svc = start(binary, env)
        started.append(svc)
        for path in REQUESTS:
            svc.get(path, {"traceparent": TRACEPARENT})
        code, _, err = svc.stop()
        assert code == 0, err
    return rx, svc.port


def test_duration_histograms_match_the_requests(binaries, services):
    rx, port = run_requests(binaries["inst"], services, {"OTEL_METRICS_EXPORTER": "otlp"})

    server = last_points(rx, "http.server.request.duration")
    assert server, rx.exports
    for p in server:
        assert (p.unit, p.kind, p.bounds) == ("s", "histogram", HTTP_BUCKETS), p
        assert p.temporality == 2  # cumulative, the OTLP exporter's default
        assert p.scope.endswith("/rules/nethttp")
        assert p.resource["service.name"] == "example-service"
        assert p.attributes["http.request.method"] == "GET"
        assert p.attributes["url.scheme"] == "http"
        assert p.attributes["network.protocol.version"] == "1.1"
        # High-cardinality span attributes stay off the metric.
        assert not {"url.path", "url.full", "client.address", "user_agent.original"} & set(
            p.attributes
        )
    got = counts(server, "http.route", "http.response.status_code", "error.type")
    assert got == Counter(
        {
            ("/hello/{name}", 200, None): 2,
            ("/hello/{name}", 404, None): 1,
            ("/backend/greeting", 200, None): 3,  # each /hello/ calls the backend
            ("/fail", 500, "500"): 1,
            ("/healthz", 200, None): 1,
            (None, 404, None): 1,  # /nowhere: no route matched
        }
    ), server

    client = last_points(rx, "http.client.request.duration")
    for p in client:
        assert (p.unit, p.kind, p.bounds) == ("s", "histogram", HTTP_BUCKETS), p
    got = counts(
        client,
        "http.request.method",
        "server.address",
        "server.port",
        "http.response.status_code",
        "network.protocol.version",
    )
    # Only the service's own call to its backend: the exporters' requests are not measured.
    assert got == Counter({("GET", "127.0.0.1", port, 200, "1.1"): 3}), client

    db = last_points(rx, "db.client.operation.duration")
    for p in db:
        assert (p.unit, p.kind, p.bounds) == ("s", "histogram", DB_BUCKETS), p
        assert p.scope.endswith("/rules/databasesql")
        assert "db.query.text" not in p.attributes
    got = counts(db, "db.system.name", "db.operation.name", "error.type")
    assert got == Counter(
        {
            # The seeding transaction at start-up ...
            ("sqlite", "BEGIN", None): 1,
            ("sqlite", "CREATE", None): 2,
            ("sqlite", "COMMIT", None): 1,
            # ... its INSERT OR REPLACE plus one visit per greeting answered (ada, grace) ...
            ("sqlite", "INSERT", None): 3,
            # ... and the greeting looked up for each /hello/ request.
            ("sqlite", "SELECT", None): 3,
        }
    ), db


def test_runtime_metrics_come_with_metrics(binaries, services):
    rx, _ = run_requests(binaries["inst"], services, {"OTEL_METRICS_EXPORTER": "otlp"})
    names = {p.name for points in rx.metric_exports for p in points}
    # The contrib runtime instrumentation's set.
    assert {"go.goroutine.count", "go.memory.used", "go.memory.allocated", "go.config.gogc"} <= (
        names
    ), names
    goroutines = last_points(rx, "go.goroutine.count")
    assert goroutines[0].unit == "{goroutine}" and goroutines[0].value > 0


def test_metrics_endpoint_variable_alone_turns_metrics_on(binaries, services):
    rx = OTLPReceiver()
    with rx:
        env = otlp_env(rx)
        del env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        env["OTEL_TRACES_EXPORTER"] = "none"
        env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = rx.endpoint + "/v1/metrics"
        svc = start(binaries["inst"], env)
        services.append(svc)
        assert svc.get("/healthz")[0] == 200
        code, _, err = svc.stop()
        assert code == 0, err
    assert {e.path for e in rx.exports} == {"/v1/metrics"}
    assert counts(last_points(rx, "http.server.request.duration"), "http.route") == Counter(
        {("/healthz",): 1}
    )


def test_no_metrics_without_metrics_configuration(binaries, services):
    # Traces configured, metrics not: spans arrive, nothing goes to /v1/metrics.
    rx, _ = run_requests(binaries["inst"], services, {})
    assert rx.spans
    assert rx.metric_exports == []


def test_metrics_exporter_none_and_sdk_disabled_send_nothing(binaries, services):
    for extra in (
        {"OTEL_METRICS_EXPORTER": "none", "OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"},
    ):
        rx, _ = run_requests(binaries["inst"], services, extra)
        assert rx.requests == 0, (extra, rx.exports)
