package sarama

import (
	"testing"

	"github.com/IBM/sarama"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
)

const pkg = "github.com/IBM/sarama"

func sendMessageCall(msg *sarama.ProducerMessage) {
	var sp any
	var partition int32
	var offset int64
	var err error
	call := api.NewCallContext(pkg, "syncProducer.SendMessage", []any{&sp, &msg}, []any{&partition, &offset, &err})
	sendMessageOnEnter(call, sp, msg)
	sendMessageOnExit(call, partition, offset, err)
}

func sendMessagesCall(msgs []*sarama.ProducerMessage) {
	var sp any
	var err error
	call := api.NewCallContext(pkg, "syncProducer.SendMessages", []any{&sp, &msgs}, []any{&err})
	sendMessagesOnEnter(call, sp, msgs)
	sendMessagesOnExit(call, err)
}

func asyncCall(batch []*sarama.ProducerMessage) {
	for _, msg := range batch {
		interceptor{}.OnSend(msg)
	}
	var p any
	call := api.NewCallContext(pkg, "asyncProducer.returnSuccesses", []any{&p, &batch}, nil)
	returnSuccessesOnEnter(call, p, batch)
}

func consumedCall(msg *sarama.ConsumerMessage) {
	var child any
	call := api.NewCallContext(pkg, "partitionConsumer.interceptors", []any{&child, &msg}, nil)
	consumedOnEnter(call, child, msg)
}

// Without OpenTelemetry configuration the producers' and the partition consumer's hooks allocate
// nothing per message; with a TracerProvider they make their spans.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
	one := &sarama.ProducerMessage{Topic: "orders", Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder("v")}
	two := []*sarama.ProducerMessage{{Topic: "orders"}, {Topic: "orders"}}
	async := []*sarama.ProducerMessage{{Topic: "orders"}}
	got := &sarama.ConsumerMessage{Topic: "orders", Partition: 0, Offset: 7, Value: []byte("v")}
	run := func() {
		sendMessageCall(one)
		sendMessagesCall(two)
		asyncCall(async)
		consumedCall(got)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("idle SendMessage, SendMessages, async send and consumed message: %v allocations, want 0", n)
	}

	exp := hooktest.Traced(t)
	run()
	hooktest.SpanNames(t, exp, "send orders", "send orders", "send orders", "send orders", "receive orders")
}
