// Package slog holds the hooks that add the trace context to log/slog records: trace_id, span_id
// and trace_flags (see logcorr) when a span is current, from the context the record is logged with
// (InfoContext, Log, LogAttrs, ...) or else the goroutine's current span. A record made with no
// current span is left exactly as it was.
package slog

import (
	"context"
	stdslog "log/slog"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/logcorr"
)

// traceAttrs returns the three attributes of the span current for ctx, or nil.
func traceAttrs(ctx context.Context) []stdslog.Attr {
	if !switches.On("slog") {
		return nil
	}
	sc := logcorr.Current(ctx)
	if !sc.IsValid() {
		return nil
	}
	tid, sid, flags := logcorr.IDs(sc)
	return []stdslog.Attr{
		stdslog.String(logcorr.TraceIDKey, tid),
		stdslog.String(logcorr.SpanIDKey, sid),
		stdslog.String(logcorr.TraceFlagsKey, flags),
	}
}

// logOnEnter runs at the top of (*slog.Logger).log, which every Logger method that takes key-value
// pairs calls (Info, InfoContext, Log, ..., and the package-level functions). The attributes go
// first: an Attr is one argument, so the caller's pairs, an odd key at the end included, are read
// exactly as before. The handler (its groups, its format) writes them like any other attribute.
//
// Parameters: 0 the Logger, 1 ctx, 2 level, 3 msg, 4 args.
func logOnEnter(call *api.CallContext, l *stdslog.Logger, ctx context.Context, level stdslog.Level, msg string, args []any) {
	attrs := traceAttrs(ctx)
	if attrs == nil || l == nil || !l.Enabled(ctx, level) {
		return
	}
	n := make([]any, 0, len(attrs)+len(args))
	for _, a := range attrs {
		n = append(n, a)
	}
	call.SetParam(4, append(n, args...))
}

// logAttrsOnEnter runs at the top of (*slog.Logger).logAttrs (LogAttrs, and the package-level
// LogAttrs).
func logAttrsOnEnter(call *api.CallContext, l *stdslog.Logger, ctx context.Context, level stdslog.Level, msg string, attrs []stdslog.Attr) {
	ours := traceAttrs(ctx)
	if ours == nil || l == nil || !l.Enabled(ctx, level) {
		return
	}
	call.SetParam(4, append(ours, attrs...))
}
