package nethttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

var recorderOnce sync.Once
var recorder = tracetest.NewSpanRecorder()

// setup makes the global provider record spans in memory (as a program's own provider would).
func setup(t *testing.T) {
	t.Helper()
	recorderOnce.Do(func() {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{}))
	})
	recorder.Reset()
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// serveWithHooks runs inner between the server hooks, as the instrumented serverHandler.ServeHTTP
// does, inside a real net/http server (so the ResponseWriter is net/http's own).
func serveWithHooks(inner http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sh any
		call := api.NewCallContext("net/http", "serverHandler.ServeHTTP", []any{&sh, &w, &r}, nil)
		serverOnEnter(call, sh, w, r)
		defer serverOnExit(call)
		mux := http.NewServeMux()
		mux.Handle("GET /items/{id}", inner)
		mux.Handle("/", inner)
		mux.ServeHTTP(w, r)
	})
}

func TestServerSpan(t *testing.T) {
	setup(t)
	var handlerCtx context.Context
	srv := httptest.NewServer(serveWithHooks(func(w http.ResponseWriter, r *http.Request) {
		handlerCtx = r.Context()
		if r.URL.Path == "/boom" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/silent" {
			return // net/http sends 200
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/items/42", nil)
	req.Header.Set("traceparent", traceparent)
	req.Header.Set("baggage", "tenant=acme")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	spans := recorder.Ended()
	if len(spans) != 1 {
		t.Fatalf("got %d spans", len(spans))
	}
	s := spans[0]
	if s.Name() != "GET /items/{id}" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	if got := s.Parent().SpanID().String(); got != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
		t.Errorf("parent %s", got)
	}
	a := attrs(s)
	for k, want := range map[attribute.Key]any{
		"http.request.method":       "GET",
		"url.path":                  "/items/42",
		"url.scheme":                "http",
		"http.route":                "/items/{id}",
		"http.response.status_code": int64(201),
		"server.address":            "127.0.0.1",
		"network.protocol.version":  "1.1",
	} {
		if got := a[k].AsInterface(); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if got := trace.SpanContextFromContext(handlerCtx).SpanID(); got != s.SpanContext().SpanID() {
		t.Errorf("the handler's context holds span %s, want %s", got, s.SpanContext().SpanID())
	}
	if v := baggage.FromContext(handlerCtx).Member("tenant").Value(); v != "acme" {
		t.Errorf("baggage tenant = %q", v)
	}

	for path, want := range map[string]int64{"/boom": 503, "/silent": 200} {
		recorder.Reset()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		s := recorder.Ended()[0]
		if got := attrs(s)["http.response.status_code"].AsInt64(); got != want {
			t.Errorf("%s: status %d, want %d", path, got, want)
		}
		if (want >= 500) != (s.Status().Code == codes.Error) {
			t.Errorf("%s: span status %v", path, s.Status())
		}
		if s.Name() != "GET /" { // the route ServeMux matched
			t.Errorf("%s: name %q", path, s.Name())
		}
	}
}

func TestServerStatusOverHTTP2(t *testing.T) {
	setup(t)
	srv := httptest.NewUnstartedServer(serveWithHooks(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("not HTTP/2: %s", resp.Proto)
	}
	a := attrs(recorder.Ended()[0])
	if a["http.response.status_code"].AsInt64() != 202 || a["url.scheme"].AsString() != "https" ||
		a["network.protocol.version"].AsString() != "2" {
		t.Errorf("attributes %v", a)
	}
}

func TestResponseStatusOfOtherWriters(t *testing.T) {
	if _, ok := responseStatus(httptest.NewRecorder()); ok {
		t.Error("a recorder is not net/http's writer: its status must not be guessed")
	}
	if _, ok := responseStatus(nil); ok {
		t.Error("nil writer")
	}
}

func TestRouteOf(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                        "",
		"/":                       "/",
		"GET /items/{id}":         "/items/{id}",
		"example.com/static/":     "/static/",
		"POST example.com/a/{b}/": "/a/{b}/",
		"example.com":             "",
	} {
		if got := routeOf(pattern); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// roundTrip runs the client hooks around fn, as the instrumented Transport.RoundTrip does.
func roundTrip(tr *http.Transport, req *http.Request, fn func(*http.Request) (*http.Response, error)) (*http.Request, *http.Response, error) {
	var resp *http.Response
	var err error
	call := api.NewCallContext("net/http", "Transport.RoundTrip", []any{&tr, &req}, []any{&resp, &err})
	clientOnEnter(call, tr, req)
	resp, err = fn(req)
	clientOnExit(call, resp, err)
	return req, resp, err
}

func TestClientSpanAndPropagation(t *testing.T) {
	setup(t)
	var gotHeader http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader = r.Header.Clone()
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()

	parentCtx, parent := otel.Tracer("test").Start(context.Background(), "parent")
	m, _ := baggage.NewMember("tenant", "acme")
	b, _ := baggage.New(m)
	parentCtx = baggage.ContextWithBaggage(parentCtx, b)
	orig, _ := http.NewRequestWithContext(parentCtx, "GET", srv.URL+"/p?q=1", nil)
	orig.Header.Set("X-Mine", "1")

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	sent, resp, err := roundTrip(tr, orig, tr.RoundTrip)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()

	if sent == orig {
		t.Fatal("the request sent must be a copy")
	}
	if orig.Header.Get("traceparent") != "" || len(orig.Header) != 1 {
		t.Errorf("the caller's request was modified: %v", orig.Header)
	}
	if resp.Request != orig {
		t.Error("resp.Request must be the caller's request")
	}
	var client sdktrace.ReadOnlySpan
	for _, s := range recorder.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client = s
		}
	}
	if client == nil {
		t.Fatal("no client span")
	}
	if client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("the client span is not the child of the request's context")
	}
	if tp := gotHeader.Get("traceparent"); !strings.Contains(tp, client.SpanContext().SpanID().String()) {
		t.Errorf("traceparent sent %q, want the client span %s", tp, client.SpanContext().SpanID())
	}
	if gotHeader.Get("baggage") != "tenant=acme" || gotHeader.Get("X-Mine") != "1" {
		t.Errorf("headers sent %v", gotHeader)
	}
	a := attrs(client)
	u, _ := url.Parse(srv.URL)
	if client.Name() != "GET" || a["url.full"].AsString() != srv.URL+"/p?q=1" ||
		a["server.address"].AsString() != u.Hostname() || a["http.response.status_code"].AsInt64() != 404 ||
		a["error.type"].AsString() != "404" || client.Status().Code != codes.Error {
		t.Errorf("client span %q %v %v", client.Name(), a, client.Status())
	}
}

func TestClientError(t *testing.T) {
	setup(t)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
	_, _, err := roundTrip(nil, req, func(*http.Request) (*http.Response, error) {
		return nil, errors.New("refused")
	})
	if err == nil {
		t.Fatal("want the error")
	}
	s := recorder.Ended()[0]
	if s.Status().Code != codes.Error || attrs(s)["error.type"].AsString() != "*errors.errorString" {
		t.Errorf("status %v attrs %v", s.Status(), attrs(s))
	}
}

func TestClientSkipsExporterRequests(t *testing.T) {
	setup(t)
	ctx := otelsetup.MarkExporterContext(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://127.0.0.1:4318/v1/traces", nil)
	sent, _, _ := roundTrip(nil, req, func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})
	if sent != req || len(recorder.Ended()) != 0 || req.Header.Get("traceparent") != "" {
		t.Errorf("an exporter request was traced: %d spans", len(recorder.Ended()))
	}
}

func TestClientNilHeaderLeftAlone(t *testing.T) {
	setup(t)
	req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "x"}}
	sent, _, _ := roundTrip(nil, req, func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("http: nil Request.Header")
	})
	if sent != req || req.Header != nil {
		t.Error("a request with a nil Header must reach RoundTrip unchanged")
	}
}

func TestRedactedURL(t *testing.T) {
	u, _ := url.Parse("https://user:pw@h/p?sig=abc&x=1")
	got := redactedURL(u)
	if strings.Contains(got, "pw") || strings.Contains(got, "abc") || !strings.Contains(got, "x=1") {
		t.Errorf("redactedURL = %q", got)
	}
}
