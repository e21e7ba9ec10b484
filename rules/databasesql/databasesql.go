// Package databasesql holds the hooks that trace database/sql: a CLIENT span for every query,
// exec, prepare, begin, commit and rollback made through a *sql.DB, *sql.Conn, *sql.Tx or
// *sql.Stmt, parented on the context passed in (for Commit and Rollback, on the context the
// transaction began with), with the driver's system name, the statement text and errors.
//
// Only the Context variants are hooked: Query, QueryRow, QueryRowContext, Exec, Prepare and Begin
// all call them, so each call makes exactly one span.
package databasesql

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/databasesql"

// disabled: OTEL_GO_DISABLED_INSTRUMENTATIONS names databasesql (or OTEL_GO_ENABLED_INSTRUMENTATIONS
// does not, or OTEL_SDK_DISABLED=true): the hooks return at once.
var disabled = !switches.On("databasesql")

// callState goes from an onEnter hook to the matching onExit hook.
type callState struct {
	span   trace.Span // nil when no span was started
	gls    gls.Token  // the span is current while the call runs (the driver's own calls)
	system string
	query  string
	ctx    context.Context
	server []attribute.KeyValue // server.address, server.port, db.namespace (server.go)
	// operation and start are for db.client.operation.duration (metrics.go).
	operation string
	start     time.Time
}

// What is known of objects that outlive the call that made them, for the calls made on them later
// without a *sql.DB at hand. Entries go when the object is closed or its transaction ends.
type txInfo struct {
	system string
	ctx    context.Context // BeginTx's: the parent of COMMIT and ROLLBACK
	server []attribute.KeyValue
	stop   func() bool // stops the clean-up registered on ctx
}

type stmtInfo struct {
	system string
	query  string
}

var (
	conns sync.Map // *sql.Conn -> string (system)
	txs   sync.Map // *sql.Tx -> *txInfo
	stmts sync.Map // *sql.Stmt -> *stmtInfo
)

// start begins a CLIENT span and keeps it for onExit. Its parent is ctx's span, else the span
// current in the calling goroutine (db.Query, tx.Exec and friends pass context.Background()).
func start(call *api.CallContext, ctx context.Context, system, operation, query string) {
	if otelsetup.Idle() && otelsetup.Meter(scope) == nil {
		return // nothing would be seen: the query costs what it costs plainly
	}
	ctx = gls.Parent(ctx)
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, semconv.DBSystemNameKey.String(system))
	if operation != "" {
		attrs = append(attrs, semconv.DBOperationName(operation))
	}
	if query != "" {
		attrs = append(attrs, semconv.DBQueryText(query))
	}
	name := operation
	if name == "" {
		name = system
	}
	spanCtx, span := otelsetup.Tracer(scope).Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...))
	callctx.Hidden(call).SetData(&callState{span: span, system: system, query: query, ctx: ctx,
		operation: operation, start: startTime(), gls: gls.Enter(spanCtx)})
	if panicTest {
		panic("otel-go-autoinst test build: database/sql onEnter panics on purpose")
	}
}

// finish records err and ends the span onEnter started.
func finish(call *api.CallContext, err error) *callState {
	if panicTest {
		panic("otel-go-autoinst test build: database/sql onExit panics on purpose")
	}
	st, _ := callctx.Hidden(call).GetData().(*callState)
	if st == nil {
		return nil
	}
	gls.Exit(st.gls)
	if st.span != nil {
		if err != nil {
			st.span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
			st.span.SetStatus(codes.Error, err.Error())
		}
		st.span.End()
		recordDuration(st.start, st.system, st.operation, err) // metrics.go
	}
	return st
}

// ---- *sql.DB

func dbQueryOnEnter(call *api.CallContext, db *sql.DB, ctx context.Context, query string, args []any) {
	if disabled {
		return
	}
	start(call, ctx, dbSystem(db), operationName(query), query)
	withServer(call, serverOf(db))
}

func dbExecOnEnter(call *api.CallContext, db *sql.DB, ctx context.Context, query string, args []any) {
	if disabled {
		return
	}
	start(call, ctx, dbSystem(db), operationName(query), query)
	withServer(call, serverOf(db))
}

func dbPrepareOnEnter(call *api.CallContext, db *sql.DB, ctx context.Context, query string) {
	if disabled {
		return
	}
	start(call, ctx, dbSystem(db), "PREPARE", query)
	withServer(call, serverOf(db))
}

func dbBeginOnEnter(call *api.CallContext, db *sql.DB, ctx context.Context, opts *sql.TxOptions) {
	if disabled {
		return
	}
	start(call, ctx, dbSystem(db), "BEGIN", "")
	withServer(call, serverOf(db))
}

