package amqp091

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
)

const pkg = "github.com/rabbitmq/amqp091-go"

// The hooks as the trampolines call them, each pair with the CallContext of one call.
func publishCall(ctx context.Context, exchange, key string, msg amqp.Publishing) {
	var ch *amqp.Channel
	var mandatory, immediate bool
	var dc *amqp.DeferredConfirmation
	var err error
	call := api.NewCallContext(pkg, "Channel.PublishWithDeferredConfirmWithContext",
		[]any{&ch, &ctx, &exchange, &key, &mandatory, &immediate, &msg}, []any{&dc, &err})
	publishCtxOnEnter(call, ch, ctx, exchange, key, mandatory, immediate, msg)
	publishOnExit(call, dc, err)
}

func getCall(queue string, msg amqp.Delivery) {
	var ch *amqp.Channel
	autoAck, ok := true, true
	var err error
	call := api.NewCallContext(pkg, "Channel.Get", []any{&ch, &queue, &autoAck}, []any{&msg, &ok, &err})
	getOnEnter(call, ch, queue, autoAck)
	getOnExit(call, msg, ok, err)
}

func deliverCall(subs any, tag string, msg *amqp.Delivery) {
	call := api.NewCallContext(pkg, "consumers.send", []any{&subs, &tag, &msg}, nil)
	deliverOnEnter(call, subs, tag, msg)
}

// Without OpenTelemetry configuration a publish, a Get and a delivery to a consumer allocate
// nothing in the hooks; with a TracerProvider they make their spans.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
	ctx := context.Background()
	pub := amqp.Publishing{Body: []byte("hello"), MessageId: "m1"}
	got := amqp.Delivery{Body: []byte("hello"), DeliveryTag: 1, RoutingKey: "jobs"}
	subs, deliveries := new(int), make(chan amqp.Delivery)
	addOnEnter(api.NewCallContext(pkg, "consumers.add", nil, nil), subs, "c1", deliveries)
	queues.Store((<-chan amqp.Delivery)(deliveries), "jobs")
	defer closeOnEnter(api.NewCallContext(pkg, "consumers.close", nil, nil), subs)
	run := func() {
		publishCall(ctx, "", "jobs", pub)
		getCall("jobs", got)
		deliverCall(subs, "c1", &got)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("idle publish, Get and delivery: %v allocations, want 0", n)
	}

	exp := hooktest.Traced(t)
	run()
	hooktest.SpanNames(t, exp, "publish amq.default", "receive jobs", "receive jobs")
}
