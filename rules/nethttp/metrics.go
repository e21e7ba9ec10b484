package nethttp

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// The semantic-convention HTTP metrics (semconv v1.37.0, the version of the spans): one duration
// histogram per request served and per request sent, in seconds, with the conventions' advisory
// bucket boundaries.

// durationBuckets are the explicit bucket boundaries the conventions advise for HTTP durations.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

type httpInstruments struct {
	meter  metric.Meter
	server metric.Float64Histogram
	client metric.Float64Histogram
}

var instruments atomic.Pointer[httpInstruments]

// histograms returns the instruments of the current global meter, or nil when metrics go nowhere.
func histograms() *httpInstruments {
	m := otelsetup.Meter(scope)
	if m == nil {
		return nil
	}
	if in := instruments.Load(); in != nil && otelsetup.SameMeter(in.meter, m) {
		return in
	}
	in := &httpInstruments{meter: m}
	in.server, _ = m.Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	in.client, _ = m.Float64Histogram("http.client.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of HTTP client requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	instruments.Store(in)
	return in
}

// metricsOn reports whether a duration measured now would go anywhere.
func metricsOn() bool { return otelsetup.Meter(scope) != nil }

// idle: nothing a hook could do would be seen (no TracerProvider, propagator or metrics: a test
// binary without OpenTelemetry configuration), so the request is left exactly as it is.
func idle() bool { return otelsetup.Idle() && !metricsOn() }

// recordServer records http.server.request.duration: http.request.method, url.scheme,
// http.response.status_code, http.route, error.type (5xx), network.protocol.version.
func recordServer(start time.Time, req *http.Request, route string, status int, known bool) {
	in := histograms()
	if in == nil || in.server == nil || req == nil {
		return
	}
	attrs := methodAttrs(req.Method, make([]attribute.KeyValue, 0, 8))
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	attrs = append(attrs, semconv.URLScheme(scheme),
		semconv.NetworkProtocolVersion(protocolVersion(req.ProtoMajor, req.ProtoMinor)))
	if route != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	if known {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		}
	}
	in.server.Record(context.Background(), time.Since(start).Seconds(), metric.WithAttributes(attrs...))
}

// recordClient records http.client.request.duration: http.request.method, server.address,
// server.port, http.response.status_code, error.type, network.protocol.version.
func recordClient(start time.Time, req *http.Request, resp *http.Response, err error) {
	in := histograms()
	if in == nil || in.client == nil || req == nil || req.URL == nil {
		return
	}
	attrs := methodAttrs(req.Method, make([]attribute.KeyValue, 0, 8))
	host, port := netaddr.SplitHostPort(req.URL.Host)
	if port == 0 {
		port = defaultPort(req.URL.Scheme)
	}
	if host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	switch {
	case err != nil:
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(err)))
	case resp != nil:
		attrs = append(attrs, semconv.HTTPResponseStatusCode(resp.StatusCode),
			semconv.NetworkProtocolVersion(protocolVersion(resp.ProtoMajor, resp.ProtoMinor)))
		if resp.StatusCode >= 400 {
			attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		}
	}
	in.client.Record(context.Background(), time.Since(start).Seconds(), metric.WithAttributes(attrs...))
}
