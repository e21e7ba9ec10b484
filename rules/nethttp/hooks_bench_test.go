package nethttp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

// benchHooks runs one traced request through the four hooks (server enter, client enter and exit,
// server exit) as bench/requestsvc's handler does, without the network: what the hooks cost on
// their own (the harness's own allocations, the call contexts and the client request, are the same
// in every run). go test -run '^$' -bench Hooks -benchmem ./nethttp
func benchHooks(b *testing.B, sampler sdktrace.Sampler) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler)))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	b.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	in := httptest.NewRequest(http.MethodGet, "/api/items/1", nil)
	in.Header.Set("User-Agent", "bench")
	in.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var sh any
		w, r := http.ResponseWriter(rec), in
		sc := api.NewCallContext("net/http", "serverHandler.ServeHTTP", []any{&sh, &w, &r}, nil)
		serverOnEnter(sc, sh, w, r)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://127.0.0.1:8081/items/1", nil)
		var tr *http.Transport
		var resp *http.Response
		var err error
		cc := api.NewCallContext("net/http", "Transport.RoundTrip", []any{&tr, &req}, []any{&resp, &err})
		clientOnEnter(cc, tr, req)
		resp = &http.Response{StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1, Request: req}
		clientOnExit(cc, resp, nil)
		r.Pattern = "GET /api/items/{id}" // as the ServeMux sets it on the request it was handed
		serverOnExit(sc)
	}
}

func BenchmarkHooksSampledOff(b *testing.B) { benchHooks(b, sdktrace.NeverSample()) }

func BenchmarkHooksSampledOn(b *testing.B) { benchHooks(b, sdktrace.AlwaysSample()) }

// BenchmarkHooksHarness is the harness alone (the hooks switched off): subtract it.
func BenchmarkHooksHarness(b *testing.B) {
	disabled = true
	b.Cleanup(func() { disabled = false })
	benchHooks(b, sdktrace.NeverSample())
}
