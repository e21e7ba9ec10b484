// Package mongotrace is what the MongoDB hooks of both driver majors share (rules/mongo for
// go.mongodb.org/mongo-driver v1, rules/mongov2 for v2): a CLIENT span per command, started when
// the driver's command monitor reports the command started and ended when it reports it succeeded
// or failed, following the OpenTelemetry database conventions for MongoDB.
//
// The hooks packages turn the driver's events (whose types differ by major) into the plain values
// of this package; this package never sees BSON. The command's text is never recorded: its
// documents are the program's data.
package mongotrace

import (
	"context"
	"reflect"
	"runtime"
	"strings"
	"sync"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// Command is a command the driver is about to send.
type Command struct {
	RequestID    int64  // the driver's request id, which pairs the start with the end
	Database     string // db.namespace
	Name         string // the command's name (find, insert, ...): db.operation.name
	Collection   string // db.collection.name, "" when the command names none
	ConnectionID string // the driver's connection id, "host:port[-n]"
}

// Failure is why a command failed: the server's error code and code name when it sent them.
type Failure struct {
	Code     string // numeric code as a string ("11000"), "" when unknown
	CodeName string // "DuplicateKey", "" when unknown
	GoType   string // the Go type of a client-side error, "" when unknown
	Message  string
}

// Tracer makes the spans of one Client: its commands in flight, by request id.
type Tracer struct {
	scope    string
	mu       sync.Mutex
	inFlight map[int64]trace.Span
}

// NewTracer makes a Tracer whose spans carry the instrumentation scope scope.
func NewTracer(scope string) *Tracer {
	return &Tracer{scope: scope, inFlight: map[int64]trace.Span{}}
}

// Idle reports whether no span would be seen: no TracerProvider or propagator was ever set
// (otelsetup.Idle; the MongoDB rule sets record no metrics). The monitors then neither read the
// command nor start a span, so a command allocates what it does plainly. In a program it only turns
// from true to false: a command that ends idle started idle, and has no span in flight.
func Idle() bool { return otelsetup.Idle() }

// Started starts the CLIENT span of cmd, a child of ctx's span (or of the calling goroutine's).
func (t *Tracer) Started(ctx context.Context, cmd Command) {
	defer recoverQuietly()
	if ctx == nil {
		ctx = context.Background()
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.DBSystemNameMongoDB)
	if cmd.Database != "" {
		attrs = append(attrs, semconv.DBNamespace(cmd.Database))
	}
	if cmd.Collection != "" {
		attrs = append(attrs, semconv.DBCollectionName(cmd.Collection))
	}
	if cmd.Name != "" {
		attrs = append(attrs, semconv.DBOperationName(cmd.Name))
	}
	attrs = append(attrs, serverAttrs(cmd.ConnectionID)...)
	_, span := otelsetup.Tracer(t.scope).Start(gls.Parent(ctx), SpanName(cmd),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	t.mu.Lock()
	t.inFlight[cmd.RequestID] = span
	t.mu.Unlock()
}

// Finished ends the span of requestID; fail is nil for a command that succeeded.
func (t *Tracer) Finished(requestID int64, fail *Failure) {
	defer recoverQuietly()
	t.mu.Lock()
	span, ok := t.inFlight[requestID]
	delete(t.inFlight, requestID)
	t.mu.Unlock()
	if !ok {
		return
	}
	if fail != nil {
		typ := fail.Code
		if fail.Code != "" {
			span.SetAttributes(semconv.DBResponseStatusCode(fail.Code))
		}
		if typ == "" {
			typ = fail.CodeName
		}
		if typ == "" {
			typ = fail.GoType
		}
		if typ == "" {
			typ = "_OTHER"
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(typ))
		span.SetStatus(codes.Error, fail.Message)
	}
	span.End()
}

// SpanName is "{operation} {collection}", the database when the command names no collection
// ("ping admin"), the operation alone when neither is known.
func SpanName(cmd Command) string {
	target := cmd.Collection
	if target == "" {
		target = cmd.Database
	}
	switch {
	case cmd.Name == "" && target == "":
		return "mongodb"
	case cmd.Name == "":
		return target
	case target == "":
		return cmd.Name
	}
	return cmd.Name + " " + target
}

// serverAttrs are server.address and server.port read from a driver connection id
// ("127.0.0.1:27017[-3]"; a unix socket's path for a socket).
func serverAttrs(connectionID string) []attribute.KeyValue {
	addr := connectionID
	if i := strings.LastIndexByte(addr, '['); i > 0 && strings.HasSuffix(addr, "]") {
		addr = addr[:i]
	}
	if addr == "" {
		return nil
	}
	return netaddr.ServerAttrs(addr)
}

// ParseFailure reads a v1 driver's failure text, "(CodeName) message" when the server sent the
// error (the v1 event carries the text only, not the numeric code).
func ParseFailure(text string) Failure {
	f := Failure{Message: text}
	if strings.HasPrefix(text, "(") {
		if end := strings.IndexByte(text, ')'); end > 1 && !strings.ContainsAny(text[1:end], " \t") {
			f.CodeName = text[1:end]
		}
	}
	return f
}

// IsOtelmongo reports whether fn (a monitor's function) belongs to the official otelmongo
// instrumentation (or a fork that keeps its package name): a Client that has it is left to it.
func IsOtelmongo(fn any) bool {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return false
	}
	f := runtime.FuncForPC(v.Pointer())
	return f != nil && strings.Contains(f.Name(), "/otelmongo.")
}

// recoverQuietly keeps a failure of the tracing out of the driver: the command goes on untraced.
func recoverQuietly() { _ = recover() }
