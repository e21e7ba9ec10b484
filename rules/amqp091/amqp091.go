// Package amqp091 holds the hooks that trace github.com/rabbitmq/amqp091-go: a PRODUCER span per
// message published, with the W3C trace context in the message's headers table, and a CLIENT
// "receive" span per message Channel.Get returns or a Channel.Consume consumer is delivered. See
// package messaging for the model.
package amqp091

import (
	"context"
	"reflect"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
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
// the program did) is sent as it is, without a second span; so is every message when nothing would
// see the span (messaging.Idle).
//
// The hooks of this package that reach call through callctx.Hidden keep to what that asks: they
// store through it only heap values of their own (the span, the message copy, the Get state, the
// queue name) and call no GetParam.
func publish(call *api.CallContext, ctx context.Context, exchange, key string, msg amqp.Publishing, param int) {
	if messaging.Idle(scope) {
		return
	}
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
	callctx.Hidden(call).SetData(span)
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
	callctx.Hidden(call).SetParam(param, msg)
}

func publishOnExit(call *api.CallContext, _ *amqp.DeferredConfirmation, err error) {
	if span, ok := callctx.Hidden(call).GetData().(trace.Span); ok {
		messaging.End(span, err)
	}
}

// getState: when the Get began, and its queue (kept from onEnter's parameter: onExit never keeps
// what GetParam returns).
type getState struct {
	start time.Time
	queue string
}

func getOnEnter(call *api.CallContext, ch *amqp.Channel, queue string, autoAck bool) {
	if messaging.Idle(scope) {
		return // no state: getOnExit makes no span
	}
	callctx.Hidden(call).SetData(&getState{time.Now(), queue})
}

// getOnExit makes the receive span of a Get that returned a message or failed (an empty queue
// makes none).
func getOnExit(call *api.CallContext, msg amqp.Delivery, ok bool, err error) {
	st, _ := callctx.Hidden(call).GetData().(*getState)
	if st == nil || (!ok && err == nil) {
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
		Scope: scope, System: messaging.RabbitMQ, Name: "receive", Dest: st.queue, Attrs: attrs,
	}, st.start, creation)
	messaging.End(span, err)
}

// Consumers: the consumers table of a channel (an unexported type: its address only) and a consumer
// tag name the deliveries channel Consume returned; the channel names the queue. Entries go when
// the consumer is cancelled or the channel closed (nothing grows with traffic).
type tagKey struct {
	subs any
	tag  string
}

var (
	tags   sync.Map // tagKey -> <-chan amqp.Delivery
	queues sync.Map // <-chan amqp.Delivery -> queue name
)

func consumeOnEnter(call *api.CallContext, ch *amqp.Channel, queue, consumer string, autoAck, exclusive, noLocal,
	noWait bool, args amqp.Table) {
	call.SetData(queue)
}

func consumeCtxOnEnter(call *api.CallContext, ch *amqp.Channel, ctx context.Context, queue, consumer string,
	autoAck, exclusive, noLocal, noWait bool, args amqp.Table) {
	call.SetData(queue)
}

func consumeOnExit(call *api.CallContext, deliveries <-chan amqp.Delivery, err error) {
	if queue, ok := callctx.Hidden(call).GetData().(string); ok && err == nil && deliveries != nil {
		queues.Store(deliveries, queue)
	}
}

// addOnEnter: consumers.add(tag, deliveries) of releases before 1.12.0.
func addOnEnter(call *api.CallContext, subs any, tag string, consumer chan amqp.Delivery) {
	tags.Store(tagKey{subs, tag}, (<-chan amqp.Delivery)(consumer))
}

// addConfigOnEnter: consumers.add(tag, deliveries, config) from 1.12.0, whose config names the
// queue already (a delivery may come before Consume returns).
func addConfigOnEnter(call *api.CallContext, subs any, tag string, consumer chan amqp.Delivery, config any) {
	c := (<-chan amqp.Delivery)(consumer)
	tags.Store(tagKey{subs, tag}, c)
	if v := reflect.ValueOf(config); v.Kind() == reflect.Struct {
		if q := v.FieldByName("Queue"); q.Kind() == reflect.String {
			queues.Store(c, q.String())
		}
	}
}

func cancelOnEnter(call *api.CallContext, subs any, tag string) {
	if c, ok := tags.LoadAndDelete(tagKey{subs, tag}); ok {
		queues.Delete(c)
	}
}

func closeOnEnter(call *api.CallContext, subs any) {
	tags.Range(func(k, c any) bool {
		if k.(tagKey).subs == subs {
			tags.Delete(k)
			queues.Delete(c)
		}
		return true
	})
}

// deliverOnEnter makes the receive span of a delivery to a consumer of ours, in the connection's
// goroutine (a Root span, linked to the producer's context).
func deliverOnEnter(call *api.CallContext, subs any, tag string, msg *amqp.Delivery) {
	if msg == nil || messaging.Idle(scope) {
		return
	}
	c, ok := tags.Load(tagKey{subs, tag})
	if !ok {
		return // no such consumer (any more): the library drops the delivery
	}
	queue, _ := queues.Load(c)
	dest, _ := queue.(string)
	attrs := []attribute.KeyValue{
		semconv.MessagingMessageBodySize(len(msg.Body)),
		semconv.MessagingRabbitMQMessageDeliveryTag(int(msg.DeliveryTag)),
	}
	if msg.RoutingKey != "" {
		attrs = append(attrs, semconv.MessagingRabbitMQDestinationRoutingKey(msg.RoutingKey))
	}
	if msg.MessageId != "" {
		attrs = append(attrs, semconv.MessagingMessageID(msg.MessageId))
	}
	span := messaging.StartReceive(context.Background(), messaging.Op{
		Scope: scope, System: messaging.RabbitMQ, Name: "receive", Dest: dest, Root: true, Attrs: attrs,
	}, time.Time{}, []trace.SpanContext{messaging.Extract(tableCarrier(msg.Headers))})
	span.End()
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
