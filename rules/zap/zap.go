// Package zap holds the hook that adds the trace context to go.uber.org/zap entries: the string
// fields trace_id, span_id and trace_flags (see logcorr) when a span is current, from a
// context.Context passed as a field (zap.Any("ctx", ctx), as the contrib otelzap bridge reads it) or
// else the goroutine's current span. An entry written with no current span is left exactly as it
// was.
//
// The hook reaches zap's types by reflection, so this module does not require zap (adding the
// hooks to a build never changes the program's zap version) and the rule set applies only to
// builds that have zap.
package zap

import (
	"context"
	"reflect"
	"sync"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/logcorr"
)

// stringType is zapcore.StringType, the FieldType of zap.String (zapcore's FieldType constants are
// an iota list that only ever grew at its end).
const stringType = 15

// fieldLayout is what the hook needs of zapcore.Field, checked once per type.
type fieldLayout struct {
	ok                   bool
	key, typ, str, iface int
}

var layouts sync.Map // reflect.Type -> *fieldLayout

func cachedLayout(t reflect.Type) *fieldLayout {
	if l, ok := layouts.Load(t); ok {
		return l.(*fieldLayout)
	}
	l := &fieldLayout{}
	key, ok1 := t.FieldByName("Key")
	typ, ok2 := t.FieldByName("Type")
	str, ok3 := t.FieldByName("String")
	iface, ok4 := t.FieldByName("Interface")
	if t.Kind() == reflect.Struct && t.PkgPath() == "go.uber.org/zap/zapcore" && t.Name() == "Field" &&
		ok1 && ok2 && ok3 && ok4 && key.Type.Kind() == reflect.String && typ.Type.Kind() == reflect.Uint8 &&
		str.Type.Kind() == reflect.String && iface.Type.Kind() == reflect.Interface {
		*l = fieldLayout{ok: true, key: key.Index[0], typ: typ.Index[0], str: str.Index[0], iface: iface.Index[0]}
	}
	layouts.Store(t, l)
	return l
}

// writeOnEnter runs at the top of (*zapcore.CheckedEntry).Write, which every Logger and
// SugaredLogger method calls with the call's fields once the level is known to be enabled. The
// fields go to a new slice: the caller's is never written.
//
// Parameters: 0 the *CheckedEntry, 1 the fields ([]zapcore.Field).
func writeOnEnter(call *api.CallContext, ce any, fields any) {
	if !switches.On("zap") {
		return
	}
	v := reflect.ValueOf(fields)
	if v.Kind() != reflect.Slice {
		return
	}
	l := cachedLayout(v.Type().Elem())
	if !l.ok {
		return
	}
	var ctx context.Context
	for i := 0; i < v.Len(); i++ {
		f := v.Index(i)
		if x, ok := f.Field(l.iface).Interface().(context.Context); ok {
			ctx = x
		}
		if k := f.Field(l.key).String(); k == logcorr.TraceIDKey {
			return // the program writes its own
		}
	}
	sc := logcorr.Current(ctx)
	if !sc.IsValid() {
		return
	}
	tid, sid, flags := logcorr.IDs(sc)
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len()+3)
	reflect.Copy(out, v)
	for _, kv := range [...][2]string{
		{logcorr.TraceIDKey, tid}, {logcorr.SpanIDKey, sid}, {logcorr.TraceFlagsKey, flags},
	} {
		f := reflect.New(v.Type().Elem()).Elem()
		f.Field(l.key).SetString(kv[0])
		f.Field(l.typ).SetUint(stringType)
		f.Field(l.str).SetString(kv[1])
		out = reflect.Append(out, f)
	}
	call.SetParam(1, out.Interface())
}
