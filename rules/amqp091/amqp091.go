// Package amqp091 holds the hooks that trace github.com/rabbitmq/amqp091-go: a PRODUCER span per
// message published, with the W3C trace context in the message's headers table, and a CLIENT
// "receive" span per message Channel.Get returns. See package messaging for the model.
package amqp091

import (
	"context"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/messaging"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/amqp091"

// defaultExchange names the default (nameless) exchange in span names.
const defaultExchange = "amq.default"

func publishCtxOnEnter(call *api.CallContext, ch *amqp.Channel, ctx context.Context, exchange, key string,
	mandatory, immediate bool, msg amqp.Publishing) {
	publish(call, ctx, exchange, key, msg, 6)
}

func publishOnEnter(call *api.CallContext, ch *amqp.Channel, exchange, key string, mandatory, immediate bool,
	msg amqp.Publishing) {
	publish(call, context.Background(), exchange, key, msg, 5)
}

// publish starts the span and hands on a copy of the message whose headers carry its context. A
// message that already carries a trace context (the outer Publish* method's hook put it there, or
// the program did) is sent as it is, without a second span.
func publish(call *api.CallContext, ctx context.Context, exchange, key string, msg amqp.Publishing, param int) {
	if _, ok := msg.Headers["traceparent"]; ok {
		return
	}
	dest := exchange
	if dest == "" {
		dest = defaultExchange
	}
	attrs := []attribute.KeyValue{semconv.MessagingMessageBodySize(len(msg.Body))}
	if key != "" {
		attrs = append(attrs, semconv.MessagingRabbitMQDestinationRoutingKey(key))
	}
	if msg.MessageId != "" {
		attrs = append(attrs, semconv.MessagingMessageID(msg.MessageId))
	}
	ctx, span := messaging.StartSend(ctx, messaging.Op{
		Scope: scope, System: messaging.RabbitMQ, Name: "publish", Dest: dest, Attrs: attrs,
	})
	call.SetData(span)
	hdrs := messaging.Headers(ctx)
	if hdrs == nil {
		return
	}
	t := make(amqp.Table, len(msg.Headers)+len(hdrs))
	for k, v := range msg.Headers {
		t[k] = v
	}
	for k, v := range hdrs {
		t[k] = v
	}
	msg.Headers = t
	call.SetParam(param, msg)
}

func publishOnExit(call *api.CallContext, _ *amqp.DeferredConfirmation, err error) {
	if span, ok := call.GetData().(trace.Span); ok {
		messaging.End(span, err)
	}
}

type getState struct{ start time.Time }

func getOnEnter(call *api.CallContext, ch *amqp.Channel, queue string, autoAck bool) {
	call.SetData(getState{time.Now()})
}

// getOnExit makes the receive span of a Get that returned a message or failed (an empty queue
// makes none).
func getOnExit(call *api.CallContext, msg amqp.Delivery, ok bool, err error) {
	st, has := call.GetData().(getState)
	queue, _ := call.GetParam(1).(string)
	if !has || (!ok && err == nil) {
		return
	}
	var attrs []attribute.KeyValue
	var creation []trace.SpanContext
	if ok {
		attrs = append(attrs,
			semconv.MessagingMessageBodySize(len(msg.Body)),
			semconv.MessagingRabbitMQMessageDeliveryTag(int(msg.DeliveryTag)))
		if msg.RoutingKey != "" {
			attrs = append(attrs, semconv.MessagingRabbitMQDestinationRoutingKey(msg.RoutingKey))
		}
		if msg.MessageId != "" {
			attrs = append(attrs, semconv.MessagingMessageID(msg.MessageId))
		}
		creation = append(creation, messaging.Extract(tableCarrier(msg.Headers)))
	}
	span := messaging.StartReceive(context.Background(), messaging.Op{
		Scope: scope, System: messaging.RabbitMQ, Name: "receive", Dest: queue, Attrs: attrs,
	}, st.start, creation)
	messaging.End(span, err)
}

// tableCarrier reads string values of an AMQP headers table.
type tableCarrier amqp.Table

func (c tableCarrier) Get(key string) string {
	switch v := c[key].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

func (c tableCarrier) Set(string, string) {}

func (c tableCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}
