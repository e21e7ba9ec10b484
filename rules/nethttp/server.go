package nethttp

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// serverState goes from serverOnEnter to serverOnExit.
//
// It is also the context of the request the handler receives: the span's context, plus the state
// under routeKey (route.go) for the router hooks, in one object instead of a context.WithValue.
type serverState struct {
	context.Context
	span trace.Span
	rw   http.ResponseWriter
	req  *http.Request // the request handed to the handler (ServeMux sets its Pattern)
	verb string        // the span name's method
	// route is the template a router's hooks set (SetRoute), mux the pattern a ServeMux matched
	// (muxOnExit); the first non-empty of route, mux and req.Pattern names the span.
	route, mux string
	start      time.Time // for http.server.request.duration (metrics.go)
	gls        gls.Token // the span is current in the handler's goroutine (and those it starts)
}

// serverOnEnter runs at the top of net/http's serverHandler.ServeHTTP, which every http.Server
// (ListenAndServe, Serve, TLS, HTTP/2, httptest) calls once per request before its Handler, so any
// Handler, ServeMux or not, gets one SERVER span. The incoming trace context and baggage are
// extracted from the headers, and the handler receives the span's context in r.Context().
//
// When the server's Handler makes the SERVER span itself (otelhttp, or a router with otelgin,
// otelecho or otelmux middleware: owninst.go), the request is left to it.
//
// Parameters: 0 the serverHandler (unexported, hence any), 1 the ResponseWriter, 2 the request.
func serverOnEnter(call *api.CallContext, sh any, rw http.ResponseWriter, req *http.Request) {
	if disabled || req == nil || req.URL == nil || idle() {
		return
	}
	if srv := serverOf(sh); srv != nil && userInstrumented(srv.Handler) {
		return
	}
	ctx := otel.GetTextMapPropagator().Extract(req.Context(), headerCarrier(req.Header))

	// Named "{method}" until a route is known (serverOnExit): semantic conventions forbid the URI
	// path as a default target (unbounded span names), and the name then costs nothing.
	verb := methodName(req.Method)
	ctx, span := otelsetup.Tracer(scope).Start(ctx, verb, serverStart...)
	if span.IsRecording() { // sampled out: no attribute is worth building
		span.SetAttributes(serverAttrs(req)...)
	}
	metrics := metricsOn()
	if !span.SpanContext().IsValid() && baggage.FromContext(ctx).Len() == 0 && !metrics {
		// Tracing is off (OTEL_SDK_DISABLED, or a no-op provider): leave the request as it is.
		return
	}
	st := &serverState{Context: ctx, span: span, rw: rw, verb: verb}
	if metrics {
		st.start = time.Now()
	}
	next := req.WithContext(st)
	st.req = next
	callctx.Hidden(call).SetParam(2, next)
	callctx.Hidden(call).SetData(st)
	// Calls the handler makes without its request's context (http.Get, db.Query, in goroutines it
	// starts too) find the span goroutine-local. Not the other way round: a server span's parent is
	// only ever the one in the request's headers.
	st.gls = gls.Enter(ctx)
	if panicTest {
		panic("otel-go-autoinst test build: serverOnEnter panics on purpose")
	}
}

// serverOnExit runs when the handler has returned: it records the route ServeMux matched, the
// status the handler wrote (200 when it wrote none, as net/http then sends), and ends the span.
func serverAttrs(req *http.Request) []attribute.KeyValue {
	attrs := methodAttrs(req.Method, make([]attribute.KeyValue, 0, 14))
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	attrs = append(attrs, semconv.URLPath(req.URL.Path), semconv.URLScheme(scheme))
	if host, port := netaddr.SplitHostPort(req.Host); host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	if peer, port := netaddr.SplitHostPort(req.RemoteAddr); peer != "" {
		attrs = append(attrs, semconv.ClientAddress(peer), semconv.NetworkPeerAddress(peer))
		if port > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(port))
		}
	}
	attrs = append(attrs, semconv.NetworkProtocolVersion(protocolVersion(req.ProtoMajor, req.ProtoMinor)))
	if ua := req.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	return attrs
}

