// Package logrus holds the hook that adds the trace context to github.com/sirupsen/logrus entries:
// the fields trace_id, span_id and trace_flags (see logcorr) when a span is current, from the
// entry's context (WithContext) or else the goroutine's current span. An entry written with no
// current span is left exactly as it was.
//
// The hook reaches logrus's types by reflection, so this module does not require logrus (adding
// the hooks to a build never changes the program's logrus version) and the rule set applies only
// to builds that have logrus.
package logrus

import (
	"context"
	"reflect"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/logcorr"
)

var contextType = reflect.TypeFor[context.Context]()

// writeOnEnter runs at the top of (*logrus.Entry).write, which Entry.log calls on its own copy of
// the entry (Dup: a fresh Data map) once the hooks have fired, just before the formatter runs: the
// fields added here are the copy's, never the caller's.
//
// Parameter 0: the *logrus.Entry.
func writeOnEnter(call *api.CallContext, entry any) {
	if !switches.On("logrus") {
		return
	}
	v := reflect.ValueOf(entry)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	e := v.Elem()
	var ctx context.Context
	if f := e.FieldByName("Context"); f.IsValid() && f.Type() == contextType && !f.IsNil() {
		ctx, _ = f.Interface().(context.Context)
	}
	sc := logcorr.Current(ctx)
	if !sc.IsValid() {
		return
	}
	data := e.FieldByName("Data") // logrus.Fields: map[string]interface{}
	if !data.IsValid() || data.Kind() != reflect.Map || data.Type().Key().Kind() != reflect.String ||
		data.Type().Elem().Kind() != reflect.Interface || !data.CanSet() {
		return
	}
	if data.IsNil() {
		data.Set(reflect.MakeMap(data.Type()))
	}
	tid, sid, flags := logcorr.IDs(sc)
	for _, kv := range [...][2]string{
		{logcorr.TraceIDKey, tid}, {logcorr.SpanIDKey, sid}, {logcorr.TraceFlagsKey, flags},
	} {
		key := reflect.ValueOf(kv[0]).Convert(data.Type().Key())
		if data.MapIndex(key).IsValid() {
			continue // the program's own field of that name wins
		}
		data.SetMapIndex(key, reflect.ValueOf(kv[1]))
	}
}
