// Package franzgo holds the hooks that trace github.com/twmb/franz-go's kgo.Client: a kgo hook of
// ours, added to every client's options, makes the PRODUCER span of each record from buffering to
// promise and puts the trace context in its headers; PollRecords (which PollFetches calls) makes a
// CLIENT "receive" span linked to the records' producers. See package messaging for the model.
package franzgo

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/messaging"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/franzgo"

// hook is added to each client; it knows its client once kgo calls OnNewClient.
type hook struct {
	off    atomic.Bool // the client has OpenTelemetry hooks of its own
	group  string
	server []attribute.KeyValue
}

var (
	_ kgo.HookNewClient               = (*hook)(nil)
	_ kgo.HookClientClosed            = (*hook)(nil)
	_ kgo.HookProduceRecordBuffered   = (*hook)(nil)
	_ kgo.HookProduceRecordUnbuffered = (*hook)(nil)
)

var (
	clients sync.Map // *kgo.Client -> *hook, while the client is open and traced by us
	sends   sync.Map // *kgo.Record -> trace.Span, from buffering to promise
)

// newClientOnEnter hands NewClient a copy of its options with our hook last (the caller's slice is
// never written). Parameter 0: the options (variadic, as a slice). The hook is added even when
// nothing would see a span yet (messaging.Idle): a TracerProvider set later traces the client.
//
// The hooks of this package reach call through callctx.Hidden: they store through it only heap
// values of their own (the options copy, the poll state) and call no GetParam.
func newClientOnEnter(call *api.CallContext, opts []kgo.Opt) {
	out := make([]kgo.Opt, len(opts), len(opts)+1)
	copy(out, opts)
	callctx.Hidden(call).SetParam(0, append(out, kgo.WithHooks(&hook{})))
}

// OnNewClient reads what the spans need from the client's configuration, and stands aside when
// the program installed OpenTelemetry hooks itself.
func (h *hook) OnNewClient(cl *kgo.Client) {
	if foreignOtel(cl.OptValue(kgo.WithHooks), h) {
		h.off.Store(true)
		return
	}
	if g, ok := cl.OptValue(kgo.ConsumerGroup).(string); ok {
		h.group = g
	}
	if seeds, ok := cl.OptValue(kgo.SeedBrokers).([]string); ok && len(seeds) > 0 {
		h.server = netaddr.ServerAttrs(seeds[0])
	}
	clients.Store(cl, h)
}

func (h *hook) OnClientClosed(cl *kgo.Client) { clients.Delete(cl) }

// foreignOtel: whether hooks (the client's, a slice of kgo.Hook) hold an OpenTelemetry hook
// other than ours (franz-go's plugin/kotel, or one from an OpenTelemetry package).
func foreignOtel(hooks any, ours *hook) bool {
	v := reflect.ValueOf(hooks)
	if v.Kind() != reflect.Slice {
		return false
	}
	for i := 0; i < v.Len(); i++ {
		x := v.Index(i).Interface()
		if x == nil || x == any(ours) {
			continue
		}
		t := reflect.TypeOf(x)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		p := t.PkgPath()
		if strings.Contains(p, "franz-go/plugin/kotel") || strings.Contains(p, "opentelemetry") {
			return true
		}
	}
	return false
}

// OnProduceRecordBuffered starts the send span of r, in the goroutine that called Produce, parented
// on Produce's context (kgo put it in r.Context), and puts the span's context in r's headers (a new
// slice: the caller's backing array is never written).
func (h *hook) OnProduceRecordBuffered(r *kgo.Record) {
	if h.off.Load() || messaging.Idle(scope) {
		return // idle: no span, no header; OnProduceRecordUnbuffered finds none
	}
	attrs := append([]attribute.KeyValue(nil), h.server...)
	if r.Key != nil {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(r.Key)))
	}
	ctx, span := messaging.StartSend(r.Context, messaging.Op{
		Scope: scope, System: messaging.Kafka, Name: "send", Dest: r.Topic, Attrs: attrs,
	})
	sends.Store(r, span)
	if hdrs := messaging.Headers(ctx); hdrs != nil {
		out := make([]kgo.RecordHeader, 0, len(r.Headers)+len(hdrs))
		for _, rh := range r.Headers {
			if _, ok := hdrs[rh.Key]; !ok {
				out = append(out, rh)
			}
		}
		for k, v := range hdrs {
			out = append(out, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		r.Headers = out
	}
}

// OnProduceRecordUnbuffered ends the send span of r: the broker acknowledged it (partition and
// offset known) or it failed.
func (h *hook) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	v, ok := sends.LoadAndDelete(r)
	if !ok {
		return
	}
	span := v.(trace.Span)
	if err == nil {
		span.SetAttributes(
			semconv.MessagingDestinationPartitionID(strconv.Itoa(int(r.Partition))),
			semconv.MessagingKafkaOffset(int(r.Offset)))
	}
	messaging.End(span, err)
}

type pollState struct {
	h     *hook
	ctx   context.Context
	start time.Time
}

// pollOnEnter notes when the poll began, for a client we trace.
func pollOnEnter(call *api.CallContext, cl *kgo.Client, ctx context.Context, maxPollRecords int) {
	if messaging.Idle(scope) {
		return // no state: pollOnExit makes no span
	}
	if v, ok := clients.Load(cl); ok {
		callctx.Hidden(call).SetData(&pollState{h: v.(*hook), ctx: ctx, start: time.Now()})
	}
}

// pollOnExit makes the receive span of a poll that returned records or failed; a poll that the
// application ended (its context done, the client closed) or that found nothing makes none.
func pollOnExit(call *api.CallContext, fs kgo.Fetches) {
	st, _ := callctx.Hidden(call).GetData().(*pollState)
	if st == nil {
		return
	}
	var err error
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) ||
			errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		err = fe.Err
		break
	}
	var recs []*kgo.Record
	fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	if len(recs) == 0 && err == nil {
		return
	}
	attrs := append([]attribute.KeyValue(nil), st.h.server...)
	if st.h.group != "" {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(st.h.group))
	}
	topic, partition := "", int32(-1)
	creations := make([]trace.SpanContext, 0, len(recs))
	for i, r := range recs {
		if i == 0 {
			topic, partition = r.Topic, r.Partition
		} else {
			if r.Topic != topic {
				topic = ""
			}
			if r.Partition != partition {
				partition = -1
			}
		}
		creations = append(creations, messaging.Extract(headerCarrier(r.Headers)))
	}
	if topic == "" {
		partition = -1
	}
	switch {
	case len(recs) == 1:
		r := recs[0]
		attrs = append(attrs, semconv.MessagingKafkaOffset(int(r.Offset)))
		if r.Key != nil {
			attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(r.Key)))
		}
		if r.Value == nil {
			attrs = append(attrs, semconv.MessagingKafkaMessageTombstone(true))
		}
	case len(recs) > 1:
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(recs)))
	}
	if partition >= 0 {
		attrs = append(attrs, semconv.MessagingDestinationPartitionID(strconv.Itoa(int(partition))))
	}
	span := messaging.StartReceive(st.ctx, messaging.Op{
		Scope: scope, System: messaging.Kafka, Name: "receive", Dest: topic, Attrs: attrs,
	}, st.start, creations)
	messaging.End(span, err)
}

// headerCarrier reads a record's headers for the propagator (read only).
type headerCarrier []kgo.RecordHeader

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
