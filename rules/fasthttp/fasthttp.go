// Package fasthttp holds the hooks that trace github.com/valyala/fasthttp, which bypasses net/http:
// a SERVER span per request a fasthttp.Server serves and a CLIENT span per request a HostClient
// (and so a Client) sends, following the semantic conventions for HTTP, with W3C trace context and
// baggage in the headers.
//
// A Server is traced by wrapping its Handler when it starts serving (Serve, ServeConn), once: the
// wrapper starts the span from the request's headers, makes it the goroutine's current span (so
// calls made without a context inside the handler are its children) and ends it with the status
// the handler set. Other rule sets (Fiber) name the span by its route through SetRoute, and can
// have a Server left alone (JudgeOnce) when the program instruments it itself.
package fasthttp

import (
	"context"
	"net"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/fasthttp"

// serveOnEnter runs at the top of (*fasthttp.Server).Serve: the Handler is wrapped (once).
//
// Parameters: 0 the Server, 1 the listener.
func serveOnEnter(call *api.CallContext, s *fasthttp.Server, _ net.Listener) {
	if switchedOff {
		return
	}
	wrapServer(s)
}

// serveConnOnEnter runs at the top of (*fasthttp.Server).ServeConn, as serveOnEnter.
func serveConnOnEnter(call *api.CallContext, s *fasthttp.Server, _ net.Conn) {
	if switchedOff {
		return
	}
	wrapServer(s)
}

var wrapMu sync.Mutex

// wrapperName is the name of the function wrap returns (every closure of one function literal
// has the same code), which tells a wrapped Handler from the program's.
var wrapperName = funcName(wrap(nil))

func funcName(h fasthttp.RequestHandler) string {
	if h == nil {
		return ""
	}
	if f := runtime.FuncForPC(reflect.ValueOf(h).Pointer()); f != nil {
		return f.Name()
	}
	return ""
}

func wrapServer(s *fasthttp.Server) {
	if s == nil {
		return
	}
	wrapMu.Lock()
	defer wrapMu.Unlock()
	if s.Handler == nil || funcName(s.Handler) == wrapperName {
		return
	}
	if own, _ := ownVerdicts.Load(s); own == true {
		return // the program's own instrumentation makes the SERVER span (see JudgeOnce)
	}
	s.Handler = wrap(s.Handler)
}

// ownVerdicts holds, per Server a rule set built on fasthttp judged (a Fiber app's), whether the
// program's own OpenTelemetry instrumentation (otelfiber's middleware) makes its SERVER spans: one
// entry per such Server, for the program's life.
var ownVerdicts sync.Map // *fasthttp.Server -> bool

// JudgeOnce records, the first time it is called for s, the verdict of own: whether the program
// instruments the requests s serves itself. A Server judged so is then left unwrapped when it
// starts serving: no span of ours for its requests, theirs alone. Call it before s serves.
func JudgeOnce(s *fasthttp.Server, own func() bool) {
	if s == nil {
		return
	}
	if _, done := ownVerdicts.Load(s); done {
		return
	}
	ownVerdicts.LoadOrStore(s, own())
}

// serverState is the traced request; servers maps each *fasthttp.RequestCtx being served to it,
// for the rule sets built on fasthttp (Fiber). An entry lives while its request is served.
type serverState struct {
	span    trace.Span
	verb    string
	route   string
	lastErr error
}

var servers sync.Map // *fasthttp.RequestCtx -> *serverState

// wrap is never inlined: an inlined copy's closure has a name of its own ("…wrapServer.wrap.func1"
// against wrapperName's "…init.wrap.func1"), and a Server served again (Fiber's app.Test serves
// each request through ServeConn) would be wrapped again, a SERVER span more each time.
//
//go:noinline
func wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		st := startServer(ctx)
		if st == nil {
			next(ctx)
			return
		}
		servers.Store(ctx, st)
		token := gls.Enter(trace.ContextWithSpan(context.Background(), st.span))
		returned := false
		defer func() {
			gls.Exit(token)
			servers.Delete(ctx)
			endServer(ctx, st, returned)
		}()
		next(ctx)
		returned = true
	}
}

