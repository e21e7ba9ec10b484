// Package zerolog holds the hook that adds the trace context to github.com/rs/zerolog events: the
// string fields trace_id, span_id and trace_flags (see logcorr) when a span is current, from the
// event's context (Ctx(ctx), as the contrib otelzerolog bridge reads it) or else the goroutine's
// current span. An event written with no current span is left exactly as it was.
//
// The hook reaches zerolog's types by reflection and interfaces, so this module does not require
// zerolog (adding the hooks to a build never changes the program's zerolog version) and the rule
// set applies only to builds that have zerolog.
package zerolog

import (
	"bytes"
	"context"
	"reflect"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/logcorr"
)

// msgOnEnter runs at the top of (*zerolog.Event).msg, which Msg, Msgf, MsgFunc and Send call on an
// enabled event (a disabled one is nil and never gets here), before the message, the hooks and the
// write: the fields go in through the event's own Str method.
//
// Parameters: 0 the *Event, 1 the message.
func msgOnEnter(call *api.CallContext, event any, msg string) {
	if !switches.On("zerolog") {
		return
	}
	v := reflect.ValueOf(event)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	var ctx context.Context
	if e, ok := event.(interface{ GetCtx() context.Context }); ok {
		ctx = e.GetCtx()
	}
	sc := logcorr.Current(ctx)
	if !sc.IsValid() {
		return
	}
	if buf := v.Elem().FieldByName("buf"); buf.IsValid() && buf.Kind() == reflect.Slice &&
		bytes.Contains(buf.Bytes(), []byte(`"`+logcorr.TraceIDKey+`":`)) {
		return // the program writes its own
	}
	str := v.MethodByName("Str")
	if !str.IsValid() || str.Type().NumIn() != 2 {
		return
	}
	tid, sid, flags := logcorr.IDs(sc)
	for _, kv := range [...][2]string{
		{logcorr.TraceIDKey, tid}, {logcorr.SpanIDKey, sid}, {logcorr.TraceFlagsKey, flags},
	} {
		str.Call([]reflect.Value{reflect.ValueOf(kv[0]), reflect.ValueOf(kv[1])})
	}
}
