package godebug

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Under go 1.21 semantics "GET /items/{id}" is a literal path: /items/7 is not found.
func TestMuxKeepsGo121Patterns(t *testing.T) {
	srv := httptest.NewServer(Mux())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/items/7")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /items/7: status %d, want 404 as under go 1.21 (httpmuxgo121=1)", resp.StatusCode)
	}
}

// godebug panicnil=1: recover() of panic(nil) returns nil rather than a *runtime.PanicNilError.
func TestPanicNilKept(t *testing.T) {
	recovered := func() (r any) {
		defer func() { r = recover() }()
		panic(nil)
	}()
	if recovered != nil {
		t.Fatalf("recover() = %v, want nil (godebug panicnil=1)", recovered)
	}
}
