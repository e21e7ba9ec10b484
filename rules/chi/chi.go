// Package chi holds the hooks that give the net/http SERVER span of a request chi v5 serves its
// route pattern.
package chi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/nethttp"
)

// routeOnExit runs when a Mux has routed and handled the request: its routing context holds the
// patterns matched on the way (a mounted sub-router adds its own), joined by RoutePattern. The Mux
// returns the routing context to its pool only after routeHTTP returns.
//
// Parameters: 0 the Mux, 1 the ResponseWriter, 2 the request.
func routeOnExit(call *api.CallContext) {
	if switchedOff {
		return
	}
	r, _ := call.GetParam(2).(*http.Request)
	if r == nil {
		return
	}
	ctx := r.Context()
	if rctx := chi.RouteContext(ctx); rctx != nil {
		if route := rctx.RoutePattern(); route != "" {
			nethttp.SetRoute(ctx, route)
		}
	}
}
