// Package logcorr is what the log rule sets (slog, stdlog, logrus, zap, zerolog) share: the span a
// log record belongs to and the names its identifiers are written under.
//
// The names are those of the OpenTelemetry specification for trace context in non-OTLP log
// formats (https://opentelemetry.io/docs/specs/otel/compatibility/logging_trace_context/):
// trace_id (32 lowercase hex digits), span_id (16) and trace_flags (2), the log data model's
// TraceId, SpanId and TraceFlags fields written as text. The contrib log bridges (otelslog,
// otellogrus, otelzap, otelzerolog) put the same three values in the OTLP record's own fields, which
// have no name in a text line; these names are what a collector's parsers and log back-ends look for.
package logcorr

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
)

// The field names of the identifiers.
const (
	TraceIDKey    = "trace_id"
	SpanIDKey     = "span_id"
	TraceFlagsKey = "trace_flags"
)

// Current is the span context a record made now belongs to: ctx's when it carries a valid one
// (the record's own context), else the span current in this goroutine; invalid when none.
func Current(ctx context.Context) trace.SpanContext {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			return sc
		}
	}
	return gls.SpanContext()
}

// IDs returns the three values written for sc: trace id, span id and flags, in lowercase hex.
func IDs(sc trace.SpanContext) (traceID, spanID, flags string) {
	return sc.TraceID().String(), sc.SpanID().String(), sc.TraceFlags().String()
}
