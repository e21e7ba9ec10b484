// Package echo holds the hooks that give the net/http SERVER span of a request echo v4 serves its
// route template and its handler's error.
package echo

import (
	echo "github.com/labstack/echo/v4"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/nethttp"
)

// findOnExit runs when the router has looked the request up: the Context holds the route's path
// template ("" when nothing matched).
//
// Parameters: 0 the Router, 1 the method, 2 the path, 3 the Context.
func findOnExit(call *api.CallContext) {
	if switchedOff {
		return
	}
	c, _ := call.GetParam(3).(echo.Context)
	if c == nil {
		return
	}
	if route := c.Path(); route != "" {
		if r := c.Request(); r != nil {
			nethttp.SetRoute(r.Context(), route)
		}
	}
}

// errorOnEnter records the error a handler returned on the request's SERVER span.
//
// Parameters: 0 the Echo, 1 the error, 2 the Context.
func errorOnEnter(call *api.CallContext, _ *echo.Echo, err error, c echo.Context) {
	if switchedOff {
		return
	}
	if err == nil || c == nil {
		return
	}
	if r := c.Request(); r != nil {
		nethttp.RecordError(r.Context(), err)
	}
}
