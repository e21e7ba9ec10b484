package main

import (
	"io"
	"net/http/httptest"
	"testing"
)

// TestRouters: every router answers through the top-level ServeMux; the suite an instrumented
// go test must pass as the plain one does.
func TestRouters(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/gin/orders/1":     "gin order 1",
		"/echo/orders/2":    "echo order 2",
		"/chi/orders/3":     "chi order 3",
		"/gorilla/orders/4": "gorilla order 4",
		"/mux/orders/5":     "mux order 5",
	} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want || resp.StatusCode != 200 {
			t.Errorf("%s: %d %q, want %q", path, resp.StatusCode, body, want)
		}
	}
}
