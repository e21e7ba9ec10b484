package idle

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHTTPAllocations prints what a request through net/http's client and server allocates (the
// server's goroutine included): the same under plain `go test` and, with no OpenTelemetry
// configuration, under `otel-go-autoinst test`.
func TestHTTPAllocations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := srv.Client()
	get := testing.AllocsPerRun(200, func() {
		resp, err := client.Get(srv.URL + "/a")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	fmt.Printf("ALLOCS http.Get=%.0f\n", get)
}
