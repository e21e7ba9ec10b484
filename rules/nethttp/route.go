package nethttp

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
)

// Route templates. The SERVER span of a request is named by its route template ("GET /orders/:id")
// once a router has matched it: the hooks of the router rule sets (gin, echo, chi, gorilla/mux, in
// their own modules) call SetRoute with the request's context, and the ServeMux rule below does the
// same for Go 1.22+ patterns. The route is kept on the request's server state and applied by
// serverOnExit, so the one net/http SERVER span is renamed (no second span), whatever middleware
// copied the request on the way, and a router's template wins over the pattern of a ServeMux that
// only mounted it.

// routeKey is the context key of the *serverState of the request being served.
type routeKey struct{}

// serverStateOf returns the server state of the request whose context is ctx, or nil when the
// request is not traced (tracing off, or no instrumented server).
func serverStateOf(ctx context.Context) *serverState {
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(routeKey{}).(*serverState)
	return st
}

// SetRoute names the SERVER span of the request whose context is ctx by its route template (the
// http.route attribute, and the span name "METHOD route"). A router's hooks call it once the
// request is matched; the last call wins. It reports whether ctx belongs to a traced request.
func SetRoute(ctx context.Context, route string) bool {
	st := serverStateOf(ctx)
	if st == nil || route == "" {
		return false
	}
	st.route = route
	return true
}

// RecordError records err (a framework error: gin's c.Error, echo's returned error) as an
// exception event on the SERVER span of the request whose context is ctx. The span's status still
// follows the response status (5xx is an error for a server), as the semantic conventions say.
func RecordError(ctx context.Context, err error) bool {
	st := serverStateOf(ctx)
	if st == nil || err == nil {
		return false
	}
	st.span.RecordError(err)
	return true
}

// ServerSpan returns the SERVER span of the request whose context is ctx (a non-recording span
// when the request is not traced).
func ServerSpan(ctx context.Context) trace.Span {
	if st := serverStateOf(ctx); st != nil {
		return st.span
	}
	return trace.SpanFromContext(context.Background()) // the no-op span
}

// muxOnExit runs when (*http.ServeMux).ServeHTTP returns: the ServeMux has set the pattern it
// matched on the request it was handed (Go 1.22+), which may be a copy a middleware made, so the
// route is read here rather than from the request the server started with.
//
// Parameters: 0 the ServeMux, 1 the ResponseWriter, 2 the request.
func muxOnExit(call *api.CallContext) {
	r, _ := callctx.Hidden(call).GetParam(2).(*http.Request)
	if r == nil || r.Pattern == "" {
		return
	}
	if st := serverStateOf(r.Context()); st != nil {
		if route := routeOf(r.Pattern); route != "" {
			st.mux = route
		}
	}
}
