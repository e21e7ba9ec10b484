// Package pgx holds the hooks that trace github.com/jackc/pgx/v5: every connection pgx opens
// (pgx.Connect, ConnectConfig, and the connections of a pgxpool.Pool) gets a pgx tracer of this
// package, which makes a CLIENT span per Query, QueryRow and Exec (a transaction's BEGIN, COMMIT and
// ROLLBACK included: pgx sends them as Exec), per SendBatch and per CopyFrom, following the
// OpenTelemetry database conventions for PostgreSQL.
//
// Spans are named "<operation> <table>" (SELECT users, COPY items) or the operation alone when the
// statement names no single table. The parent is the context passed to pgx when it carries a span,
// else the span current in the calling goroutine.
package pgx

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"

	pgxlib "github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/pgx"

// disabled: OTEL_GO_DISABLED_INSTRUMENTATIONS names pgx (or OTEL_SDK_DISABLED=true, ...).
var disabled = !switches.On("pgx")

// connectOnEnter runs at the top of pgx's connect, which every way of opening a connection goes
// through with a configuration of its own (ConnectConfig and the pools pass a copy): the tracer
// goes into that configuration unless it already has one.
//
// Parameters: 0 the context, 1 the *ConnConfig.
func connectOnEnter(call *api.CallContext, ctx context.Context, config *pgxlib.ConnConfig) {
	if switchedOff {
		return
	}
	if disabled || config == nil || config.Tracer != nil || viaDatabaseSQL() {
		return
	}
	config.Tracer = newTracer(config)
}

// stdlibPrefix starts the names of pgx's database/sql driver functions.
const stdlibPrefix = "github.com/jackc/pgx/v5/stdlib."

// viaDatabaseSQL reports whether pgx's database/sql driver (pgx/v5/stdlib) is opening this
// connection: the database/sql rule set traces its calls, so the connection gets no tracer (no
// double spans). Connections are opened rarely; walking the stack then costs little.
func viaDatabaseSQL() bool {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, stdlibPrefix) {
			return true
		}
		if !more {
			return false
		}
	}
}

// tracer is the pgx.QueryTracer, BatchTracer and CopyFromTracer of one connection configuration.
type tracer struct {
	attrs []attribute.KeyValue // of every span: system, database, server
}

func newTracer(config *pgxlib.ConnConfig) *tracer {
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL}
	if config.Database != "" {
		attrs = append(attrs, semconv.DBNamespace(config.Database))
	}
	if config.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(config.Host))
		if config.Port != 0 && !strings.HasPrefix(config.Host, "/") {
			attrs = append(attrs, semconv.ServerPort(int(config.Port)))
		}
	}
	return &tracer{attrs: attrs}
}

// spanKey holds, in the context start returns, the span it started: end ends only that one. A
// query that started idle gets its caller's context back, whose span (another tracer's, when a
// program traces without a global TracerProvider) is not ours to end, should a TracerProvider be
// set before the query ends.
type spanKey struct{}

// idle: nothing a span would be seen by (otelsetup.Idle: no TracerProvider or propagator; this
// rule set records no metrics). The tracer then hands the context back untouched: a query, batch
// or copy allocates what it does plainly.
func idle() bool { return disabled || otelsetup.Idle() }

func (t *tracer) start(ctx context.Context, operation, table, query string, extra ...attribute.KeyValue) context.Context {
	attrs := make([]attribute.KeyValue, 0, len(t.attrs)+3+len(extra))
	attrs = append(attrs, t.attrs...)
	name := "postgresql"
	if operation != "" {
		attrs = append(attrs, semconv.DBOperationName(operation))
		name = operation
		if table != "" {
			name += " " + table
		}
	}
	if table != "" {
		attrs = append(attrs, semconv.DBCollectionName(table))
	}
	if query != "" {
		attrs = append(attrs, semconv.DBQueryText(query))
	}
	attrs = append(attrs, extra...)
	ctx, span := otelsetup.Tracer(scope).Start(gls.Parent(ctx), name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, spanKey{}, span)
}

