// Package sarama holds the hooks that trace github.com/IBM/sarama: PRODUCER spans for the messages
// a SyncProducer or an AsyncProducer sends (trace context in their headers) and CLIENT "receive"
// spans for the messages a partition consumer hands to the application. See package messaging for
// the model, and sarama.yaml for where each span starts and ends.
package sarama

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/messaging"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/sarama"

// send is the span of one message on its way; sync ones belong to the SendMessage(s) call.
type send struct {
	span trace.Span
	sync bool
}

// sends: *sarama.ProducerMessage -> *send, from the start of the send to its end (bounded by the
// messages in flight).
var sends sync.Map

// start makes the send span of msg and puts its context in msg's headers (a new slice: the
// caller's backing array is never written). sync: in the SendMessage(s) caller's goroutine, parented
// on its span; else in the dispatcher's goroutine, a Root span.
func start(msg *sarama.ProducerMessage, sync bool) {
	o := messaging.Op{Scope: scope, System: messaging.Kafka, Name: "send", Dest: msg.Topic, Root: !sync}
	if msg.Key != nil {
		if k, err := msg.Key.Encode(); err == nil {
			o.Attrs = append(o.Attrs, semconv.MessagingKafkaMessageKey(string(k)))
		}
	}
	ctx, span := messaging.StartSend(context.Background(), o)
	if _, loaded := sends.LoadOrStore(msg, &send{span: span, sync: sync}); loaded {
		return // not reached (callers check first); the span, never ended, is never exported
	}
	hdrs := messaging.Headers(ctx)
	if hdrs == nil {
		return
	}
	out := make([]sarama.RecordHeader, 0, len(msg.Headers)+len(hdrs))
	for _, h := range msg.Headers {
		if _, ok := hdrs[string(h.Key)]; !ok {
			out = append(out, h)
		}
	}
	for k, v := range hdrs {
		out = append(out, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	msg.Headers = out
}

// finish ends the span of msg (sync: only the SendMessage(s) call's exit does).
func finish(msg *sarama.ProducerMessage, err error, sync bool) {
	v, ok := sends.Load(msg)
	if !ok || v.(*send).sync != sync {
		return
	}
	if _, ok := sends.LoadAndDelete(msg); !ok {
		return
	}
	span := v.(*send).span
	if err == nil {
		span.SetAttributes(
			semconv.MessagingDestinationPartitionID(strconv.Itoa(int(msg.Partition))),
			semconv.MessagingKafkaOffset(int(msg.Offset)))
	}
	messaging.End(span, err)
}

// The send hooks start nothing when no span or metric would be seen (messaging.Idle): the ends
// (the exits, returnSuccesses, returnErrors, returnError) then find no span of the message's.
func sendMessageOnEnter(call *api.CallContext, sp any, msg *sarama.ProducerMessage) {
	if msg == nil || messaging.Idle(scope) {
		return
	}
	if _, ok := sends.Load(msg); ok {
		return
	}
	start(msg, true)
	call.SetData(msg)
}

func sendMessageOnExit(call *api.CallContext, partition int32, offset int64, err error) {
	if msg, ok := call.GetData().(*sarama.ProducerMessage); ok {
		finish(msg, err, true)
	}
}

func sendMessagesOnEnter(call *api.CallContext, sp any, msgs []*sarama.ProducerMessage) {
	if messaging.Idle(scope) {
		return
	}
	var mine []*sarama.ProducerMessage
	for _, msg := range msgs {
		if msg == nil {
			continue
		}
		if _, ok := sends.Load(msg); ok {
			continue
		}
		start(msg, true)
		mine = append(mine, msg)
	}
	call.SetData(mine)
}

// sendMessagesOnExit ends each message's span with its own error (sarama.ProducerErrors).
func sendMessagesOnExit(call *api.CallContext, err error) {
	mine, _ := call.GetData().([]*sarama.ProducerMessage)
	if len(mine) == 0 {
		return
	}
	var perMsg map[*sarama.ProducerMessage]error
	var pes sarama.ProducerErrors
	if errors.As(err, &pes) {
		perMsg = make(map[*sarama.ProducerMessage]error, len(pes))
		for _, pe := range pes {
			perMsg[pe.Msg] = pe.Err
		}
	}
	for _, msg := range mine {
		e := err
		if perMsg != nil {
			e = perMsg[msg]
		}
		finish(msg, e, true)
	}
}

// interceptor starts the span of each message an AsyncProducer's dispatcher takes (a retry, or a
// SyncProducer's message, already has one).
type interceptor struct{}

func (interceptor) OnSend(msg *sarama.ProducerMessage) {
	if messaging.Idle(scope) {
		return
	}
	if _, ok := sends.Load(msg); !ok {
		start(msg, false)
	}
}

var confMu sync.Mutex

// newAsyncProducerOnEnter adds our interceptor to the client's configuration once (every producer,
// sync or async, is made here). Parameter 0: the Client.
func newAsyncProducerOnEnter(call *api.CallContext, client sarama.Client) {
	if client == nil || client.Closed() {
		return
	}
	conf := client.Config()
	if conf == nil {
		return
	}
	confMu.Lock()
	defer confMu.Unlock()
	for _, i := range conf.Producer.Interceptors {
		if _, ok := i.(interceptor); ok {
			return
		}
	}
	conf.Producer.Interceptors = append(conf.Producer.Interceptors[:len(conf.Producer.Interceptors):len(conf.Producer.Interceptors)], interceptor{})
}

func returnSuccessesOnEnter(call *api.CallContext, p any, batch []*sarama.ProducerMessage) {
	for _, msg := range batch {
		finish(msg, nil, false)
	}
}

func returnErrorsOnEnter(call *api.CallContext, p any, batch []*sarama.ProducerMessage, err error) {
	for _, msg := range batch {
		finish(msg, err, false)
	}
}

func returnErrorOnEnter(call *api.CallContext, p any, msg *sarama.ProducerMessage, err error) {
	finish(msg, err, false)
}

// groups: the *consumer of a consumer group -> its group id, while the group is open.
var groups sync.Map

// fieldIndex: struct type -> index of its field "consumer" (-1: none), looked up once per type.
var fieldIndex sync.Map

// consumerOf reads the unexported field "consumer" (a *consumer, or an interface holding one) of a
// *partitionConsumer or *consumerGroup: only its address, used as a key.
func consumerOf(v any) unsafe.Pointer {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	t := rv.Elem().Type()
	idx, ok := fieldIndex.Load(t)
	if !ok {
		i := -1
		if sf, found := t.FieldByName("consumer"); found && len(sf.Index) == 1 {
			i = sf.Index[0]
		}
		idx, _ = fieldIndex.LoadOrStore(t, i)
	}
	if idx.(int) < 0 {
		return nil
	}
	f := rv.Elem().Field(idx.(int))
	if f.Kind() == reflect.Interface {
		f = f.Elem()
	}
	if f.Kind() != reflect.Pointer || f.IsNil() {
		return nil
	}
	return f.UnsafePointer()
}

func newConsumerGroupOnExit(call *api.CallContext, cg sarama.ConsumerGroup, err error) {
	id, _ := call.GetParam(0).(string)
	if err != nil || cg == nil || id == "" {
		return
	}
	if c := consumerOf(cg); c != nil {
		groups.Store(c, id)
	}
}

func groupCloseOnEnter(call *api.CallContext, cg any) {
	if c := consumerOf(cg); c != nil {
		groups.Delete(c)
	}
}

// consumedOnEnter makes the receive span of a message the partition consumer is about to hand to
// the application (sarama's feeder goroutine: a Root span, linked to the producer).
func consumedOnEnter(call *api.CallContext, child any, msg *sarama.ConsumerMessage) {
	if msg == nil || messaging.Idle(scope) {
		return
	}
	attrs := []attribute.KeyValue{
		semconv.MessagingDestinationPartitionID(strconv.Itoa(int(msg.Partition))),
		semconv.MessagingKafkaOffset(int(msg.Offset)),
	}
	if msg.Key != nil {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(msg.Key)))
	}
	if msg.Value == nil {
		attrs = append(attrs, semconv.MessagingKafkaMessageTombstone(true))
	}
	if c := consumerOf(child); c != nil {
		if id, ok := groups.Load(c); ok {
			attrs = append(attrs, semconv.MessagingConsumerGroupName(id.(string)))
		}
	}
	span := messaging.StartReceive(context.Background(), messaging.Op{
		Scope: scope, System: messaging.Kafka, Name: "receive", Dest: msg.Topic, Root: true, Attrs: attrs,
	}, time.Time{}, []trace.SpanContext{messaging.Extract(headerCarrier(msg.Headers))})
	span.End()
}

// headerCarrier reads a consumed message's headers for the propagator (read only).
type headerCarrier []*sarama.RecordHeader

func (c headerCarrier) Get(key string) string {
	for i := len(c) - 1; i >= 0; i-- {
		if c[i] != nil && string(c[i].Key) == key {
			return string(c[i].Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(string, string) {}

func (c headerCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for _, h := range c {
		if h != nil {
			out = append(out, string(h.Key))
		}
	}
	return out
}
