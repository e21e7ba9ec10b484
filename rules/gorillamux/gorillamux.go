// Package gorillamux holds the hooks that give the net/http SERVER span of a request a gorilla/mux
// Router serves its route template.
package gorillamux

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/nethttp"
)

// matchOnExit runs when a Router has matched a request: the matched route's path template (which
// includes the prefixes of the sub-routers it hangs from) names the span.
//
// Parameters: 0 the Router, 1 the request, 2 the RouteMatch. Result: 0 whether it matched.
func matchOnExit(call *api.CallContext, matched bool) {
	if switchedOff {
		return
	}
	if !matched {
		return
	}
	r, _ := call.GetParam(1).(*http.Request)
	m, _ := call.GetParam(2).(*mux.RouteMatch)
	if r == nil || m == nil || m.Route == nil || m.MatchErr != nil {
		return
	}
	if tpl, err := m.Route.GetPathTemplate(); err == nil && tpl != "" {
		nethttp.SetRoute(r.Context(), tpl)
	}
}
