// Package stdlog holds the hook that adds the trace context to the lines of the standard library's
// log package (log.Printf, log.Println, log.Fatal, any *log.Logger): " trace_id=... span_id=...
// trace_flags=..." at the end of the line (before its newline) when a span is current in the
// goroutine (log has no context). A line written with no current span is byte-identical.
package stdlog

import (
	"bytes"
	"log"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/logcorr"
)

// outputOnEnter runs at the top of (*log.Logger).output, which every function and method of log
// calls with a function that appends the message; that function is wrapped to append the ids.
//
// Parameters: 0 the Logger, 1 pc, 2 calldepth, 3 appendOutput.
func outputOnEnter(call *api.CallContext, l *log.Logger, pc uintptr, calldepth int, appendOutput func([]byte) []byte) {
	if appendOutput == nil || !switches.On("stdlog") {
		return
	}
	sc := logcorr.Current(nil)
	if !sc.IsValid() {
		return
	}
	tid, sid, flags := logcorr.IDs(sc)
	call.SetParam(3, withIDs(appendOutput, tid, sid, flags))
}

// withIDs wraps appendOutput to append the ids after the message, before its newline if it has one.
func withIDs(appendOutput func([]byte) []byte, tid, sid, flags string) func([]byte) []byte {
	return func(b []byte) []byte {
		start := len(b)
		b = appendOutput(b)
		msg := b[start:]
		// log/slog's default handler writes through this function: its line already has the ids.
		if bytes.Contains(msg, []byte(logcorr.TraceIDKey+"="+tid)) {
			return b
		}
		newline := len(msg) > 0 && msg[len(msg)-1] == '\n'
		if newline {
			b = b[:len(b)-1]
		}
		b = append(b, " "+logcorr.TraceIDKey+"="+tid+" "+logcorr.SpanIDKey+"="+sid+
			" "+logcorr.TraceFlagsKey+"="+flags...)
		if newline {
			b = append(b, '\n')
		}
		return b
	}
}
