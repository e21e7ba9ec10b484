package nethttp

import (
	"net/http"
	"testing"
)

func TestIsOwnMatchesThePackagesOnly(t *testing.T) {
	const otelhttp = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	for name, want := range map[string]bool{
		otelhttp:                            true,
		otelhttp + ".NewMiddleware.func1.1": true,
		"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin.Middleware.func1": true,
		otelhttp + "/internal/request.X": false,
		"go.opentelemetry.io/contrib/instrumentation/net/http/httptrace/otelhttptrace.X": false,
		"github.com/gin-gonic/gin.LoggerWithConfig.func1":                                false,
	} {
		if isOwn(name) != want {
			t.Errorf("isOwn(%q) = %v", name, !want)
		}
	}
}

type valueHandler struct{ n int }

func (valueHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// TestPlainHandlersAreNotInstrumented: the handlers of a program without OpenTelemetry's own
// instrumentation, of every kind (pointer, func, value, none), keep our span, twice (cached).
func TestPlainHandlersAreNotInstrumented(t *testing.T) {
	for _, h := range []http.Handler{
		nil, http.NewServeMux(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		http.NotFoundHandler(), valueHandler{1}, &valueHandler{2},
	} {
		for range 2 {
			if userInstrumented(h) {
				t.Errorf("%T: instrumented", h)
			}
		}
	}
}

func TestServerOf(t *testing.T) {
	srv := &http.Server{}
	if got := serverOf(struct{ srv *http.Server }{srv}); got != srv {
		t.Errorf("serverOf = %p, want %p", got, srv)
	}
	for _, sh := range []any{nil, 1, struct{ a, b *http.Server }{}, struct{ s *int }{}} {
		if serverOf(sh) != nil {
			t.Errorf("serverOf(%T) != nil", sh)
		}
	}
}