// dbConnOnEnter/Exit remember the system of a *sql.Conn taken from a *sql.DB.
func dbConnOnEnter(call *api.CallContext, db *sql.DB, ctx context.Context) {
	if disabled {
		return
	}
	callctx.Hidden(call).SetData(&callState{system: dbSystem(db)})
}

func dbConnOnExit(call *api.CallContext, conn *sql.Conn, err error) {
	st := finish(call, nil)
	if st != nil && conn != nil && err == nil {
		conns.Store(conn, st.system)
	}
}

// ---- *sql.Conn

func connSystem(c *sql.Conn) string {
	if s, ok := conns.Load(c); ok {
		return s.(string)
	}
	return otherSQL
}

func connQueryOnEnter(call *api.CallContext, c *sql.Conn, ctx context.Context, query string, args []any) {
	if disabled {
		return
	}
	start(call, ctx, connSystem(c), operationName(query), query)
}

func connExecOnEnter(call *api.CallContext, c *sql.Conn, ctx context.Context, query string, args []any) {
	if disabled {
		return
	}
	start(call, ctx, connSystem(c), operationName(query), query)
}

func connPrepareOnEnter(call *api.CallContext, c *sql.Conn, ctx context.Context, query string) {
	if disabled {
		return
	}
	start(call, ctx, connSystem(c), "PREPARE", query)
}

func connBeginOnEnter(call *api.CallContext, c *sql.Conn, ctx context.Context, opts *sql.TxOptions) {
	if disabled {
		return
	}
	start(call, ctx, connSystem(c), "BEGIN", "")
}

func connCloseOnEnter(call *api.CallContext, c *sql.Conn) {
	if disabled {
		return
	}
	conns.Delete(c)
}

// ---- *sql.Tx

// beginOnExit remembers the new transaction's system and context for its COMMIT or ROLLBACK (and
// its statements run without a traced context): BeginTx's context, or BEGIN's span when that
// context has none. The entry goes when the transaction ends, or when its context is done
// (database/sql then rolls it back by itself).
func beginOnExit(call *api.CallContext, tx *sql.Tx, err error) {
	st := finish(call, err)
	if st == nil || tx == nil || err != nil {
		return
	}
	ctx := st.ctx
	if !trace.SpanContextFromContext(ctx).IsValid() && st.span != nil && st.span.SpanContext().IsValid() {
		// No trace around the transaction: its statements, COMMIT and ROLLBACK join BEGIN's.
		ctx = trace.ContextWithSpan(ctx, st.span)
	}
	info := &txInfo{system: st.system, ctx: ctx, server: st.server}
	txs.Store(tx, info)
	info.stop = context.AfterFunc(st.ctx, func() { txs.CompareAndDelete(tx, info) })
}

// txContext is the parent of a call in a transaction: ctx when it carries a span, else the
// context the transaction began with (tx.Exec and tx.Query pass context.Background()).
func txContext(tx *sql.Tx, ctx context.Context) (context.Context, string) {
	v, ok := txs.Load(tx)
	if !ok {
		return ctx, otherSQL
	}
	info := v.(*txInfo)
	if ctx == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return info.ctx, info.system
	}
	return ctx, info.system
}

func txQueryOnEnter(call *api.CallContext, tx *sql.Tx, ctx context.Context, query string, args []any) {
	if disabled {
		return
	}
	ctx, system := txContext(tx, ctx)
	start(call, ctx, system, operationName(query), query)
	withServer(call, txServer(tx))
}

func txExecOnEnter(call *api.CallContext, tx *sql.Tx, ctx context.Context, query string, args []any) {
	if disabled {
		return
	}
	ctx, system := txContext(tx, ctx)
	start(call, ctx, system, operationName(query), query)
	withServer(call, txServer(tx))
}

func txPrepareOnEnter(call *api.CallContext, tx *sql.Tx, ctx context.Context, query string) {
	if disabled {
		return
	}
	ctx, system := txContext(tx, ctx)
	start(call, ctx, system, "PREPARE", query)
	withServer(call, txServer(tx))
}

// txEnd starts the COMMIT or ROLLBACK span of a transaction that is still open. A Rollback after
// Commit (the usual `defer tx.Rollback()`) only returns sql.ErrTxDone: it gets no span.
func txEnd(call *api.CallContext, tx *sql.Tx, operation string) {
	v, ok := txs.LoadAndDelete(tx)
	if !ok {
		return
	}
	info := v.(*txInfo)
	if info.stop != nil {
		info.stop()
	}
	start(call, info.ctx, info.system, operation, "")
	withServer(call, info.server)
}

func txCommitOnEnter(call *api.CallContext, tx *sql.Tx) {
	if disabled {
		return
	}
	txEnd(call, tx, "COMMIT")
}

func txRollbackOnEnter(call *api.CallContext, tx *sql.Tx) {
	if disabled {
		return
	}
	txEnd(call, tx, "ROLLBACK")
}

func txEndOnExit(call *api.CallContext, err error) { finish(call, err) }

