// Package mongo holds the hooks that trace go.mongodb.org/mongo-driver (v1): every Client that
// mongo.NewClient builds (mongo.Connect calls it) gets a command monitor of this package, which
// makes a CLIENT span per command following the OpenTelemetry database conventions for MongoDB
// (rules/internal/mongotrace). A monitor the program set is kept and runs too; a Client whose
// monitor is the official otelmongo's is left to it.
package mongo

import (
	"context"
	"reflect"
	"strconv"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/mongotrace"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/mongo"

// disabled: OTEL_GO_DISABLED_INSTRUMENTATIONS names mongo (or OTEL_SDK_DISABLED=true, ...).
var disabled = !switches.On("mongo")

// newClientOnEnter runs at the top of mongo.NewClient: one more options value, holding only the
// monitor of this package (which calls the program's), joins the end of the list, where it wins
// the merge. The program's options are never written.
//
// Parameters: 0 the options (variadic, as a slice).
func newClientOnEnter(call *api.CallContext, opts []*options.ClientOptions) {
	if disabled {
		return
	}
	var theirs *event.CommandMonitor
	for _, o := range opts {
		if o != nil && o.Monitor != nil {
			theirs = o.Monitor
		}
	}
	if theirs != nil && (isOurs(theirs) ||
		mongotrace.IsOtelmongo(theirs.Started) || mongotrace.IsOtelmongo(theirs.Succeeded)) {
		return
	}
	ours := &options.ClientOptions{Monitor: monitor(mongotrace.NewTracer(scope), theirs)}
	callctx.Hidden(call).SetParam(0, append(opts[:len(opts):len(opts)], ours))
}

// ourStarted is the code of the Started function of this package's monitors (one function literal,
// whatever the closure holds): a monitor that has it is already ours. The driver builds the Clients
// of client-side encryption from a copy of a Client's options, monitor included, through the same
// function: they share its monitor rather than wrap it again (which would make two spans a command).
var ourStarted = reflect.ValueOf(monitor(nil, nil).Started).Pointer()

func isOurs(m *event.CommandMonitor) bool {
	return m.Started != nil && reflect.ValueOf(m.Started).Pointer() == ourStarted
}

// monitor is the command monitor of one Client: t's spans around theirs (which may be nil or have
// nil functions). Theirs starts first and ends last, so a span never outlives a panic of theirs.
// Never inlined: an inlined copy would have function literals of its own, unknown to isOurs.
//
//go:noinline
func monitor(t *mongotrace.Tracer, theirs *event.CommandMonitor) *event.CommandMonitor {
	if theirs == nil {
		theirs = &event.CommandMonitor{}
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			if theirs.Started != nil {
				theirs.Started(ctx, e)
			}
			if e != nil && !mongotrace.Idle() {
				t.Started(ctx, mongotrace.Command{
					RequestID:    e.RequestID,
					Database:     e.DatabaseName,
					Name:         e.CommandName,
					Collection:   collection(e.CommandName, e.Command),
					ConnectionID: e.ConnectionID,
				})
			}
		},
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			if e != nil && !mongotrace.Idle() {
				t.Finished(e.RequestID, writeFailure(e.Reply))
			}
			if theirs.Succeeded != nil {
				theirs.Succeeded(ctx, e)
			}
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			if e != nil && !mongotrace.Idle() {
				f := mongotrace.ParseFailure(e.Failure)
				t.Finished(e.RequestID, &f)
			}
			if theirs.Failed != nil {
				theirs.Failed(ctx, e)
			}
		},
	}
}

// collection is the collection a command names: the value of its first element when that is a
// string (find, insert, update, delete, aggregate, count, distinct, findAndModify, create, ...),
// getMore's "collection" field; "" otherwise (ping, aggregate: 1, or a redacted command).
func collection(name string, cmd bson.Raw) string {
	if len(cmd) == 0 {
		return ""
	}
	if name == "getMore" {
		if v, err := cmd.LookupErr("collection"); err == nil {
			s, _ := v.StringValueOK()
			return s
		}
		return ""
	}
	first, err := cmd.IndexErr(0)
	if err != nil {
		return ""
	}
	s, _ := first.Value().StringValueOK()
	return s
}

// writeFailure is the first write error (or the write concern error) of a reply the server sent
// with ok:1: the command reached the server but its write did not happen (a duplicate key, ...).
func writeFailure(reply bson.Raw) *mongotrace.Failure {
	if len(reply) == 0 {
		return nil
	}
	if v, err := reply.LookupErr("writeErrors", "0"); err == nil {
		if doc, ok := v.DocumentOK(); ok {
			return failureOf(doc)
		}
	}
	if v, err := reply.LookupErr("writeConcernError"); err == nil {
		if doc, ok := v.DocumentOK(); ok {
			return failureOf(doc)
		}
	}
	return nil
}

func failureOf(doc bson.Raw) *mongotrace.Failure {
	f := &mongotrace.Failure{}
	if v, err := doc.LookupErr("code"); err == nil {
		if n, ok := v.AsInt64OK(); ok {
			f.Code = strconv.FormatInt(n, 10)
		}
	}
	if v, err := doc.LookupErr("codeName"); err == nil {
		f.CodeName, _ = v.StringValueOK()
	}
	if v, err := doc.LookupErr("errmsg"); err == nil {
		f.Message, _ = v.StringValueOK()
	}
	return f
}
