// Package fiber holds the hooks that give the fasthttp SERVER span of a request a Fiber v2 app
// serves its route template and its handlers' error.
package fiber

import (
	"reflect"

	fiber "github.com/gofiber/fiber/v2"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/fasthttp"
)

// isUse reports whether r is a route app.Use registered (middleware, matched by prefix), which does
// not name a request. Fiber keeps that in an unexported field, read (never written) by reflection.
func isUse(r *fiber.Route) bool {
	f := reflect.ValueOf(r).Elem().FieldByName("use")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}

// nextOnExit runs when (*fiber.App).next returns: the Ctx's route is the last one matched (the
// App releases the Ctx only after its handler returns), and err what the handler chain returned.
//
// Parameters: 0 the App, 1 the Ctx. Results: 0 whether a route matched, 1 the error.
func nextOnExit(call *api.CallContext, matched bool, err error) {
	if switchedOff {
		return
	}
	c, _ := call.GetParam(1).(*fiber.Ctx)
	if c == nil {
		return
	}
	rctx := c.Context()
	// Without a match the Ctx has no route (Route() then makes one up from the raw path).
	if r := c.Route(); matched && r != nil && !isUse(r) && r.Path != "" {
		if !fasthttp.SetRoute(rctx, r.Path) {
			return // not a traced request
		}
	}
	if err != nil {
		fasthttp.RecordError(rctx, err)
	}
}
