package mongo

import (
	"context"

	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
)

// Without OpenTelemetry configuration the monitor newClientOnEnter gives a Client allocates
// nothing per command (the program's monitor still runs); with a TracerProvider it makes the
// commands' spans.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
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
	failed := &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 2}, Failure: "(CommandNotFound) no such command"}
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

	exp := hooktest.Traced(t)
	commands()
	spans := hooktest.SpanNames(t, exp, "find items", "find items")
	if spans[0].Status.Code != 0 || spans[1].Status.Description == "" {
		t.Errorf("traced: statuses %v and %v, want the second failed", spans[0].Status, spans[1].Status)
	}
}
