package kafkago

import (
	"context"
	"testing"

	kafka "github.com/segmentio/kafka-go"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
)

const pkg = "github.com/segmentio/kafka-go"

func writeCall(w *kafka.Writer, ctx context.Context, msgs []kafka.Message) {
	var err error
	call := api.NewCallContext(pkg, "Writer.WriteMessages", []any{&w, &ctx, &msgs}, []any{&err})
	writeOnEnter(call, w, ctx, msgs)
	writeOnExit(call, err)
}

func fetchCall(r *kafka.Reader, ctx context.Context, m kafka.Message) {
	var err error
	call := api.NewCallContext(pkg, "Reader.FetchMessage", []any{&r, &ctx}, []any{&m, &err})
	fetchOnEnter(call, r, ctx)
	fetchOnExit(call, m, err)
}

// Without OpenTelemetry configuration WriteMessages' and FetchMessage's hooks allocate nothing;
// with a TracerProvider they make their spans.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
	ctx := context.Background()
	w := &kafka.Writer{Addr: kafka.TCP("127.0.0.1:1"), Topic: "orders"} // never dialed
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "orders"})
	defer r.Close()
	msgs := []kafka.Message{{Key: []byte("k"), Value: []byte("v")}}
	got := kafka.Message{Topic: "orders", Partition: 0, Offset: 7, Value: []byte("v")}
	run := func() {
		writeCall(w, ctx, msgs)
		fetchCall(r, ctx, got)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("idle write and fetch: %v allocations, want 0", n)
	}

	exp := hooktest.Traced(t)
	run()
	hooktest.SpanNames(t, exp, "send orders", "receive orders")
}
