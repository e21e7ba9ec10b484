package otelsetup

import (
	"context"
	"fmt"
	"os"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

type ctxExporter struct{ got []context.Context }

func (e *ctxExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	e.got = append(e.got, ctx)
	return nil
}
func (e *ctxExporter) Shutdown(ctx context.Context) error { e.got = append(e.got, ctx); return nil }

func TestExportsAreMarked(t *testing.T) {
	inner := &ctxExporter{}
	m := markingExporter{inner}
	_ = m.ExportSpans(context.Background(), nil)
	_ = m.Shutdown(context.Background())
	for _, ctx := range inner.got {
		if !IsExporterContext(ctx) {
			t.Error("an exporter's context is not marked")
		}
	}
	if IsExporterContext(context.Background()) || IsExporterContext(nil) { //nolint:staticcheck
		t.Error("an ordinary context is marked")
	}
}

func TestExportersFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		traces, protocol string
		want             []string
	}{
		{"", "", []string{"*otlptrace.Exporter"}},
		{"otlp", "grpc", []string{"*otlptrace.Exporter"}},
		{"console", "", []string{"*stdouttrace.Exporter"}},
		{"otlp,console", "http/protobuf", []string{"*otlptrace.Exporter", "*stdouttrace.Exporter"}},
		{"none", "", nil},
		{"zipkin", "", nil},
	} {
		t.Setenv("OTEL_TRACES_EXPORTER", tc.traces)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
		var got []string
		for _, e := range exporters() {
			got = append(got, fmt.Sprintf("%T", e))
			_ = e.Shutdown(context.Background())
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q/%q: exporters %v, want %v", tc.traces, tc.protocol, got, tc.want)
		}
	}
}

func TestDefaultGlobalDetection(t *testing.T) {
	if isDefaultGlobal(noop.NewTracerProvider()) {
		t.Error("a program's own provider taken for the default")
	}
	if isDefaultGlobal(sdktrace.NewTracerProvider()) {
		t.Error("an SDK provider taken for the default")
	}
	if isDefaultGlobal(nil) {
		t.Error("nil")
	}
}

func TestUserSignalHandlersAreRecorded(t *testing.T) {
	userHandlesInterrupt.Store(false)
	userHandlesTerminate.Store(false)
	call := api.NewCallContext("os/signal", "Notify", nil, nil)
	if ours := ourSignalChan.Load(); ours != nil {
		signalNotifyOnEnter(call, *ours, []os.Signal{os.Interrupt})
		if userHandlesInterrupt.Load() {
			t.Error("this package's own Notify counted as the program's")
		}
	}
	ch := make(chan os.Signal, 1)
	signalNotifyOnEnter(call, ch, []os.Signal{os.Interrupt})
	if !userHandlesInterrupt.Load() || userHandlesTerminate.Load() {
		t.Error("Notify(ch, Interrupt) not recorded as such")
	}
	signalNotifyOnEnter(call, ch, nil)
	if !userHandlesTerminate.Load() {
		t.Error("Notify(ch) relays every signal")
	}
}

func TestTracerFollowsTheGlobalProvider(t *testing.T) {
	a := Tracer("x")
	if b := Tracer("x"); a != b {
		t.Error("the tracer is not cached")
	}
	if !sameProvider(noop.NewTracerProvider(), noop.NewTracerProvider()) {
		t.Error("equal comparable providers")
	}
}