func serverOnExit(call *api.CallContext) {
	if panicTest {
		panic("otel-go-autoinst test build: serverOnExit panics on purpose")
	}
	st, _ := callctx.Hidden(call).GetData().(*serverState)
	if st == nil {
		return
	}
	gls.Exit(st.gls) // before the span ends: from now on nothing takes it as a parent
	span := st.span
	defer span.End()
	route := st.route
	if route == "" {
		route = st.mux
	}
	if route == "" {
		route = routeOf(st.req.Pattern)
	}
	recording := span.IsRecording()
	if !recording && st.start.IsZero() {
		return // sampled out, no metrics: the name, attributes and status would be dropped
	}
	status, known := responseStatus(st.rw)
	if !st.start.IsZero() {
		defer recordServer(st.start, st.req, route, status, known) // metrics.go
	}
	if !recording {
		return
	}
	if route != "" {
		span.SetName(st.verb + " " + route)
	}
	if known && status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	// One SetAttributes call (one slice, one growth of the span's), built in the branch that
	// needs it: a slice declared before the branches would be allocated whatever they do.
	switch {
	case route != "" && known && status >= 500:
		span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status),
			semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	case route != "" && known:
		span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
	case route != "":
		span.SetAttributes(semconv.HTTPRoute(route))
	case known && status >= 500:
		span.SetAttributes(semconv.HTTPResponseStatusCode(status), semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	case known:
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
}

// Value makes the state the request's context: it answers routeKey itself.
func (st *serverState) Value(key any) any {
	if key == (routeKey{}) {
		return st
	}
	return st.Context.Value(key)
}

// routeOf turns a ServeMux pattern ("[METHOD ][HOST]/PATH") into the http.route ("/PATH").
func routeOf(pattern string) string {
	if pattern == "" {
		return ""
	}
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	} else if i < 0 {
		return ""
	}
	return pattern
}

// The status a handler wrote is kept in unexported fields of net/http's ResponseWriters (response
// for HTTP/1, http2responseWriter for HTTP/2). They are read, never written, by reflection; when a
// Go version lays them out differently the status is simply not recorded.

type statusFields struct {
	status, wrote, hijacked []int // index paths; hijacked may be nil
}

var statusFieldsByType sync.Map // reflect.Type -> *statusFields (nil when unknown)

func fieldsOf(t reflect.Type) *statusFields {
	if v, ok := statusFieldsByType.Load(t); ok {
		return v.(*statusFields)
	}
	var sf *statusFields
	if t.PkgPath() == "net/http" && t.Kind() == reflect.Struct {
		base := reflect.Type(t)
		var prefix []int
		if rws, ok := t.FieldByName("rws"); ok && rws.Type.Kind() == reflect.Pointer &&
			rws.Type.Elem().Kind() == reflect.Struct {
			base, prefix = rws.Type.Elem(), rws.Index
		}
		status, ok1 := base.FieldByName("status")
		wrote, ok2 := base.FieldByName("wroteHeader")
		if ok1 && ok2 && status.Type.Kind() == reflect.Int && wrote.Type.Kind() == reflect.Bool {
			sf = &statusFields{
				status: append(append([]int{}, prefix...), status.Index...),
				wrote:  append(append([]int{}, prefix...), wrote.Index...),
			}
			if conn, ok := base.FieldByName("conn"); ok && prefix == nil &&
				conn.Type.Kind() == reflect.Pointer && conn.Type.Elem().Kind() == reflect.Struct {
				if h, ok := conn.Type.Elem().FieldByName("hijackedv"); ok && h.Type.Kind() == reflect.Bool {
					sf.hijacked = append(append([]int{}, conn.Index...), h.Index...)
				}
			}
		}
	}
	statusFieldsByType.Store(t, sf)
	return sf
}

// responseStatus returns the status code the server sends for rw once the handler has returned.
func responseStatus(rw http.ResponseWriter) (int, bool) {
	v := reflect.ValueOf(rw)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return 0, false
	}
	v = v.Elem()
	sf := fieldsOf(v.Type())
	if sf == nil {
		return 0, false
	}
	if sf.hijacked != nil {
		if h, err := v.FieldByIndexErr(sf.hijacked); err == nil && h.Bool() {
			return 0, false // the handler took the connection over: no HTTP response from net/http
		}
	}
	wrote, err := v.FieldByIndexErr(sf.wrote)
	if err != nil {
		return 0, false
	}
	if !wrote.Bool() {
		return http.StatusOK, true // net/http writes 200 for a handler that wrote nothing
	}
	status, err := v.FieldByIndexErr(sf.status)
	if err != nil {
		return 0, false
	}
	return int(status.Int()), true
}