func startServer(ctx *fasthttp.RequestCtx) *serverState {
	if ctx == nil || otelsetup.Idle() {
		return nil // fasthttp serves a request without allocating: so does an idle hook
	}
	parent := otel.GetTextMapPropagator().Extract(context.Background(), requestHeaderCarrier{&ctx.Request.Header})
	method := string(ctx.Method())
	verb := methodName(method)
	// "{method}" until the route is known (endServer): never the URI path, as semantic conventions ask
	_, span := otelsetup.Tracer(scope).Start(parent, verb, trace.WithSpanKind(trace.SpanKindServer))
	if !span.SpanContext().IsValid() {
		return nil // tracing is off
	}
	if span.IsRecording() {
		attrs := methodAttrs(method, make([]attribute.KeyValue, 0, 12))
		scheme := "http"
		if ctx.IsTLS() {
			scheme = "https"
		}
		attrs = append(attrs, semconv.URLPath(string(ctx.Path())), semconv.URLScheme(scheme))
		if host, port := netaddr.SplitHostPort(string(ctx.Host())); host != "" {
			attrs = append(attrs, semconv.ServerAddress(host))
			if port > 0 {
				attrs = append(attrs, semconv.ServerPort(port))
			}
		}
		if addr := ctx.RemoteAddr(); addr != nil {
			if peer, port := netaddr.SplitHostPort(addr.String()); peer != "" {
				attrs = append(attrs, semconv.ClientAddress(peer), semconv.NetworkPeerAddress(peer))
				if port > 0 {
					attrs = append(attrs, semconv.NetworkPeerPort(port))
				}
			}
		}
		proto := "1.1"
		if !ctx.Request.Header.IsHTTP11() {
			proto = "1.0"
		}
		attrs = append(attrs, semconv.NetworkProtocolVersion(proto))
		if ua := ctx.UserAgent(); len(ua) > 0 {
			attrs = append(attrs, semconv.UserAgentOriginal(string(ua)))
		}
		span.SetAttributes(attrs...)
	}
	return &serverState{span: span, verb: verb}
}

// endServer ends the span with the status the handler set; a handler that did not return (it
// panicked, which fasthttp does not recover either) leaves an error span and its panic goes on.
func endServer(ctx *fasthttp.RequestCtx, st *serverState, returned bool) {
	span := st.span
	defer span.End()
	if st.route != "" {
		span.SetName(st.verb + " " + st.route)
		span.SetAttributes(semconv.HTTPRoute(st.route))
	}
	if !returned {
		span.SetStatus(codes.Error, "the handler panicked")
		return
	}
	status := ctx.Response.StatusCode()
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	if status >= 500 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, "")
	}
}

// SetRoute names the SERVER span of the request ctx is serving by its route template (span name
// "METHOD route", http.route). It reports whether the request is traced.
func SetRoute(ctx *fasthttp.RequestCtx, route string) bool {
	v, ok := servers.Load(ctx)
	if !ok || route == "" {
		return false
	}
	v.(*serverState).route = route
	return true
}

// RecordError records err on the SERVER span of the request ctx is serving, once however often it
// is reported for the same request.
func RecordError(ctx *fasthttp.RequestCtx, err error) bool {
	v, ok := servers.Load(ctx)
	if !ok || err == nil {
		return false
	}
	st := v.(*serverState)
	if st.lastErr == err {
		return true
	}
	st.lastErr = err
	st.span.RecordError(err)
	return true
}

// ServerSpan returns the SERVER span of the request ctx is serving (a non-recording span when it is
// not traced).
func ServerSpan(ctx *fasthttp.RequestCtx) trace.Span {
	if v, ok := servers.Load(ctx); ok {
		return v.(*serverState).span
	}
	return trace.SpanFromContext(context.Background())
}

// clientState goes from clientOnEnter to clientOnExit.
type clientState struct {
	span  trace.Span
	req   *fasthttp.Request
	added []string // headers the hook set on the caller's request, removed again on exit
}

