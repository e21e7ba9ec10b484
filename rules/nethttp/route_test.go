package nethttp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

// serveRouted runs h between the server hooks, with the ServeMux hook around mux.ServeHTTP as the
// instrumented net/http has it, behind a middleware that hands the mux a copy of the request.
func serveRouted(mux *http.ServeMux) http.Handler {
	instrumentedMux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m any = mux
		call := api.NewCallContext("net/http", "ServeMux.ServeHTTP", []any{&m, &w, &r}, nil)
		defer muxOnExit(call)
		mux.ServeHTTP(w, r)
	})
	type k struct{}
	middleware := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		instrumentedMux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), k{}, 1)))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sh any
		call := api.NewCallContext("net/http", "serverHandler.ServeHTTP", []any{&sh, &w, &r}, nil)
		serverOnEnter(call, sh, w, r)
		defer serverOnExit(call)
		middleware.ServeHTTP(w, r)
	})
}

func TestRouteTemplates(t *testing.T) {
	setup(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/router/", func(w http.ResponseWriter, r *http.Request) {
		// A router mounted under the ServeMux names the route itself, and records its error.
		if !SetRoute(r.Context(), "/router/users/:id") {
			t.Error("SetRoute found no traced request")
		}
		RecordError(r.Context(), errors.New("bad user"))
		if !ServerSpan(r.Context()).IsRecording() {
			t.Error("ServerSpan is not the recording server span")
		}
	})
	srv := httptest.NewServer(serveRouted(mux))
	defer srv.Close()

	for path, want := range map[string]string{
		"/orders/7":       "GET /orders/{id}", // the pattern, through the middleware's copy
		"/router/users/3": "GET /router/users/:id",
		"/nowhere":        "GET", // no route: never the URI path (semantic conventions, HTTP span name)
	} {
		recorder.Reset()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		spans := recorder.Ended()
		if len(spans) != 1 {
			t.Fatalf("%s: %d spans", path, len(spans))
		}
		if spans[0].Name() != want {
			t.Errorf("%s: span name %q, want %q", path, spans[0].Name(), want)
		}
		route, _ := attrs(spans[0])["http.route"]
		if path != "/nowhere" && "GET "+route.AsString() != want {
			t.Errorf("%s: http.route %q", path, route.AsString())
		}
		if path == "/router/users/3" {
			ev := spans[0].Events()
			if len(ev) != 1 || ev[0].Name != "exception" {
				t.Errorf("events %v", ev)
			}
		}
	}
	// Outside a traced request the helpers do nothing.
	if SetRoute(context.Background(), "/x") || RecordError(context.Background(), errors.New("x")) {
		t.Error("helpers claimed an untraced context")
	}
}
