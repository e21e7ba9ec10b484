package pgx

import (
	"context"
	"testing"

	pgxlib "github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// Without OpenTelemetry configuration the tracer connectOnEnter gives a connection allocates
// nothing per query, batch or copy; with a TracerProvider it makes their spans, and never touches
// a span of the caller's.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
	config, err := pgxlib.ParseConfig("postgres://u@127.0.0.1:1/shop") // never dialed
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	call := api.NewCallContext("github.com/jackc/pgx/v5", "connect", []any{&ctx, &config}, nil)
	connectOnEnter(call, ctx, config)
	tr, ok := config.Tracer.(*tracer)
	if !ok {
		t.Fatalf("the configuration got no tracer of ours: %T", config.Tracer)
	}
	batch := &pgxlib.Batch{}
	batch.Queue("SELECT id FROM users")
	ops := func(ctx context.Context) func() {
		return func() {
			q := tr.TraceQueryStart(ctx, nil, pgxlib.TraceQueryStartData{SQL: "SELECT id FROM users WHERE id = $1"})
			tr.TraceQueryEnd(q, nil, pgxlib.TraceQueryEndData{CommandTag: pgconn.NewCommandTag("SELECT 1")})
			b := tr.TraceBatchStart(ctx, nil, pgxlib.TraceBatchStartData{Batch: batch})
			tr.TraceBatchQuery(b, nil, pgxlib.TraceBatchQueryData{SQL: "SELECT id FROM users"})
			tr.TraceBatchEnd(b, nil, pgxlib.TraceBatchEndData{})
			c := tr.TraceCopyFromStart(ctx, nil, pgxlib.TraceCopyFromStartData{TableName: pgxlib.Identifier{"items"}})
			tr.TraceCopyFromEnd(c, nil, pgxlib.TraceCopyFromEndData{})
		}
	}
	if n := testing.AllocsPerRun(200, ops(ctx)); n != 0 {
		t.Errorf("idle query, batch and copy: %v allocations, want 0", n)
	}

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	parentCtx, parent := tp.Tracer("test").Start(ctx, "parent")
	ops(parentCtx)()
	spans := exp.GetSpans()
	want := []string{"SELECT users", "BATCH SELECT users", "COPY items"}
	if len(spans) != len(want) {
		t.Fatalf("traced: spans %v, want %v", spans.Snapshots(), want)
	}
	for i, s := range spans {
		if s.Name != want[i] || s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d: %q kind %v parent %v, want %q, a CLIENT child of the caller's", i, s.Name, s.SpanKind, s.Parent.SpanID(), want[i])
		}
	}
	// A query that started idle and ends traced (a TracerProvider set meanwhile) ends no span: not
	// the caller's, which its context carries.
	otel.SetTracerProvider(prev)
	if !otelsetup.Idle() {
		t.Fatal("the default TracerProvider was not restored")
	}
	q := tr.TraceQueryStart(parentCtx, nil, pgxlib.TraceQueryStartData{SQL: "SELECT 1"})
	otel.SetTracerProvider(tp)
	tr.TraceQueryEnd(q, nil, pgxlib.TraceQueryEndData{Err: context.Canceled})
	if !parent.IsRecording() {
		t.Error("the caller's span was ended by a query that made none")
	}
	parent.End()
}
