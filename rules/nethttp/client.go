package nethttp

import (
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// clientState goes from clientOnEnter to clientOnExit.
type clientState struct {
	span trace.Span
	gls  gls.Token     // the CLIENT span is current while RoundTrip runs
	orig *http.Request // the caller's request
	sent *http.Request // the copy carrying the trace headers, nil when none was made
	// start is when the request was sent, for http.client.request.duration (metrics.go); zero
	// when metrics go nowhere.
	start time.Time
	out   injected // the trace headers the propagators set (fast.go)
}

// clientOnEnter runs at the top of (*http.Transport).RoundTrip: every request an http.Client sends
// through the default or any http.Transport, each redirect hop included. The CLIENT span is a child
// of the request's context, or of the span current in the calling goroutine when that context has
// none (http.Get, a client without NewRequestWithContext); the trace context and baggage go out in the headers of a shallow copy
// of the request (a RoundTripper must not modify the caller's request).
//
// Requests of the SDK's own exporters are never traced.
func clientOnEnter(call *api.CallContext, _ *http.Transport, req *http.Request) {
	if disabled || req == nil || req.URL == nil || idle() {
		return
	}
	ctx := req.Context()
	if otelsetup.IsExporterContext(ctx) {
		return
	}
	ctx = gls.Parent(ctx)
	verb := methodName(req.Method)
	ctx, span := otelsetup.Tracer(scope).Start(ctx, verb, clientStart...)
	if span.IsRecording() { // sampled out: no attribute is worth building
		span.SetAttributes(clientAttrs(req)...)
	}

	st := &clientState{span: span, orig: req}
	if metricsOn() {
		st.start = time.Now()
	}
	if req.Header != nil { // a nil Header is an error RoundTrip reports: leave that request alone
		st.out.reset()
		otel.GetTextMapPropagator().Inject(ctx, &st.out)
		if len(st.out.fields) > 0 {
			sent := req.WithContext(ctx)
			sent.Header = withFields(req.Header, st.out.fields)
			st.sent = sent
			callctx.Hidden(call).SetParam(1, sent)
		}
	}
	if !span.IsRecording() && st.sent == nil && st.start.IsZero() {
		return
	}
	callctx.Hidden(call).SetData(st)
	st.gls = gls.Enter(ctx) // clientOnExit, which the data reaches, exits it
	if panicTest {
		panic("otel-go-autoinst test build: clientOnEnter panics on purpose")
	}
}

// clientOnExit records the response status (4xx and 5xx are errors for a client) or the error, and
// ends the span. The response keeps pointing at the caller's request, as without instrumentation.
func clientAttrs(req *http.Request) []attribute.KeyValue {
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
	return append(attrs, semconv.URLFull(redactedURL(req.URL)))
}

func clientOnExit(call *api.CallContext, resp *http.Response, err error) {
	if panicTest {
		panic("otel-go-autoinst test build: clientOnExit panics on purpose")
	}
	st, _ := callctx.Hidden(call).GetData().(*clientState)
	if st == nil {
		return
	}
	if resp != nil && st.sent != nil && resp.Request == st.sent {
		resp.Request = st.orig
	}
	if !st.start.IsZero() {
		defer recordClient(st.start, st.orig, resp, err) // metrics.go
	}
	gls.Exit(st.gls)
	span := st.span
	defer span.End()
	if !span.IsRecording() { // sampled out: its attributes and status would be dropped
		return
	}
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, err.Error())
		return
	}
	if resp == nil {
		return
	}
	status := semconv.HTTPResponseStatusCode(resp.StatusCode)
	version := semconv.NetworkProtocolVersion(protocolVersion(resp.ProtoMajor, resp.ProtoMinor))
	if resp.StatusCode >= 400 { // one SetAttributes call: one slice, one growth of the span's
		span.SetAttributes(status, version, semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
		return
	}
	span.SetAttributes(status, version)
}

func defaultPort(scheme string) int {
	switch strings.ToLower(scheme) {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	}
	return 0
}

// sensitiveQueryKeys are the query parameters whose values the semantic conventions ask to redact.
var sensitiveQueryKeys = []string{"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"}

// redactedURL is url.full: credentials and signature parameters replaced by REDACTED.
func redactedURL(u *url.URL) string {
	if u.User == nil && u.RawQuery == "" {
		return u.String()
	}
	c := *u
	if c.User != nil {
		c.User = url.UserPassword("REDACTED", "REDACTED")
	}
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err == nil {
			changed := false
			for _, k := range sensitiveQueryKeys {
				if _, ok := q[k]; ok {
					q.Set(k, "REDACTED")
					changed = true
				}
			}
			if changed {
				c.RawQuery = q.Encode()
			}
		}
	}
	return c.String()
}

// errorType is error.type for an error: its type's name, low in cardinality.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t == nil {
		return "_OTHER"
	}
	return t.String()
}
