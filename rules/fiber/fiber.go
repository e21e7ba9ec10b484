// Package fiber holds the hooks that give the fasthttp SERVER span of a request a Fiber v2 app
// serves its route template and its handlers' error, and leave an App that has otelfiber's
// middleware to it (no SERVER span of ours: otelfiber's alone).
package fiber

import (
	"reflect"
	"runtime"
	"strings"

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

// ownPackages are the packages of Fiber's own OpenTelemetry middleware (gofiber/contrib).
var ownPackages = []string{
	"github.com/gofiber/contrib/otelfiber",
	"github.com/gofiber/contrib/otelfiber/v2",
}

// startupOnExit runs when (*fiber.App).startupProcess returns, which every way of serving an App
// (Listen*, Listener, prefork children, Test, Handler) calls before its fasthttp Server serves:
// the App's middleware is in place. An App with otelfiber's middleware for all its routes makes its
// own SERVER spans, so its Server is left to it (judged once per App's Server, not per request).
//
// Results: 0 the App.
func startupOnExit(call *api.CallContext, app *fiber.App) {
	if switchedOff || app == nil {
		return
	}
	fasthttp.JudgeOnce(app.Server(), func() bool { return userInstrumented(app) })
}

// userInstrumented reports whether one of app's global middleware (app.Use without a prefix, so
// every request runs it) is otelfiber's; any panic of reflection means "not instrumented".
func userInstrumented(app *fiber.App) (own bool) {
	defer func() {
		if recover() != nil {
			own = false
		}
	}()
	for _, routes := range app.Stack() { // app.Use adds its route to every method's stack
		for _, r := range routes {
			if r == nil || !isUse(r) || (r.Path != "/" && r.Path != "") {
				continue
			}
			for _, h := range r.Handlers {
				if ownFunc(h) {
					return true
				}
			}
		}
		if len(routes) > 0 {
			return false // the first method's stack holds every global middleware
		}
	}
	return false
}

// ownFunc reports whether h is code of ownPackages: otelfiber's middleware is the closure
// "github.com/gofiber/contrib/otelfiber/v2.Middleware.func1".
func ownFunc(h fiber.Handler) bool {
	if h == nil {
		return false
	}
	f := runtime.FuncForPC(reflect.ValueOf(h).Pointer())
	if f == nil {
		return false
	}
	name := f.Name()
	for _, p := range ownPackages {
		if strings.HasPrefix(name, p) && len(name) > len(p) && name[len(p)] == '.' {
			return true
		}
	}
	return false
}
