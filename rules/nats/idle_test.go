package nats

import (
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
)

const pkg = "github.com/nats-io/nats.go"

func publishCall(nc *natsgo.Conn, subj string, data []byte) {
	var err error
	call := api.NewCallContext(pkg, "Conn.Publish", []any{&nc, &subj, &data}, []any{&err})
	publishOnEnter(call, nc, subj, data)
	publishOnExit(call, err)
}

func publishMsgCall(nc *natsgo.Conn, m *natsgo.Msg) {
	var err error
	call := api.NewCallContext(pkg, "Conn.PublishMsg", []any{&nc, &m}, []any{&err})
	publishMsgOnEnter(call, nc, m)
	publishMsgOnExit(call, err)
}

func nextMsgCall(s *natsgo.Subscription, m *natsgo.Msg) {
	timeout := time.Second
	var err error
	call := api.NewCallContext(pkg, "Subscription.NextMsg", []any{&s, &timeout}, []any{&m, &err})
	nextMsgOnEnter(call, s, timeout)
	nextMsgOnExit(call, m, err)
}

// Without OpenTelemetry configuration a publish, a handled message and a NextMsg allocate nothing
// in the hooks (the handler still runs); with a TracerProvider they make their spans.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
	nc := &natsgo.Conn{} // not connected: no headers, no server address
	handled := 0
	var cb natsgo.MsgHandler = func(*natsgo.Msg) { handled++ }
	subj, queue := "orders", "workers"
	call := api.NewCallContext(pkg, "Conn.QueueSubscribe", []any{&nc, &subj, &queue, &cb}, nil)
	queueSubscribeOnEnter(call, nc, subj, queue, cb)
	wrapped, _ := call.GetParam(3).(natsgo.MsgHandler)
	if wrapped == nil {
		t.Fatal("QueueSubscribe's handler was not wrapped")
	}
	data := []byte("hello")
	msg := &natsgo.Msg{Subject: subj, Data: data}
	sub := &natsgo.Subscription{Subject: subj, Queue: queue}
	run := func() {
		publishCall(nc, subj, data)
		publishMsgCall(nc, msg)
		wrapped(msg)
		nextMsgCall(sub, msg)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("idle publish, handler and NextMsg: %v allocations, want 0", n)
	}
	if handled == 0 {
		t.Error("the program's handler did not run")
	}

	exp := hooktest.Traced(t)
	run()
	hooktest.SpanNames(t, exp, "publish orders", "publish orders", "process orders", "receive orders")
}
