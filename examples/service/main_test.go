package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	db, err := openDB("file:" + strings.ReplaceAll(t.Name(), "/", "_") + "?mode=memory&cache=shared")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var backend string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		NewHandler(db, backend).ServeHTTP(w, r)
	}))
	backend = srv.URL
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHello(t *testing.T) {
	srv := newTestServer(t)
	for _, tc := range []struct{ path, want string }{
		{"/hello/ada", "Hello, ada!\n"},
		{"/hello/ada?lang=fr", "Bonjour, ada!\n"},
	} {
		code, body := get(t, srv.URL+tc.path)
		if code != http.StatusOK || body != tc.want {
			t.Errorf("GET %s = %d %q, want 200 %q", tc.path, code, body, tc.want)
		}
	}
}

func TestUnknownLanguage(t *testing.T) {
	srv := newTestServer(t)
	if code, _ := get(t, srv.URL+"/hello/ada?lang=xx"); code != http.StatusNotFound {
		t.Errorf("status %d, want 404", code)
	}
}

func TestFailAndHealth(t *testing.T) {
	srv := newTestServer(t)
	if code, _ := get(t, srv.URL+"/fail"); code != http.StatusInternalServerError {
		t.Errorf("/fail: status %d, want 500", code)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
}

func TestStats(t *testing.T) {
	srv := newTestServer(t)
	get(t, srv.URL+"/hello/ada")
	if code, body := get(t, srv.URL+"/stats"); code != http.StatusOK || body != "visits 1, backend healthy true\n" {
		t.Errorf("/stats = %d %q", code, body)
	}
}
