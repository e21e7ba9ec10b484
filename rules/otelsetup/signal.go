//go:build !plan9

package otelsetup

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

func markUserHandled(s os.Signal) {
	switch s {
	case os.Interrupt:
		userHandlesInterrupt.Store(true)
	case syscall.SIGTERM:
		userHandlesTerminate.Store(true)
	}
}

func userHandles(s os.Signal) bool {
	switch s {
	case os.Interrupt:
		return userHandlesInterrupt.Load()
	case syscall.SIGTERM:
		return userHandlesTerminate.Load()
	}
	return true
}

// installSignalFlush makes SIGINT and SIGTERM flush the spans before the program dies of them as it
// would have without instrumentation. Signals the program ignores stay ignored. It runs once, when
// the first sampled span ends (startExport): a program with nothing to export keeps the signal
// handling it had.
func installSignalFlush() {
	if signalFlushInstalled.Swap(true) { // traces and metrics both ask; one handler is enough
		return
	}
	var sigs []os.Signal
	for _, s := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		if !signal.Ignored(s) {
			sigs = append(sigs, s)
		}
	}
	if len(sigs) == 0 {
		return
	}
	ch := make(chan os.Signal, 2)
	ourSignalChan.Store(&ch)
	signal.Notify(ch, sigs...)
	go func() {
		for s := range ch {
			if userHandles(s) {
				continue // the program ends itself; main's return or os.Exit flushes
			}
			Shutdown()
			// Back to the default action, then die of the same signal, as the program would have.
			signal.Reset(s)
			if p, err := os.FindProcess(os.Getpid()); err == nil && p.Signal(s) == nil {
				time.Sleep(time.Second)
			}
			code := 1
			if n, ok := s.(syscall.Signal); ok {
				code = 128 + int(n)
			}
			os.Exit(code)
		}
	}()
}
