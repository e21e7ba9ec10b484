package otelsetup

import (
	"strings"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/propagation"
)

// propagatorsFrom is the propagator OTEL_PROPAGATORS asks for: a comma-separated list of
// tracecontext, baggage, b3 (the single b3 header), b3multi (the X-B3-* headers) and none (no
// propagation at all: the spans are still made, no header goes out or is read). Unset or empty, it
// is tracecontext,baggage. A name not supported here is reported on stderr and left out.
func propagatorsFrom(getenv func(string) string) propagation.TextMapPropagator {
	value := strings.TrimSpace(getenv("OTEL_PROPAGATORS"))
	if value == "" {
		value = "tracecontext,baggage"
	}
	var list []propagation.TextMapPropagator
	seen := map[string]bool{}
	for _, name := range strings.Split(value, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "tracecontext":
			list = append(list, propagation.TraceContext{})
		case "baggage":
			list = append(list, propagation.Baggage{})
		case "b3":
			list = append(list, b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)))
		case "b3multi":
			list = append(list, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)))
		case "none":
		default:
			logf("OTEL_PROPAGATORS: %q is not supported (tracecontext, baggage, b3, b3multi, none); left out", name)
		}
	}
	if seen["none"] {
		list = nil // "none" with others: the specification's "no automatically configured propagator"
	}
	return propagation.NewCompositeTextMapPropagator(list...)
}
