package franzgo

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
)

func pollCall(cl *kgo.Client, ctx context.Context, fs kgo.Fetches) {
	maxPollRecords := -1
	call := api.NewCallContext("github.com/twmb/franz-go/pkg/kgo", "Client.PollRecords",
		[]any{&cl, &ctx, &maxPollRecords}, []any{&fs})
	pollOnEnter(call, cl, ctx, maxPollRecords)
	pollOnExit(call, fs)
}

// Without OpenTelemetry configuration the kgo hook of a client and the PollRecords hooks allocate
// nothing per record or poll; with a TracerProvider they make their spans.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
	ctx := context.Background()
	cl, h := new(kgo.Client), &hook{group: "g"} // the client is only a key of clients
	clients.Store(cl, h)
	defer clients.Delete(cl)
	sent := &kgo.Record{Topic: "orders", Key: []byte("k"), Value: []byte("v"), Context: ctx}
	got := &kgo.Record{Topic: "orders", Value: []byte("v"), Offset: 7}
	fs := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "orders",
		Partitions: []kgo.FetchPartition{{Partition: 0, Records: []*kgo.Record{got}}}}}}}
	run := func() {
		h.OnProduceRecordBuffered(sent)
		h.OnProduceRecordUnbuffered(sent, nil)
		pollCall(cl, ctx, fs)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("idle produce and poll: %v allocations, want 0", n)
	}

	exp := hooktest.Traced(t)
	run()
	hooktest.SpanNames(t, exp, "send orders", "receive orders")
}
