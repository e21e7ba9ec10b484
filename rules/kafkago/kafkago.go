// Package kafkago holds the hooks that trace github.com/segmentio/kafka-go: Writer.WriteMessages
// (a PRODUCER span, trace context into the headers of the messages written) and
// Reader.FetchMessage, which ReadMessage calls (a CLIENT "receive" span per message returned,
// linked to the producer's context found in its headers). See package messaging for the model.
package kafkago

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	kafka "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/messaging"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/kafkago"

// writeOnEnter starts the send span and gives WriteMessages copies of the messages that carry its
// trace context (the caller's slice and headers are never written).
//
// Parameters: 0 the Writer, 1 the context, 2 the messages (variadic, as a slice).
//
// The hooks of this package reach call through callctx.Hidden: they store through it only heap
// values of their own (the span, the messages' copies, the fetch state) and call no GetParam.
// Nothing is done when no span or metric would be seen (messaging.Idle).
func writeOnEnter(call *api.CallContext, w *kafka.Writer, ctx context.Context, msgs []kafka.Message) {
	if w == nil || len(msgs) == 0 || messaging.Idle(scope) {
		return
	}
	topic := w.Topic
	if topic == "" {
		topic = msgs[0].Topic
		for _, m := range msgs[1:] {
			if m.Topic != topic {
				topic = "" // several topics: no single destination
				break
			}
		}
	}
	var attrs []attribute.KeyValue
	if len(msgs) > 1 {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
	} else if msgs[0].Key != nil {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(msgs[0].Key)))
	}
	if w.Addr != nil {
		attrs = append(attrs, netaddr.ServerAttrs(w.Addr.String())...)
	}
	ctx, span := messaging.StartSend(ctx, messaging.Op{
		Scope: scope, System: messaging.Kafka, Name: "send", Dest: topic, Attrs: attrs,
	})
	callctx.Hidden(call).SetData(span)
	hdrs := messaging.Headers(ctx)
	if hdrs == nil {
		return
	}
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		m.Headers = withHeaders(m.Headers, hdrs)
		out[i] = m
	}
	callctx.Hidden(call).SetParam(2, out)
}

// withHeaders returns a new slice: hs without the keys of add, then add.
func withHeaders(hs []kafka.Header, add map[string]string) []kafka.Header {
	out := make([]kafka.Header, 0, len(hs)+len(add))
	for _, h := range hs {
		if _, ok := add[h.Key]; !ok {
			out = append(out, h)
		}
	}
	for k, v := range add {
		out = append(out, kafka.Header{Key: k, Value: []byte(v)})
	}
	return out
}

func writeOnExit(call *api.CallContext, err error) {
	if span, ok := callctx.Hidden(call).GetData().(trace.Span); ok {
		messaging.End(span, err)
	}
}

// fetchState: the Reader (kept from onEnter's parameter: onExit never keeps what GetParam
// returns), the caller's context and when the fetch began.
type fetchState struct {
	r     *kafka.Reader
	ctx   context.Context
	start time.Time
}

// fetchOnEnter notes when the fetch began: the receive span covers the call.
func fetchOnEnter(call *api.CallContext, r *kafka.Reader, ctx context.Context) {
	if r == nil || messaging.Idle(scope) {
		return // no state: fetchOnExit makes no span
	}
	callctx.Hidden(call).SetData(&fetchState{r: r, ctx: ctx, start: time.Now()})
}

// fetchOnExit makes the receive span of the message returned (or of the error).
func fetchOnExit(call *api.CallContext, m kafka.Message, err error) {
	st, _ := callctx.Hidden(call).GetData().(*fetchState)
	if st == nil {
		return
	}
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, io.EOF)) {
		return // the application stopped reading, or closed the reader: no message was asked for
	}
	cfg := st.r.Config()
	topic := m.Topic
	if topic == "" {
		topic = cfg.Topic
	}
	var attrs []attribute.KeyValue
	if cfg.GroupID != "" {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(cfg.GroupID))
	}
	if len(cfg.Brokers) > 0 {
		attrs = append(attrs, netaddr.ServerAttrs(cfg.Brokers[0])...)
	}
	var creation []trace.SpanContext
	if err == nil {
		attrs = append(attrs,
			semconv.MessagingDestinationPartitionID(strconv.Itoa(m.Partition)),
			semconv.MessagingKafkaOffset(int(m.Offset)))
		if m.Key != nil {
			attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(m.Key)))
		}
		if m.Value == nil {
			attrs = append(attrs, semconv.MessagingKafkaMessageTombstone(true))
		}
		creation = append(creation, messaging.Extract(headerCarrier(m.Headers)))
	}
	span := messaging.StartReceive(st.ctx, messaging.Op{
		Scope: scope, System: messaging.Kafka, Name: "receive", Dest: topic, Attrs: attrs,
	}, st.start, creation)
	messaging.End(span, err)
}

// headerCarrier reads a message's headers for the propagator (read only).
type headerCarrier []kafka.Header

func (c headerCarrier) Get(key string) string {
	for i := len(c) - 1; i >= 0; i-- {
		if c[i].Key == key {
			return string(c[i].Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(string, string) {}

func (c headerCarrier) Keys() []string {
	out := make([]string, len(c))
	for i, h := range c {
		out[i] = h.Key
	}
	return out
}
