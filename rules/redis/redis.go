// Package redis holds the hooks that trace github.com/redis/go-redis/v9: every Client that
// NewClient builds gets a go-redis Hook of this package, which makes a CLIENT span for each command
// and each pipeline the Client sends, following the OpenTelemetry database conventions for Redis.
//
// Spans are named by the command (GET, CLIENT SETNAME; a pipeline "BATCH GET" when all its commands
// are GETs, else "BATCH"). No argument is recorded: a command's arguments are often the data. The
// parent is the context passed to the command when it carries a span, else the span current in the
// calling goroutine. redis.Nil, the answer for a missing key, is not an error.
package redis

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/redis"

// disabled: OTEL_GO_DISABLED_INSTRUMENTATIONS names redis (or OTEL_SDK_DISABLED=true, ...).
var disabled = !switches.On("redis")

// newClientOnExit adds the tracing hook to the Client NewClient returns.
//
// Results: 0 the new *Client.
func newClientOnExit(call *api.CallContext, c *goredis.Client) {
	if switchedOff {
		return
	}
	if disabled || c == nil {
		return
	}
	c.AddHook(newHook(c.Options()))
}

// hook is the go-redis Hook added to one Client; attrs are the attributes of all its spans.
type hook struct {
	attrs []attribute.KeyValue
}

func newHook(opt *goredis.Options) *hook {
	attrs := []attribute.KeyValue{semconv.DBSystemNameRedis}
	if opt != nil {
		attrs = append(attrs, serverAttrs(opt.Network, opt.Addr)...)
		attrs = append(attrs, semconv.DBNamespace(strconv.Itoa(opt.DB)))
	}
	return &hook{attrs: attrs}
}

// serverAttrs are server.address and server.port of a Client's address ("host:port", or a unix
// socket's path).
func serverAttrs(network, addr string) []attribute.KeyValue {
	if addr == "" {
		return nil
	}
	if network == "unix" {
		return []attribute.KeyValue{semconv.ServerAddress(addr)}
	}
	return netaddr.ServerAttrs(addr)
}

func (h *hook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *hook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if disabled || otelsetup.Idle() || ctx.Value(inCommand{}) != nil {
			return next(ctx, cmd) // idle: a command costs what it costs plainly
		}
		op := commandName(cmd)
		ctx, span := h.start(ctx, op, op)
		err := next(ctx, cmd)
		h.finish(span, err)
		return err
	}
}

func (h *hook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if disabled || otelsetup.Idle() || ctx.Value(inCommand{}) != nil {
			return next(ctx, cmds)
		}
		op := batchName(cmds)
		ctx, span := h.start(ctx, op, op, semconv.DBOperationBatchSize(len(cmds)))
		err := next(ctx, cmds)
		if err == nil || isNil(err) {
			// the pipeline's error is its first failed command's; look for a failure after a nil
			for _, c := range cmds {
				if e := c.Err(); e != nil && !isNil(e) {
					err = e
					break
				}
			}
		}
		h.finish(span, err)
		return err
	}
}

// inCommand marks the context of a traced command or pipeline: what the Client sends while it
// runs (HELLO, SELECT, CLIENT SETINFO on a new connection, whose errors go-redis ignores) is part
// of that command, not a command of the program's.
type inCommand struct{}

func (h *hook) start(ctx context.Context, name, op string, extra ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs := make([]attribute.KeyValue, 0, len(h.attrs)+1+len(extra))
	attrs = append(attrs, h.attrs...)
	if op != "" {
		attrs = append(attrs, semconv.DBOperationName(op))
	}
	attrs = append(attrs, extra...)
	if name == "" {
		name = "redis"
	}
	ctx, span := otelsetup.Tracer(scope).Start(gls.Parent(ctx), name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, inCommand{}, true), span
}

// finish records err (unless it is redis.Nil) and ends span.
func (h *hook) finish(span trace.Span, err error) {
	if err != nil && !isNil(err) {
		code, typ := errorCode(err)
		if code != "" {
			span.SetAttributes(semconv.DBResponseStatusCode(code))
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(typ))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func isNil(err error) bool { return errors.Is(err, goredis.Nil) }

// errorCode is, for an error the server sent, its prefix (ERR, WRONGTYPE, ...) as both the
// response status code and error.type; for any other error, no code and the Go type.
func errorCode(err error) (code, typ string) {
	var re goredis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		if i := strings.IndexByte(msg, ' '); i > 0 {
			msg = msg[:i]
		}
		if msg != "" && strings.ToUpper(msg) == msg {
			return msg, msg
		}
	}
	if t := reflect.TypeOf(err); t != nil {
		return "", t.String()
	}
	return "", "_OTHER"
}

// commandName is the command's name, upper case, with its subcommand when it has one
// ("CLIENT SETNAME"), never an argument.
func commandName(cmd goredis.Cmder) string {
	return strings.ToUpper(cmd.FullName())
}

// batchName is db.operation.name of a pipeline: "BATCH <command>" when every command is the same,
// else "BATCH". A transaction's MULTI and EXEC do not count.
func batchName(cmds []goredis.Cmder) string {
	same := ""
	for _, c := range cmds {
		name := commandName(c)
		if name == "MULTI" || name == "EXEC" {
			continue
		}
		if same == "" {
			same = name
		} else if same != name {
			return "BATCH"
		}
	}
	if same == "" {
		return "BATCH"
	}
	return "BATCH " + same
}
