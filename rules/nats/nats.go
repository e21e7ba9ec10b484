// Package nats holds the hooks that trace github.com/nats-io/nats.go core publish/subscribe:
// PublishMsg (Publish goes through it when a trace context is to be carried) makes a PRODUCER span
// and puts the W3C trace context in the message's headers; a Subscribe or QueueSubscribe handler
// runs inside a CONSUMER "process" span; Subscription.NextMsg makes a CLIENT "receive" span. See
// package messaging for the model.
package nats

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/messaging"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/nats"

// publishOnEnter sends Publish(subj, data) as PublishMsg, which makes the span and carries the
// context, when there is a propagator to fill headers and the connection takes headers; otherwise
// Publish runs as it is, inside a span of its own (its context cannot travel). When no span or
// metric would be seen (messaging.Idle: no propagator either), Publish runs as it is, untraced.
//
// The hooks of this package reach call through callctx.Hidden: they store through it only heap
// values of their own (the span, the message copy, the wrapped handler, the NextMsg state, the
// error PublishMsg returned) and call no GetParam.
func publishOnEnter(call *api.CallContext, nc *natsgo.Conn, subj string, data []byte) {
	if nc == nil || messaging.Idle(scope) {
		return
	}
	if len(otel.GetTextMapPropagator().Fields()) > 0 && nc.HeadersSupported() {
		callctx.Hidden(call).SetSkipCall(true)
		callctx.Hidden(call).SetReturnVal(0, nc.PublishMsg(&natsgo.Msg{Subject: subj, Data: data}))
		return
	}
	_, span := messaging.StartSend(context.Background(), messaging.Op{
		Scope: scope, System: messaging.NATS, Name: "publish", Dest: subj,
		Attrs: append(serverAttrs(nc), semconv.MessagingMessageBodySize(len(data))),
	})
	callctx.Hidden(call).SetData(span)
}

// publishOnExit ends the span of a Publish that was not sent as PublishMsg.
func publishOnExit(call *api.CallContext, err error) {
	if span, ok := callctx.Hidden(call).GetData().(trace.Span); ok {
		messaging.End(span, err)
	}
}

// publishMsgOnEnter starts the publish span and sends a copy of the message whose headers carry
// its context (the caller's Msg and Header are never written).
func publishMsgOnEnter(call *api.CallContext, nc *natsgo.Conn, m *natsgo.Msg) {
	if nc == nil || m == nil || messaging.Idle(scope) {
		return
	}
	ctx, span := messaging.StartSend(context.Background(), messaging.Op{
		Scope: scope, System: messaging.NATS, Name: "publish", Dest: m.Subject,
		Attrs: append(serverAttrs(nc), semconv.MessagingMessageBodySize(len(m.Data))),
	})
	callctx.Hidden(call).SetData(span)
	hdrs := messaging.Headers(ctx)
	if hdrs == nil || !nc.HeadersSupported() {
		return
	}
	h := make(natsgo.Header, len(m.Header)+len(hdrs))
	for k, v := range m.Header {
		h[k] = v
	}
	for k, v := range hdrs {
		h[k] = []string{v}
	}
	cp := &natsgo.Msg{Subject: m.Subject, Reply: m.Reply, Header: h, Data: m.Data, Sub: m.Sub}
	callctx.Hidden(call).SetParam(1, cp)
}

func publishMsgOnExit(call *api.CallContext, err error) {
	if span, ok := callctx.Hidden(call).GetData().(trace.Span); ok {
		messaging.End(span, err)
	}
}

// subscribeOnEnter wraps the handler: each message it gets runs inside a process span. The
// handler is wrapped even when nothing would see a span yet: a subscription lives long, and a
// TracerProvider set later traces its messages.
func subscribeOnEnter(call *api.CallContext, nc *natsgo.Conn, subj string, cb natsgo.MsgHandler) {
	if cb != nil {
		callctx.Hidden(call).SetParam(2, wrap(nc, "", cb))
	}
}

func queueSubscribeOnEnter(call *api.CallContext, nc *natsgo.Conn, subj, queue string, cb natsgo.MsgHandler) {
	if cb != nil {
		callctx.Hidden(call).SetParam(3, wrap(nc, queue, cb))
	}
}

func wrap(nc *natsgo.Conn, queue string, cb natsgo.MsgHandler) natsgo.MsgHandler {
	return func(m *natsgo.Msg) {
		if m == nil || messaging.Idle(scope) {
			cb(m) // idle: as the plain subscription would, no span, nothing made current
			return
		}
		attrs := append(serverAttrs(nc), semconv.MessagingMessageBodySize(len(m.Data)))
		if queue != "" {
			attrs = append(attrs, semconv.MessagingConsumerGroupName(queue))
		}
		ctx, span := messaging.StartProcess(context.Background(), messaging.Op{
			Scope: scope, System: messaging.NATS, Name: "process", Dest: m.Subject, Attrs: attrs,
		}, messaging.Extract(headerCarrier(m.Header)))
		tok := gls.Enter(ctx)
		defer func() {
			gls.Exit(tok)
			if r := recover(); r != nil {
				messaging.End(span, errors.New("handler panicked"))
				panic(r)
			}
			span.End()
		}()
		cb(m)
	}
}

// nextState: the Subscription (kept from onEnter's parameter: onExit never keeps what GetParam
// returns) and when NextMsg began.
type nextState struct {
	s     *natsgo.Subscription
	start time.Time
}

func nextMsgOnEnter(call *api.CallContext, s *natsgo.Subscription, timeout time.Duration) {
	if s == nil || messaging.Idle(scope) {
		return // no state: nextMsgOnExit makes no span
	}
	callctx.Hidden(call).SetData(&nextState{s, time.Now()})
}

// nextMsgOnExit makes the receive span of the message returned; a timeout or a closed
// subscription (no message) makes none.
func nextMsgOnExit(call *api.CallContext, m *natsgo.Msg, err error) {
	st, _ := callctx.Hidden(call).GetData().(*nextState)
	if st == nil || errors.Is(err, natsgo.ErrTimeout) || errors.Is(err, natsgo.ErrBadSubscription) ||
		errors.Is(err, natsgo.ErrConnectionClosed) {
		return
	}
	dest := st.s.Subject
	var attrs []attribute.KeyValue
	if st.s.Queue != "" {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(st.s.Queue))
	}
	var creation []trace.SpanContext
	if m != nil {
		dest = m.Subject
		attrs = append(attrs, semconv.MessagingMessageBodySize(len(m.Data)))
		creation = append(creation, messaging.Extract(headerCarrier(m.Header)))
	}
	span := messaging.StartReceive(context.Background(), messaging.Op{
		Scope: scope, System: messaging.NATS, Name: "receive", Dest: dest, Attrs: attrs,
	}, st.start, creation)
	messaging.End(span, err)
}

// headerCarrier reads NATS headers (keys as sent: the propagators write lower case).
type headerCarrier natsgo.Header

func (c headerCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c headerCarrier) Set(string, string) {}

func (c headerCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// serverAttrs: the address of the server the connection is on.
func serverAttrs(nc *natsgo.Conn) []attribute.KeyValue {
	if nc == nil {
		return nil
	}
	host, port, err := net.SplitHostPort(nc.ConnectedAddr())
	if err != nil || host == "" {
		return nil
	}
	out := []attribute.KeyValue{semconv.ServerAddress(host)}
	if p, err := strconv.Atoi(port); err == nil {
		out = append(out, semconv.ServerPort(p))
	}
	return out
}
