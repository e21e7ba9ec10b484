// Package gin holds the hooks that give the net/http SERVER span of a request gin serves its route
// template and its handlers' errors.
package gin

import (
	"github.com/gin-gonic/gin"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/nethttp"
)

// handleOnEnter keeps the gin Context for handleOnExit (the Engine puts it back in its pool only
// after handleHTTPRequest returns).
//
// Parameters: 0 the Engine, 1 the Context.
func handleOnEnter(call *api.CallContext, _ *gin.Engine, c *gin.Context) {
	if switchedOff {
		return
	}
	if c != nil && c.Request != nil {
		call.SetData(c)
	}
}

// handleOnExit runs when the request was routed and handled: the route gin matched (FullPath, ""
// when none did) names the span, and every error the handlers attached is recorded on it.
func handleOnExit(call *api.CallContext) {
	if switchedOff {
		return
	}
	c, _ := call.GetData().(*gin.Context)
	if c == nil || c.Request == nil {
		return
	}
	ctx := c.Request.Context()
	if route := c.FullPath(); route != "" {
		if !nethttp.SetRoute(ctx, route) {
			return // not a traced request
		}
	}
	for _, e := range c.Errors {
		if e != nil && e.Err != nil {
			nethttp.RecordError(ctx, e.Err)
		}
	}
}
