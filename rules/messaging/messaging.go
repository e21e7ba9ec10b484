// Package messaging holds what the messaging rule sets (kafkago, sarama, franzgo, amqp091, nats)
// share: the span model of the OpenTelemetry messaging semantic conventions (v1.37.0) and the W3C
// trace context carried in message headers.
//
// The model, the same for every library:
//   - send: a PRODUCER span "send <destination>" (Kafka) or "publish <destination>" (RabbitMQ,
//     NATS), messaging.operation.type "send", parented on the caller's context (else the span
//     current in the goroutine); its context is injected into the headers of every message it sends
//     and is so the messages' creation context.
//   - receive: a call of the application that pulls messages (kafka-go FetchMessage, franz-go
//     PollFetches, NATS NextMsg, amqp091 Get) is a CLIENT span "receive <destination>" (the current
//     conventions' kind for receive), parented on the caller's context, with a link to the creation
//     context of every message it returns.
//   - process: a message the library pushes to the application (a NATS subscription's handler, an
//     amqp091 delivery, a sarama consumer-group claim) is a CONSUMER span "process <destination>"
//     that links to the message's creation context and, being about one message, takes that
//     context as its parent (the conventions' "MAY" for single messages) unless the goroutine
//     already has a current span, which then stays the parent.
package messaging

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// Systems, as messaging.system names them.
const (
	Kafka    = "kafka"
	RabbitMQ = "rabbitmq"
	NATS     = "nats"
)

// Op describes one span: system, operation name (system-specific: "send", "publish", "receive",
// "process"), destination and extra attributes.
type Op struct {
	Scope     string
	System    string
	Name      string // messaging.operation.name
	Dest      string // messaging.destination.name; "" when unknown
	Temporary bool   // the destination is temporary or anonymous: kept out of the span name
	// Root: the span is made in a goroutine of the library (a dispatcher, a connection reader),
	// whose goroutine-local span is whatever was current when the library started it, not the
	// application's: the span starts a trace of its own (links still say where messages came from).
	Root  bool
	Attrs []attribute.KeyValue
}

func (o Op) spanName() string {
	if o.Dest == "" || o.Temporary {
		return o.Name
	}
	return o.Name + " " + o.Dest
}

func (o Op) attrs(opType attribute.KeyValue) []attribute.KeyValue {
	a := make([]attribute.KeyValue, 0, 4+len(o.Attrs))
	a = append(a, semconv.MessagingSystemKey.String(o.System), semconv.MessagingOperationName(o.Name), opType)
	if o.Dest != "" {
		a = append(a, semconv.MessagingDestinationName(o.Dest))
	}
	if o.Temporary {
		a = append(a, semconv.MessagingDestinationTemporary(true))
	}
	return append(a, o.Attrs...)
}

// Idle reports whether no span or metric of scope would be seen: no TracerProvider, propagator or
// MeterProvider was ever set (a test binary without OpenTelemetry configuration,
// OTEL_SDK_DISABLED=true). A hook returns at once then, so an instrumented send or receive
// allocates what the plain one does. It allocates nothing, and in a program only ever turns from
// true to false (a provider, once set, stays): an onExit that finds it true knows its onEnter did.
func Idle(scope string) bool {
	return otelsetup.Idle() && otelsetup.Meter(scope) == nil
}

// StartSend starts the PRODUCER span of a send, parented on ctx (else the goroutine's current
// span). The returned context carries it: Inject it into each message sent.
func StartSend(ctx context.Context, o Op) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(o.attrs(semconv.MessagingOperationTypeSend)...),
	}
	ctx, span := otelsetup.Tracer(o.Scope).Start(o.parent(ctx), o.spanName(), append(opts, o.root()...)...)
	return ctx, measure(span, o, kindSend, time.Now(), 1) // metrics.go
}

// parent is ctx else the goroutine's span, or nothing for a Root span.
func (o Op) parent(ctx context.Context) context.Context {
	if o.Root {
		return context.Background()
	}
	return gls.Parent(ctx)
}

func (o Op) root() []trace.SpanStartOption {
	if o.Root {
		return []trace.SpanStartOption{trace.WithNewRoot()}
	}
	return nil
}

// StartReceive starts the CLIENT span of a pull (started at start, the time the call began), with
// a link to each creation context given (invalid ones are skipped).
func StartReceive(ctx context.Context, o Op, start time.Time, creations []trace.SpanContext) trace.Span {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(o.attrs(semconv.MessagingOperationTypeReceive)...),
		trace.WithLinks(links(creations)...),
	}
	if !start.IsZero() {
		opts = append(opts, trace.WithTimestamp(start))
	}
	_, span := otelsetup.Tracer(o.Scope).Start(o.parent(ctx), o.spanName(), append(opts, o.root()...)...)
	return measure(span, o, kindReceive, start, len(creations)) // metrics.go
}

// StartProcess starts the CONSUMER span of one message pushed to the application: linked to the
// message's creation context, and its child unless ctx (or the goroutine) already has a span.
func StartProcess(ctx context.Context, o Op, creation trace.SpanContext) (context.Context, trace.Span) {
	parent := gls.Parent(ctx)
	if !trace.SpanContextFromContext(parent).IsValid() && creation.IsValid() {
		parent = trace.ContextWithRemoteSpanContext(parent, creation)
	}
	ctx, span := otelsetup.Tracer(o.Scope).Start(parent, o.spanName(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(o.attrs(semconv.MessagingOperationTypeProcess)...),
		trace.WithLinks(links([]trace.SpanContext{creation})...))
	return ctx, measure(span, o, kindProcess, time.Now(), 1) // metrics.go
}

func links(scs []trace.SpanContext) []trace.Link {
	out := make([]trace.Link, 0, len(scs))
	for _, sc := range scs {
		if sc.IsValid() {
			out = append(out, trace.Link{SpanContext: sc})
		}
	}
	return out
}

// Extract returns the creation context a message's headers carry (invalid when none).
func Extract(carrier propagation.TextMapCarrier) trace.SpanContext {
	return trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(context.Background(), carrier))
}

// Headers returns the trace context of ctx as header fields (nil when there is none to send: no
// span, or no propagator configured), so that a hook copies a message only when it has something
// to add to it.
func Headers(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	m := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// End records err (error.type, status) on span and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(ErrorType(err)))
		span.SetStatus(codes.Error, err.Error())
	}
	endSpan(span, err) // metrics.go
}

// ErrorType is the low-cardinality error.type of err: the type name of the innermost error that
// is not a plain *errors.errorString, else "_OTHER".
func ErrorType(err error) string {
	if errors.Is(err, context.Canceled) {
		return "context.Canceled"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "context.DeadlineExceeded"
	}
	t := reflect.TypeOf(err)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Name() == "" || t.PkgPath() == "errors" || strings.HasPrefix(t.Name(), "wrapError") {
		return "_OTHER"
	}
	return t.PkgPath() + "." + t.Name()
}
