// Package directive holds the hooks of the //otel:span directive: an INTERNAL span for each call of
// a function or method of the user's own module that carries it.
//
// The span's parent is the function's context.Context parameter when it has one and that context
// carries a span, else the span current in the goroutine (package gls). While the function runs its
// span is current in the goroutine, and its context.Context parameter (when it has one) is replaced
// by one that carries the span, so whatever the function calls, with its ctx or without any, is
// parented under it. An error the function returns as its last result is recorded on the span (an
// exception event and status Error).
//
// The hooks take only the CallContext: the planner (plan.py) generates their rules, and the
// per-function facts they need (span name, attributes, which parameter is the context, whether the
// last result is an error) are registered by a file it adds to each package that has the directive.
package directive

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/directive"

// disabled: OTEL_GO_DISABLED_INSTRUMENTATIONS names directive (or OTEL_GO_ENABLED_INSTRUMENTATIONS
// does not, or OTEL_SDK_DISABLED=true): the hooks return at once.
var disabled = !switches.On("directive")

type key struct{ pkg, fn string }

// spec is what one function's span is made of.
type spec struct {
	name      string
	attrs     []attribute.KeyValue
	ctxParam  int // CallContext parameter index of its context.Context parameter, -1: none
	errResult int // CallContext result index of its error result (the last one), -1: none
}

var specs sync.Map // key -> *spec

// Register records the span of one function: pkg and fn as the CallContext gives them
// (GetPackageName, GetFuncName), the span name, the function's full name (code.function.name), the
// parameter index (receiver first) of its context.Context parameter and the result index of its
// error result (-1 for none), then the directive's key, value pairs. It is called from the init of
// the file otel-go-autoinst adds to each package with //otel:span functions, not by hand.
func Register(pkg, fn, name, function string, ctxParam, errResult int, keyValues ...string) {
	attrs := make([]attribute.KeyValue, 0, 1+len(keyValues)/2)
	attrs = append(attrs, semconv.CodeFunctionName(function))
	for i := 0; i+1 < len(keyValues); i += 2 {
		attrs = append(attrs, attribute.String(keyValues[i], keyValues[i+1]))
	}
	specs.Store(key{pkg, fn}, &spec{name: name, attrs: attrs, ctxParam: ctxParam, errResult: errResult})
}

// lookup finds the function's spec; a call made before its package's init registered it (from a
// package-level variable's initializer, say) gets a span named after the function, without the
// context parameter and error result, which only the registration knows.
func lookup(pkg, fn string) *spec {
	if s, ok := specs.Load(key{pkg, fn}); ok {
		return s.(*spec)
	}
	short := pkg
	for i := len(pkg) - 1; i >= 0; i-- {
		if pkg[i] == '/' {
			short = pkg[i+1:]
			break
		}
	}
	return &spec{name: short + "." + fn, ctxParam: -1, errResult: -1}
}

// state goes from spanOnEnter to spanOnExit.
type state struct {
	span      trace.Span
	token     gls.Token
	errResult int
}

// spanOnEnter starts the span, makes it current in the goroutine and hands it to the function in
// its context.Context parameter.
func spanOnEnter(call *api.CallContext) {
	if disabled {
		return
	}
	s := lookup(call.GetPackageName(), call.GetFuncName())
	var ctx context.Context
	if s.ctxParam >= 0 {
		ctx, _ = call.GetParam(s.ctxParam).(context.Context)
	}
	spanCtx, span := otelsetup.Tracer(scope).Start(gls.Parent(ctx), s.name,
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(s.attrs...))
	if !span.IsRecording() { // sampled out, or no SDK: the call goes on exactly as written
		return
	}
	if ctx != nil { // a nil context stays nil: the function may check for it
		call.SetParam(s.ctxParam, spanCtx)
	}
	call.SetData(&state{span: span, token: gls.Enter(spanCtx), errResult: s.errResult})
}

// spanOnExit records the error result, if any, and ends the span.
func spanOnExit(call *api.CallContext) {
	st, _ := call.GetData().(*state)
	if st == nil {
		return
	}
	gls.Exit(st.token)
	if st.errResult >= 0 {
		if err, _ := call.GetReturnVal(st.errResult).(error); err != nil {
			st.span.SetAttributes(semconv.ErrorTypeKey.String(fmt.Sprintf("%T", err)))
			st.span.RecordError(err)
			st.span.SetStatus(codes.Error, err.Error())
		}
	}
	st.span.End()
}
