package databasesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

// A minimal driver: every statement succeeds except those reading "FAIL".
type fakeDriver struct{}
type fakeConn struct{}
type fakeStmt struct{ q string }
type fakeTx struct{}
type fakeRows struct{}

func (fakeDriver) Open(string) (driver.Conn, error)    { return fakeConn{}, nil }
func (fakeConn) Prepare(q string) (driver.Stmt, error) { return fakeStmt{q}, nil }
func (fakeConn) Close() error                          { return nil }
func (fakeConn) Begin() (driver.Tx, error)             { return fakeTx{}, nil }
func (s fakeStmt) Close() error                        { return nil }
func (s fakeStmt) NumInput() int                       { return -1 }
func (s fakeStmt) Exec([]driver.Value) (driver.Result, error) {
	if s.q == "FAIL" {
		return nil, errors.New("syntax error")
	}
	return driver.RowsAffected(1), nil
}
func (s fakeStmt) Query([]driver.Value) (driver.Rows, error) { return fakeRows{}, nil }
func (fakeTx) Commit() error                                 { return nil }
func (fakeTx) Rollback() error                               { return nil }
func (fakeRows) Columns() []string                           { return []string{"x"} }
func (fakeRows) Close() error                                { return nil }
func (fakeRows) Next([]driver.Value) error                   { return io.EOF }

var (
	once     sync.Once
	recorder = tracetest.NewSpanRecorder()
	db       *sql.DB
)

func setup(t *testing.T) {
	t.Helper()
	once.Do(func() {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
		sql.Register("fake", fakeDriver{})
		db, _ = sql.Open("fake", "")
	})
	recorder.Reset()
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.Emit()
	}
	return m
}

func newCall() *api.CallContext { return api.NewCallContext("database/sql", "f", nil, nil) }

func TestQueryExecSpans(t *testing.T) {
	setup(t)
	ctx, parent := otel.Tracer("t").Start(context.Background(), "parent")

	call := newCall()
	dbQueryOnEnter(call, db, ctx, "  /* c */ select x from t where id = ?", []any{1})
	rows, err := db.QueryContext(ctx, "select x from t where id = ?", 1)
	queryOnExit(call, rows, err)
	rows.Close()

	call = newCall()
	dbExecOnEnter(call, db, ctx, "FAIL", nil)
	res, err := db.ExecContext(ctx, "FAIL")
	execOnExit(call, res, err)
	parent.End()

	spans := recorder.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	q, e := spans[0], spans[1]
	if q.Name() != "SELECT" || q.SpanKind() != trace.SpanKindClient || q.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("query span %q %v parent %v", q.Name(), q.SpanKind(), q.Parent().SpanID())
	}
	a := attrs(q)
	if a["db.system.name"] != "other_sql" || a["db.operation.name"] != "SELECT" ||
		a["db.query.text"] != "  /* c */ select x from t where id = ?" {
		t.Errorf("query attributes %v", a)
	}
	if e.Status().Code != codes.Error || attrs(e)["error.type"] != "*errors.errorString" || e.Status().Description != "syntax error" {
		t.Errorf("exec error not recorded: %v %v", e.Status(), attrs(e))
	}
}

func TestTransactionSpans(t *testing.T) {
	setup(t)
	call := newCall()
	dbBeginOnEnter(call, db, context.Background(), nil)
	tx, err := db.BeginTx(context.Background(), nil)
	beginOnExit(call, tx, err)

	call = newCall()
	txExecOnEnter(call, tx, context.Background(), "INSERT INTO t VALUES (1)", nil)
	execOnExit(call, nil, nil)

	call = newCall()
	txCommitOnEnter(call, tx)
	txEndOnExit(call, tx.Commit())

	call = newCall() // the deferred Rollback after Commit: no span
	txRollbackOnEnter(call, tx)
	txEndOnExit(call, tx.Rollback())

	spans := recorder.Ended()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
	}
	if len(spans) != 3 || names[0] != "BEGIN" || names[1] != "INSERT" || names[2] != "COMMIT" {
		t.Fatalf("spans %v", names)
	}
	begin := spans[0].SpanContext().SpanID()
	if spans[1].Parent().SpanID() != begin || spans[2].Parent().SpanID() != begin {
		t.Error("a transaction without a trace around it groups under BEGIN")
	}
	if _, ok := txs.Load(tx); ok {
		t.Error("the transaction's entry must go when it ends")
	}
}

func TestTransactionUnderARequestSpan(t *testing.T) {
	setup(t)
	ctx, parent := otel.Tracer("t").Start(context.Background(), "request")
	call := newCall()
	dbBeginOnEnter(call, db, ctx, nil)
	tx, err := db.BeginTx(ctx, nil)
	beginOnExit(call, tx, err)
	call = newCall()
	txRollbackOnEnter(call, tx)
	txEndOnExit(call, tx.Rollback())
	parent.End()
	spans := recorder.Ended()
	if len(spans) != 3 || spans[1].Name() != "ROLLBACK" || spans[1].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("ROLLBACK must be the request's child: %v", spans)
	}
}

func TestAbandonedTransactionForgotten(t *testing.T) {
	setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	call := newCall()
	dbBeginOnEnter(call, db, ctx, nil)
	tx, err := db.BeginTx(ctx, nil)
	beginOnExit(call, tx, err)
	if _, ok := txs.Load(tx); !ok {
		t.Fatal("no entry")
	}
	cancel()
	for i := 0; i < 1000; i++ {
		if _, ok := txs.Load(tx); !ok {
			return
		}
		runtimeGosched()
	}
	t.Error("the entry of a transaction whose context is done must go")
}

func TestPreparedStatements(t *testing.T) {
	setup(t)
	ctx := context.Background()
	call := newCall()
	dbPrepareOnEnter(call, db, ctx, "UPDATE t SET x = ?")
	stmt, err := db.PrepareContext(ctx, "UPDATE t SET x = ?")
	prepareOnExit(call, stmt, err)

	call = newCall()
	stmtExecOnEnter(call, stmt, ctx, []any{1})
	execOnExit(call, nil, nil)

	stmtCloseOnEnter(newCall(), stmt)
	stmt.Close()
	spans := recorder.Ended()
	if len(spans) != 2 || spans[0].Name() != "PREPARE" || spans[1].Name() != "UPDATE" ||
		attrs(spans[1])["db.query.text"] != "UPDATE t SET x = ?" {
		t.Fatalf("spans %v", spans)
	}
	if _, ok := stmts.Load(stmt); ok {
		t.Error("a closed statement must be forgotten")
	}
}

func TestOnExitWithoutOnEnter(t *testing.T) {
	// A failed onEnter leaves no data: onExit must do nothing.
	queryOnExit(newCall(), nil, errors.New("x"))
	txEndOnExit(newCall(), nil)
	dbConnOnExit(newCall(), nil, nil)
}

func TestOperationName(t *testing.T) {
	for q, want := range map[string]string{
		"select 1":                    "SELECT",
		"\n-- hi\n  insert into t":    "INSERT",
		"/* a */ (SELECT 1)":          "SELECT",
		"WITH x AS (SELECT 1) SELECT": "WITH",
		"":                            "",
		"-- only a comment":           "",
		"/* unterminated":             "",
	} {
		if got := operationName(q); got != want {
			t.Errorf("operationName(%q) = %q, want %q", q, got, want)
		}
	}
}
