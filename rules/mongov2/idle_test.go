package mongov2

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// Without OpenTelemetry configuration the monitor newClientOnEnter gives a Client allocates
// nothing per command (the program's monitor still runs); with a TracerProvider it makes the
// commands' spans.
func TestIdleThenTraced(t *testing.T) {
	if !otelsetup.Idle() {
		t.Fatal("a TracerProvider or propagator is set already: this test needs the idle default")
	}
	seen := 0
	theirs := &event.CommandMonitor{Started: func(context.Context, *event.CommandStartedEvent) { seen++ }}
	got := enter([]*options.ClientOptions{options.Client().SetMonitor(theirs)})
	m := options.MergeClientOptions(got...).Monitor
	if m == nil || !isOurs(m) {
		t.Fatal("the options carry no monitor of this package")
	}
	ctx := context.Background()
	find := &event.CommandStartedEvent{Command: raw(t, bson.D{{Key: "find", Value: "items"}}), DatabaseName: "shop",
		CommandName: "find", RequestID: 1, ConnectionID: "127.0.0.1:27017[-1]"}
	ok := &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 1}, Reply: raw(t, bson.D{{Key: "ok", Value: 1.0}})}
	bad := *find
	bad.RequestID = 2
	failed := &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 2}, Failure: errors.New("no such command")}
	commands := func() {
		m.Started(ctx, find)
		m.Succeeded(ctx, ok)
		m.Started(ctx, &bad)
		m.Failed(ctx, failed)
	}
	if n := testing.AllocsPerRun(200, commands); n != 0 {
		t.Errorf("idle commands: %v allocations, want 0", n)
	}
	if seen == 0 {
		t.Error("the program's monitor did not run")
	}

	exp := tracetest.NewInMemoryExporter()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	commands()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "find items" || spans[1].Name != "find items" ||
		spans[0].Status.Code != 0 || spans[1].Status.Description == "" {
		t.Fatalf("traced: spans %v, want find items twice, the second failed", spans.Snapshots())
	}
}