// clientOnEnter runs at the top of (*fasthttp.HostClient).Do. fasthttp requests carry no context:
// the parent is the goroutine's current span (a fasthttp or net/http server's, for instance). The
// trace headers are set on the request for the call and taken off when it returns, so the caller's
// request is as it was.
//
// Parameters: 0 the HostClient, 1 the request, 2 the response.
func clientOnEnter(call *api.CallContext, _ *fasthttp.HostClient, req *fasthttp.Request, _ *fasthttp.Response) {
	if switchedOff {
		return
	}
	if req == nil || otelsetup.Idle() {
		return
	}
	method := string(req.Header.Method())
	verb := methodName(method)
	ctx, span := otelsetup.Tracer(scope).Start(gls.Parent(context.Background()), verb,
		trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		attrs := methodAttrs(method, make([]attribute.KeyValue, 0, 6))
		uri := req.URI()
		host, port := netaddr.SplitHostPort(string(uri.Host()))
		scheme := string(uri.Scheme())
		if port == 0 {
			port = map[string]int{"http": 80, "https": 443}[scheme]
		}
		if host != "" {
			attrs = append(attrs, semconv.ServerAddress(host))
		}
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
		attrs = append(attrs, semconv.URLFull(redacted(uri)))
		span.SetAttributes(attrs...)
	}
	st := &clientState{span: span, req: req}
	carrier := map[string]string{}
	otel.GetTextMapPropagator().Inject(ctx, mapCarrier(carrier))
	for k, v := range carrier {
		if len(req.Header.Peek(k)) == 0 {
			st.added = append(st.added, k)
			req.Header.Set(k, v)
		}
	}
	if !span.IsRecording() && len(st.added) == 0 {
		return
	}
	callctx.Hidden(call).SetData(st)
}

// clientOnExit records the response status (4xx and 5xx are errors for a client) or the error,
// ends the span and takes the trace headers off the caller's request.
//
// Results: 0 the error.
func clientOnExit(call *api.CallContext, err error) {
	if switchedOff {
		return
	}
	st, _ := callctx.Hidden(call).GetData().(*clientState)
	if st == nil {
		return
	}
	for _, k := range st.added {
		st.req.Header.Del(k)
	}
	span := st.span
	defer span.End()
	if err != nil {
		span.RecordError(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, err.Error())
		return
	}
	resp, _ := callctx.Hidden(call).GetParam(2).(*fasthttp.Response)
	if resp == nil {
		return
	}
	status := resp.StatusCode()
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	if status >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, "")
	}
}

func errorType(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return "_OTHER"
	}
	return t.PkgPath() + "." + t.Name()
}

// redacted is the request's URL without user info (semantic conventions: url.full must not carry
// credentials).
func redacted(u *fasthttp.URI) string {
	full := string(u.FullURI())
	if len(u.Username()) == 0 && len(u.Password()) == 0 {
		return full
	}
	if i := strings.Index(full, "://"); i >= 0 {
		if j := strings.IndexByte(full[i+3:], '@'); j >= 0 {
			return full[:i+3] + "REDACTED:REDACTED@" + full[i+3+j+1:]
		}
	}
	return full
}

// methodAttrs returns the http.request.method attributes: the known methods as they are, any other
// as _OTHER with the original kept.
func methodAttrs(method string, attrs []attribute.KeyValue) []attribute.KeyValue {
	if verb := methodName(method); verb != "HTTP" {
		return append(attrs, semconv.HTTPRequestMethodKey.String(verb))
	}
	return append(attrs, semconv.HTTPRequestMethodKey.String("_OTHER"), semconv.HTTPRequestMethodOriginal(method))
}

// methodName is the method as span names show it: a known method, or "HTTP".
func methodName(method string) string {
	switch method {
	case "":
		return "GET" // fasthttp: no method means GET
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "QUERY":
		return method
	}
	return "HTTP"
}

// requestHeaderCarrier reads the trace context from a fasthttp request's headers.
type requestHeaderCarrier struct{ h *fasthttp.RequestHeader }

func (c requestHeaderCarrier) Get(key string) string { return string(c.h.Peek(key)) }
func (c requestHeaderCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c requestHeaderCarrier) Keys() []string {
	var keys []string
	c.h.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}

type mapCarrier map[string]string

func (c mapCarrier) Get(key string) string { return c[key] }
func (c mapCarrier) Set(key, value string) { c[key] = value }
func (c mapCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