// txStmtOnEnter/Exit carry what is known of a statement to its transaction-specific copy.
func txStmtOnEnter(call *api.CallContext, tx *sql.Tx, ctx context.Context, stmt *sql.Stmt) {
	if disabled {
		return
	}
	if v, ok := stmts.Load(stmt); ok {
		callctx.Hidden(call).SetData(v)
	}
}

func txStmtOnExit(call *api.CallContext, stmt *sql.Stmt) {
	if info, ok := callctx.Hidden(call).GetData().(*stmtInfo); ok && stmt != nil {
		stmts.Store(stmt, info)
	}
}

// ---- *sql.Stmt

// prepareOnExit remembers the statement's system and text for its later executions.
func prepareOnExit(call *api.CallContext, stmt *sql.Stmt, err error) {
	st := finish(call, err)
	if st != nil && stmt != nil && err == nil {
		stmts.Store(stmt, &stmtInfo{system: st.system, query: st.query})
	}
}

func stmtInfoOf(s *sql.Stmt) *stmtInfo {
	if v, ok := stmts.Load(s); ok {
		return v.(*stmtInfo)
	}
	return &stmtInfo{system: otherSQL}
}

func stmtQueryOnEnter(call *api.CallContext, s *sql.Stmt, ctx context.Context, args []any) {
	if disabled {
		return
	}
	info := stmtInfoOf(s)
	start(call, ctx, info.system, operationName(info.query), info.query)
}

func stmtExecOnEnter(call *api.CallContext, s *sql.Stmt, ctx context.Context, args []any) {
	if disabled {
		return
	}
	info := stmtInfoOf(s)
	start(call, ctx, info.system, operationName(info.query), info.query)
}

func stmtCloseOnEnter(call *api.CallContext, s *sql.Stmt) {
	if disabled {
		return
	}
	stmts.Delete(s)
}

// ---- results

func queryOnExit(call *api.CallContext, rows *sql.Rows, err error) { finish(call, err) }

func execOnExit(call *api.CallContext, res sql.Result, err error) { finish(call, err) }

// ---- helpers

const otherSQL = "other_sql"

var systemsByDriver sync.Map // reflect.Type -> string

// driverSystems maps a driver's package path (prefix) to db.system.name.
var driverSystems = []struct{ prefix, system string }{
	{"modernc.org/sqlite", "sqlite"},
	{"github.com/mattn/go-sqlite3", "sqlite"},
	{"github.com/glebarez/go-sqlite", "sqlite"},
	{"github.com/ncruces/go-sqlite3", "sqlite"},
	{"zombiezen.com/go/sqlite", "sqlite"},
	{"github.com/lib/pq", "postgresql"},
	{"github.com/jackc/pgx", "postgresql"},
	{"github.com/go-sql-driver/mysql", "mysql"},
	{"github.com/microsoft/go-mssqldb", "microsoft.sql_server"},
	{"github.com/denisenkom/go-mssqldb", "microsoft.sql_server"},
	{"github.com/sijms/go-ora", "oracle.db"},
	{"github.com/godror/godror", "oracle.db"},
	{"github.com/mattn/go-oci8", "oracle.db"},
	{"github.com/ClickHouse/clickhouse-go", "clickhouse"},
	{"github.com/trinodb/trino-go-client", "trino"},
	{"github.com/ibmdb/go_ibm_db", "ibm.db2"},
	{"github.com/nakagami/firebirdsql", "firebirdsql"},
	{"github.com/googleapis/go-sql-spanner", "gcp.spanner"},
	{"github.com/SAP/go-hdb", "sap.hana"},
}

// dbSystem is db.system.name for db's driver, from the driver's package.
func dbSystem(db *sql.DB) string {
	if db == nil {
		return otherSQL
	}
	t := reflect.TypeOf(db.Driver())
	if t == nil {
		return otherSQL
	}
	if s, ok := systemsByDriver.Load(t); ok {
		return s.(string)
	}
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	system := otherSQL
	for _, d := range driverSystems {
		if base.PkgPath() == d.prefix || strings.HasPrefix(base.PkgPath(), d.prefix+"/") {
			system = d.system
			break
		}
	}
	systemsByDriver.Store(t, system)
	return system
}

// operationName is db.operation.name: the statement's first keyword (SELECT, INSERT, WITH, ...),
// after blanks and comments, upper-cased; "" when there is none.
func operationName(q string) string {
	i := 0
	for i < len(q) {
		switch c := q[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ';':
			i++
		case strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return ""
			}
			i += j + 1
		case strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return ""
			}
			i += j + 4
		default:
			j := i
			for j < len(q) && j-i < 32 && isLetter(q[j]) {
				j++
			}
			return strings.ToUpper(q[i:j])
		}
	}
	return ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t == nil {
		return "_OTHER"
	}
	return t.String()
}
