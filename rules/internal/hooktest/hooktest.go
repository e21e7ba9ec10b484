// Package hooktest is what the hooks' tests share: the idle default of a test binary checked, a
// TracerProvider that records in memory for the rest of one test, the names of what it recorded.
// Only tests import it.
package hooktest

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// RequireIdle stops the test unless no TracerProvider and no propagator is set: the default of a
// test binary without OpenTelemetry configuration, which the idle paths of the hooks need.
func RequireIdle(t testing.TB) {
	t.Helper()
	if !otelsetup.Idle() {
		t.Fatal("a TracerProvider or propagator is set already: this test needs the idle default")
	}
}

// Traced sets a TracerProvider that records every span synchronously in memory, and puts the
// previous one back when the test ends.
func Traced(t testing.TB) *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return exp
}

// SpanNames checks that exp recorded spans with these names, in this order, and returns them.
func SpanNames(t testing.TB, exp *tracetest.InMemoryExporter, want ...string) tracetest.SpanStubs {
	t.Helper()
	spans := exp.GetSpans()
	if len(spans) != len(want) {
		t.Fatalf("spans %v, want %q", spans.Snapshots(), want)
	}
	for i, s := range spans {
		if s.Name != want[i] {
			t.Errorf("span %d: %q, want %q", i, s.Name, want[i])
		}
	}
	return spans
}
