"""An OTLP/HTTP trace (and metrics: /v1/metrics, see `metrics`) receiver for tests: listens on 127.0.0.1, decodes what it receives with the
official OTLP protobuf definitions (opentelemetry-proto) and keeps the spans.

    with OTLPReceiver() as rx:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rx.endpoint
        ...
        spans = rx.wait_for(lambda spans: len(spans) >= 3)
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus

KIND_NAMES = {
    PbSpan.SPAN_KIND_UNSPECIFIED: "UNSPECIFIED",
    PbSpan.SPAN_KIND_INTERNAL: "INTERNAL",
    PbSpan.SPAN_KIND_SERVER: "SERVER",
    PbSpan.SPAN_KIND_CLIENT: "CLIENT",
    PbSpan.SPAN_KIND_PRODUCER: "PRODUCER",
    PbSpan.SPAN_KIND_CONSUMER: "CONSUMER",
}
STATUS_NAMES = {
    PbStatus.STATUS_CODE_UNSET: "UNSET",
    PbStatus.STATUS_CODE_OK: "OK",
    PbStatus.STATUS_CODE_ERROR: "ERROR",
}


def any_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


@dataclass
class Span:
    """One received span, flattened for assertions."""

    name: str
    kind: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a root span
    attributes: dict[str, Any]
    status: str
    status_message: str
    scope: str
    resource: dict[str, Any] = field(default_factory=dict)
    # Each event as its attributes plus "name" (e.g. exception events: exception.message).
    events: list[dict[str, Any]] = field(default_factory=list)
    # Each link as (trace id, span id), 32 and 16 hex digits (e.g. a consumer span's producer).
    links: list[tuple[str, str]] = field(default_factory=list)

    def __repr__(self) -> str:  # short, for assertion messages
        return (
            f"Span({self.kind} {self.name!r} trace={self.trace_id[:8]} id={self.span_id} "
            f"parent={self.parent_span_id or '-'} status={self.status} {self.attributes})"
        )


@dataclass
class Export:
    """One HTTP request the receiver got."""

    path: str
    content_type: str
    spans: list[Span]
    metrics: list[MetricPoint] = field(default_factory=list)


class OTLPReceiver:
    """A threaded OTLP/HTTP (protobuf) server on 127.0.0.1, on a free port unless port is given
    (binding a given port that is busy raises OSError)."""

    def __init__(self, port: int = 0) -> None:
        self.exports: list[Export] = []
        self.requests = 0  # every request, decodable or not
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                ctype = self.headers.get("Content-Type", "")
                spans: list[Span] = []
                points: list[MetricPoint] = []
                proto = ctype.startswith("application/x-protobuf")
                ok = proto and self.path in ("/v1/traces", "/v1/metrics")
                if ok and self.path == "/v1/traces":
                    req = ExportTraceServiceRequest()
                    req.ParseFromString(body)
                    spans = decode(req)
                    out = ExportTraceServiceResponse().SerializeToString()
                elif ok:
                    mreq = ExportMetricsServiceRequest()
                    mreq.ParseFromString(body)
                    points = decode_metrics(mreq)
                    out = ExportMetricsServiceResponse().SerializeToString()
                with receiver._cond:
                    receiver.requests += 1
                    receiver.exports.append(Export(self.path, ctype, spans, points))
                    receiver._cond.notify_all()
                if not ok:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def spans(self) -> list[Span]:
        with self._cond:
            return [s for e in self.exports for s in e.spans]

    @property
    def metric_exports(self) -> list[list[MetricPoint]]:
        """The data points of each /v1/metrics request, in the order received."""
        with self._cond:
            return [e.metrics for e in self.exports if e.path == "/v1/metrics"]

    def wait_for(
        self, predicate: Callable[[list[Span]], bool], timeout: float = 20.0
    ) -> list[Span]:
        """Wait until predicate(spans) holds, and return the spans (all of them so far).

        Raises AssertionError with the spans received when it does not hold within timeout.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                spans = [s for e in self.exports for s in e.spans]
                if predicate(spans):
                    return spans
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"spans expected were not received; got {spans!r}")
                self._cond.wait(left)


def decode(req: ExportTraceServiceRequest) -> list[Span]:
    out: list[Span] = []
    for rs in req.resource_spans:
        resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    Span(
                        name=s.name,
                        kind=KIND_NAMES.get(s.kind, str(s.kind)),
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex(),
                        attributes={kv.key: any_value(kv.value) for kv in s.attributes},
                        status=STATUS_NAMES.get(s.status.code, str(s.status.code)),
                        status_message=s.status.message,
                        scope=ss.scope.name,
                        resource=resource,
                        events=[
                            {"name": e.name, **{kv.key: any_value(kv.value) for kv in e.attributes}}
                            for e in s.events
                        ],
                        links=[(ln.trace_id.hex(), ln.span_id.hex()) for ln in s.links],
                    )
                )
    return out


@dataclass
class MetricPoint:
    """One data point of a received metric, flattened for assertions. For histograms count, total
    (the sum) and bounds are set; for sums and gauges value."""

    name: str
    unit: str
    kind: str  # "histogram", "sum", "gauge", ...
    attributes: dict[str, Any]
    scope: str
    resource: dict[str, Any]
    count: int | None = None
    total: float | None = None
    bounds: list[float] = field(default_factory=list)
    value: float | int | None = None
    temporality: int = 0  # AGGREGATION_TEMPORALITY_*: 1 delta, 2 cumulative


def decode_metrics(req: ExportMetricsServiceRequest) -> list[MetricPoint]:
    out: list[MetricPoint] = []
    for rm in req.resource_metrics:
        resource = {kv.key: any_value(kv.value) for kv in rm.resource.attributes}
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data") or ""
                data = getattr(m, kind) if kind else None
                for p in getattr(data, "data_points", []):
                    point = MetricPoint(
                        name=m.name,
                        unit=m.unit,
                        kind=kind,
                        attributes={kv.key: any_value(kv.value) for kv in p.attributes},
                        scope=sm.scope.name,
                        resource=resource,
                        temporality=getattr(data, "aggregation_temporality", 0),
                    )
                    if kind in ("histogram", "exponential_histogram"):
                        point.count, point.total = p.count, p.sum
                        point.bounds = list(getattr(p, "explicit_bounds", []))
                    else:
                        which = p.WhichOneof("value")
                        point.value = getattr(p, which) if which else None
                    out.append(point)
    return out
