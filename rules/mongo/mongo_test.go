package mongo

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

func raw(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCollection(t *testing.T) {
	for _, c := range []struct {
		name string
		cmd  bson.D
		want string
	}{
		{"find", bson.D{{Key: "find", Value: "items"}, {Key: "filter", Value: bson.D{}}}, "items"},
		{"getMore", bson.D{{Key: "getMore", Value: int64(7)}, {Key: "collection", Value: "items"}}, "items"},
		{"aggregate", bson.D{{Key: "aggregate", Value: 1}, {Key: "pipeline", Value: bson.A{}}}, ""},
		{"ping", bson.D{{Key: "ping", Value: 1}}, ""},
	} {
		if got := collection(c.name, raw(t, c.cmd)); got != c.want {
			t.Errorf("collection(%s) = %q, want %q", c.name, got, c.want)
		}
	}
	if got := collection("saslStart", nil); got != "" {
		t.Errorf("a redacted command: %q", got)
	}
}

func TestWriteFailure(t *testing.T) {
	if f := writeFailure(raw(t, bson.D{{Key: "n", Value: 1}, {Key: "ok", Value: 1.0}})); f != nil {
		t.Errorf("a reply without write errors: %+v", f)
	}
	dup := raw(t, bson.D{{Key: "n", Value: 0}, {Key: "writeErrors", Value: bson.A{
		bson.D{{Key: "index", Value: 0}, {Key: "code", Value: int32(11000)}, {Key: "errmsg", Value: "E11000 duplicate key"}},
	}}, {Key: "ok", Value: 1.0}})
	f := writeFailure(dup)
	if f == nil || f.Code != "11000" || f.Message != "E11000 duplicate key" {
		t.Errorf("duplicate key: %+v", f)
	}
	wc := raw(t, bson.D{{Key: "writeConcernError", Value: bson.D{
		{Key: "code", Value: int32(64)}, {Key: "codeName", Value: "WriteConcernFailed"}, {Key: "errmsg", Value: "timed out"},
	}}, {Key: "ok", Value: 1.0}})
	if f := writeFailure(wc); f == nil || f.Code != "64" || f.CodeName != "WriteConcernFailed" {
		t.Errorf("write concern error: %+v", f)
	}
}

// enter runs newClientOnEnter as the trampoline would and returns the options NewClient then gets.
func enter(opts []*options.ClientOptions) []*options.ClientOptions {
	call := api.NewCallContext("go.mongodb.org/mongo-driver/mongo", "NewClient", []any{&opts}, nil)
	newClientOnEnter(call, opts)
	return call.GetParam(0).([]*options.ClientOptions)
}

func TestTheProgramsMonitorRunsAndIsNotWrappedTwice(t *testing.T) {
	started, succeeded := 0, 0
	theirs := &event.CommandMonitor{
		Started:   func(context.Context, *event.CommandStartedEvent) { started++ },
		Succeeded: func(context.Context, *event.CommandSucceededEvent) { succeeded++ },
	}
	mine := options.Client().SetMonitor(theirs)
	uri := options.Client().ApplyURI("mongodb://127.0.0.1:1")
	got := enter([]*options.ClientOptions{mine, uri})
	if len(got) != 3 || got[0] != mine || got[1] != uri || mine.Monitor != theirs {
		t.Fatalf("the program's options changed or were not kept: %v", got)
	}
	merged := options.MergeClientOptions(got...)
	if merged.Monitor == theirs || merged.Monitor == nil || !isOurs(merged.Monitor) {
		t.Fatal("the merged options do not carry this package's monitor")
	}
	merged.Monitor.Started(context.Background(), &event.CommandStartedEvent{RequestID: 1, CommandName: "ping", DatabaseName: "admin"})
	merged.Monitor.Succeeded(context.Background(), &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 1}})
	merged.Monitor.Failed(context.Background(), &event.CommandFailedEvent{Failure: "(X) y"}) // theirs has none
	if started != 1 || succeeded != 1 {
		t.Errorf("the program's monitor saw %d starts and %d successes, want 1 and 1", started, succeeded)
	}
	// client-side encryption builds its Clients from a copy of the merged options
	again := enter([]*options.ClientOptions{merged})
	if len(again) != 1 || again[0] != merged {
		t.Error("a monitor of this package was wrapped again")
	}
}
