// Package mongov2 holds the hooks that trace go.mongodb.org/mongo-driver/v2: every Client that
// mongo.Connect builds (through the unexported newClient) gets a command monitor of this package, which
// makes a CLIENT span per command following the OpenTelemetry database conventions for MongoDB
// (rules/internal/mongotrace). A monitor the program set is kept and runs too; a Client whose
// monitor is the official otelmongo's is left to it.
package mongov2

import (
	"context"
	"errors"
	"reflect"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/mongotrace"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/mongov2"

// disabled: OTEL_GO_DISABLED_INSTRUMENTATIONS names mongov2 (or OTEL_SDK_DISABLED=true, ...).
var disabled = !switches.On("mongov2")

// newClientOnEnter runs at the top of mongo's newClient (Connect calls it): the monitor of this
// package (which calls the program's) takes the place of the program's in what newClient merges.
// The program's options are never written: a single options value (which newClient uses as it
// is) is replaced by a copy; with several, one more holding only the monitor joins the end of the
// list, where it wins the merge.
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
	m := monitor(mongotrace.NewTracer(scope), theirs)
	if len(opts) == 1 && opts[0] != nil {
		cp := *opts[0]
		cp.Monitor = m
		callctx.Hidden(call).SetParam(0, []*options.ClientOptions{&cp})
		return
	}
	callctx.Hidden(call).SetParam(0, append(opts[:len(opts):len(opts)], &options.ClientOptions{Monitor: m}))
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
				t.Finished(e.RequestID, failure(e.Failure))
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

// failure is what a failed command's error tells: the server's code and code name when the server
// sent the error, else the error's Go type.
func failure(err error) *mongotrace.Failure {
	if err == nil {
		return &mongotrace.Failure{}
	}
	f := &mongotrace.Failure{Message: err.Error()}
	var de driver.Error
	if errors.As(err, &de) && (de.Code != 0 || de.Name != "") {
		if de.Code != 0 {
			f.Code = strconv.Itoa(int(de.Code))
		}
		f.CodeName = de.Name
		return f
	}
	f.GoType = reflect.TypeOf(err).String()
	return f
}