// end records err and ends the span start put in ctx (none: the operation started idle).
func end(ctx context.Context, err error, extra ...attribute.KeyValue) {
	span, _ := ctx.Value(spanKey{}).(trace.Span)
	if span == nil {
		return
	}
	span.SetAttributes(extra...)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code != "" {
			span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code), semconv.ErrorTypeKey.String(pgErr.Code))
		} else {
			span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		}
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func errorType(err error) string {
	if errors.Is(err, context.Canceled) {
		return "context.Canceled"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "context.DeadlineExceeded"
	}
	if t := reflect.TypeOf(err); t != nil {
		return t.String()
	}
	return "_OTHER"
}

// ---- Query, QueryRow, Exec

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgxlib.Conn, data pgxlib.TraceQueryStartData) context.Context {
	if idle() {
		return ctx
	}
	op, table := summarize(data.SQL)
	return t.start(ctx, op, table, data.SQL)
}

func (t *tracer) TraceQueryEnd(ctx context.Context, _ *pgxlib.Conn, data pgxlib.TraceQueryEndData) {
	if disabled || ctx.Value(spanKey{}) == nil {
		return
	}
	end(ctx, data.Err, rowsAffected(data.CommandTag)...)
}

// rowsAffected is db.response.returned_rows for a SELECT (the rows read), else nothing.
func rowsAffected(tag pgconn.CommandTag) []attribute.KeyValue {
	if tag.Select() {
		return []attribute.KeyValue{semconv.DBResponseReturnedRows(int(tag.RowsAffected()))}
	}
	return nil
}

// ---- SendBatch: one span, named "BATCH <operation> <table>" when every statement is alike.

type batchState struct {
	ops    []string
	tables []string
	err    error
}

type batchKey struct{}

func (t *tracer) TraceBatchStart(ctx context.Context, _ *pgxlib.Conn, data pgxlib.TraceBatchStartData) context.Context {
	if idle() {
		return ctx
	}
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	var extra []attribute.KeyValue
	if n > 1 {
		extra = append(extra, semconv.DBOperationBatchSize(n))
	}
	ctx = t.start(ctx, "BATCH", "", "", extra...)
	return context.WithValue(ctx, batchKey{}, &batchState{})
}

func (t *tracer) TraceBatchQuery(ctx context.Context, _ *pgxlib.Conn, data pgxlib.TraceBatchQueryData) {
	if disabled {
		return
	}
	st, _ := ctx.Value(batchKey{}).(*batchState)
	if st == nil {
		return
	}
	op, table := summarize(data.SQL)
	st.ops = append(st.ops, op)
	st.tables = append(st.tables, table)
	if data.Err != nil && st.err == nil {
		st.err = data.Err
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("query", trace.WithAttributes(semconv.DBQueryText(data.SQL)))
	}
}

func (t *tracer) TraceBatchEnd(ctx context.Context, _ *pgxlib.Conn, data pgxlib.TraceBatchEndData) {
	if disabled {
		return
	}
	st, _ := ctx.Value(batchKey{}).(*batchState)
	if st == nil {
		return // the batch started idle: no span
	}
	err := data.Err
	if err == nil {
		err = st.err
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		op, table := "BATCH", ""
		if o, same := allSame(st.ops); same && o != "" {
			op += " " + o
			if tb, same := allSame(st.tables); same {
				table = tb
			}
		}
		name := op
		attrs := []attribute.KeyValue{semconv.DBOperationName(op)}
		if table != "" {
			name += " " + table
			attrs = append(attrs, semconv.DBCollectionName(table))
		}
		span.SetName(name)
		span.SetAttributes(attrs...)
	}
	end(ctx, err)
}

func allSame(xs []string) (string, bool) {
	if len(xs) == 0 {
		return "", false
	}
	for _, x := range xs[1:] {
		if x != xs[0] {
			return "", false
		}
	}
	return xs[0], true
}

// ---- CopyFrom

func (t *tracer) TraceCopyFromStart(ctx context.Context, _ *pgxlib.Conn, data pgxlib.TraceCopyFromStartData) context.Context {
	if idle() {
		return ctx
	}
	table := strings.Join(data.TableName, ".")
	return t.start(ctx, "COPY", table, "")
}

func (t *tracer) TraceCopyFromEnd(ctx context.Context, _ *pgxlib.Conn, data pgxlib.TraceCopyFromEndData) {
	if disabled {
		return
	}
	end(ctx, data.Err)
}
