package otelsetup

import (
	"os"
	"sync/atomic"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

// The hooks of otelsetup.yaml. They are reached from the instrumented functions by //go:linkname.

// mainOnExit runs when main.main returns (or panics): the program is ending, flush the spans.
func mainOnExit(call *api.CallContext) {
	Shutdown()
}

// exitOnEnter runs at the top of os.Exit (log.Fatal, a test binary's end, ...): flush first.
func exitOnEnter(call *api.CallContext, code int) {
	Shutdown()
}

// signalNotifyOnEnter records that the program itself handles SIGINT or SIGTERM (signal.Notify,
// signal.NotifyContext): then the program decides how to end, and the flush happens when it does
// (main's return or os.Exit); otherwise this package flushes and re-raises the signal.
func signalNotifyOnEnter(call *api.CallContext, c chan<- os.Signal, sig []os.Signal) {
	if c == nil {
		return
	}
	if ours := ourSignalChan.Load(); ours != nil && c == (chan<- os.Signal)(*ours) {
		return
	}
	if len(sig) == 0 { // Notify with no signals relays all of them
		userHandlesInterrupt.Store(true)
		userHandlesTerminate.Store(true)
		return
	}
	for _, s := range sig {
		markUserHandled(s)
	}
}

var (
	ourSignalChan        atomic.Pointer[chan os.Signal]
	userHandlesInterrupt atomic.Bool
	userHandlesTerminate atomic.Bool
)
