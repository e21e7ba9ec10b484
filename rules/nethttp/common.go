// Package nethttp holds the hooks that trace net/http: one SERVER span per request served by any
// http.Server (serverHandler.ServeHTTP, whatever the Handler), one CLIENT span per request sent
// through an http.Transport (Transport.RoundTrip, which every http.Client with the default or an
// http.Transport reaches), with W3C trace context and baggage propagated both ways.
package nethttp

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/nethttp"

// disabled: OTEL_GO_DISABLED_INSTRUMENTATIONS names nethttp (or OTEL_GO_ENABLED_INSTRUMENTATIONS
// does not, or OTEL_SDK_DISABLED=true): the hooks return at once.
var disabled = !switches.On("nethttp")

// methodAttrs returns the http.request.method attributes (and the span name's method): the known
// methods as they are, any other as _OTHER with the original kept (semantic conventions).
func methodAttrs(method string, attrs []attribute.KeyValue) []attribute.KeyValue {
	if verb := methodName(method); verb != "HTTP" {
		return append(attrs, semconv.HTTPRequestMethodKey.String(verb))
	}
	return append(attrs,
		semconv.HTTPRequestMethodKey.String("_OTHER"),
		semconv.HTTPRequestMethodOriginal(method))
}

// methodName is the method as span names show it: a known method, or "HTTP".
func methodName(method string) string {
	switch method {
	case "":
		return http.MethodGet // net/http: "" means GET
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "QUERY":
		return method
	}
	return "HTTP"
}

func protocolVersion(major, minor int) string {
	switch {
	case major == 1 && minor == 1:
		return "1.1"
	case major == 1 && minor == 0:
		return "1.0"
	case major == 2 && minor == 0:
		return "2"
	case major == 3 && minor == 0:
		return "3"
	}
	return strconv.Itoa(major) + "." + strconv.Itoa(minor)
}
