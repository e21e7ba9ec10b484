// Package httpcase measures the built-in net/http hooks (rules/nethttp) with the OpenTelemetry
// SDK sampling every span off: one http.Client.Do against an httptest server per op, which goes
// through both instrumented functions (Transport.RoundTrip and serverHandler.ServeHTTP).
// call_bench.py runs it twice: plain `go test` (raw) and `otel-go-autoinst test` with
// OTEL_TRACES_SAMPLER=always_off (instrumented).
package httpcase

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

var sink int

func BenchmarkHTTPClientDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := srv.Client()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sink += int(n)
	}
}
