package messaging

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/semconv/v1.37.0/messagingconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// The semantic-convention messaging metrics of semconv v1.37.0 (the version of the spans), recorded
// when a span of the model ends, for every rule set at once:
//   - send: messaging.client.operation.duration (seconds, from the start of the send to its end)
//     and messaging.client.sent.messages (the messages the send carried: 1, or the batch's
//     messaging.batch.message_count);
//   - receive: messaging.client.consumed.messages (one per message returned or delivered) and, for
//     a pull the application made (the span has the call's start time), the duration of the call;
//     a delivery the library pushes (amqp091 Consume, sarama's partition consumers) has no call to
//     time, so no duration;
//   - process: messaging.process.duration (the application's handler) and
//     messaging.client.consumed.messages (1: the delivery has no receive span of its own).
//
// Metric attributes are the span's low-cardinality ones only: messaging.system,
// messaging.operation.name, messaging.operation.type (durations), messaging.destination.name
// (unless temporary), the partition, the consumer group, server.address and server.port,
// error.type. Message keys, ids, offsets and body sizes stay on the spans.
//
// When metrics go nowhere (otelsetup.Meter is nil) the spans are returned as they are: no cost.

// durationBuckets are the explicit bucket boundaries the conventions advise for messaging durations.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

type msgInstruments struct {
	meter    metric.Meter
	duration metric.Float64Histogram // messaging.client.operation.duration
	process  metric.Float64Histogram // messaging.process.duration
	sent     metric.Int64Counter     // messaging.client.sent.messages
	consumed metric.Int64Counter     // messaging.client.consumed.messages
}

var instrumentsByScope sync.Map // scope -> *atomic.Pointer[msgInstruments]

// instruments returns the instruments of scope's meter, or nil when metrics go nowhere.
func instruments(scope string) *msgInstruments {
	m := otelsetup.Meter(scope)
	if m == nil {
		return nil
	}
	slot, ok := instrumentsByScope.Load(scope)
	if !ok {
		slot, _ = instrumentsByScope.LoadOrStore(scope, new(atomic.Pointer[msgInstruments]))
	}
	ptr := slot.(*atomic.Pointer[msgInstruments])
	if in := ptr.Load(); in != nil && otelsetup.SameMeter(in.meter, m) {
		return in
	}
	in := &msgInstruments{meter: m}
	buckets := metric.WithExplicitBucketBoundaries(durationBuckets...)
	duration, _ := messagingconv.NewClientOperationDuration(m, buckets)
	process, _ := messagingconv.NewProcessDuration(m, buckets)
	sent, _ := messagingconv.NewClientSentMessages(m)
	consumed, _ := messagingconv.NewClientConsumedMessages(m)
	in.duration, in.process = duration.Inst(), process.Inst()
	in.sent, in.consumed = sent.Inst(), consumed.Inst()
	ptr.Store(in)
	return in
}

type opKind int

const (
	kindSend opKind = iota
	kindReceive
	kindProcess
)

// metricKeys are the span attributes a metric keeps (the rest are per message).
var metricKeys = map[attribute.Key]bool{
	semconv.MessagingDestinationPartitionIDKey:      true,
	semconv.MessagingConsumerGroupNameKey:           true,
	semconv.MessagingDestinationSubscriptionNameKey: true,
	semconv.MessagingDestinationTemplateKey:         true,
	semconv.ServerAddressKey:                        true,
	semconv.ServerPortKey:                           true,
}

// measured is a span of the model that records the metrics of its operation when it ends (by End
// or by its own End method, whichever comes first).
type measured struct {
	trace.Span
	in     *msgInstruments
	kind   opKind
	start  time.Time // zero: no duration
	count  int64     // messages sent or consumed
	attrs  []attribute.KeyValue
	opType attribute.KeyValue
	done   atomic.Bool
}

// measure wraps span so that its end records the metrics of o (a span returned as it is when
// metrics go nowhere). start is when the operation began (zero: not timed); count the messages.
func measure(span trace.Span, o Op, kind opKind, start time.Time, count int) trace.Span {
	in := instruments(o.Scope)
	if in == nil || span == nil {
		return span
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.MessagingSystemKey.String(o.System), semconv.MessagingOperationName(o.Name))
	if o.Dest != "" && !o.Temporary {
		attrs = append(attrs, semconv.MessagingDestinationName(o.Dest))
	}
	for _, a := range o.Attrs {
		switch {
		case metricKeys[a.Key]:
			attrs = append(attrs, a)
		case a.Key == semconv.MessagingBatchMessageCountKey && kind == kindSend:
			count = int(a.Value.AsInt64())
		}
	}
	opType := semconv.MessagingOperationTypeSend
	switch kind {
	case kindReceive:
		opType = semconv.MessagingOperationTypeReceive
	case kindProcess:
		opType = semconv.MessagingOperationTypeProcess
	}
	return &measured{Span: span, in: in, kind: kind, start: start, count: int64(count), attrs: attrs, opType: opType}
}

// End ends the span, recording its metrics without an error.
func (m *measured) End(opts ...trace.SpanEndOption) {
	m.record(nil)
	m.Span.End(opts...)
}

// record records the operation's metrics, once.
func (m *measured) record(err error) {
	if !m.done.CompareAndSwap(false, true) {
		return
	}
	attrs := m.attrs
	if err != nil {
		attrs = append(attrs[:len(attrs):len(attrs)], semconv.ErrorTypeKey.String(ErrorType(err)))
	}
	ctx := context.Background()
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	var hist metric.Float64Histogram
	switch m.kind {
	case kindSend:
		hist = m.in.duration
		if m.in.sent != nil && m.count > 0 {
			m.in.sent.Add(ctx, m.count, set)
		}
	case kindReceive:
		hist = m.in.duration
		if m.in.consumed != nil && m.count > 0 {
			m.in.consumed.Add(ctx, m.count, set)
		}
	case kindProcess:
		hist = m.in.process
		if m.in.consumed != nil {
			m.in.consumed.Add(ctx, 1, set)
		}
	}
	if hist != nil && !m.start.IsZero() {
		withType := append(attrs[:len(attrs):len(attrs)], m.opType)
		hist.Record(ctx, time.Since(m.start).Seconds(), metric.WithAttributes(withType...))
	}
}

// endSpan ends span, recording the metrics of a measured one with err (End's last step).
func endSpan(span trace.Span, err error) {
	if m, ok := span.(*measured); ok {
		m.record(err)
		m.Span.End()
		return
	}
	span.End()
}
