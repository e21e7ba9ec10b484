// Package gls is the goroutine-local context of instrumented programs: the span that is current in a
// goroutine, for the instrumented calls made in it without a context (http.Get, db.Query, a library
// that passes context.Background()) and in the goroutines it starts.
//
// How it works. The rule set next to this file (gls.yaml) adds a pointer field to the runtime's
// goroutine (runtime.g), copies it to every goroutine at its creation (runtime.newproc1: one pointer,
// nothing more) and clears it when a goroutine exits (runtime.gdestroy), so that a reused g holds
// nothing. Hooks that create spans call Enter when their span becomes current and Exit when it ends;
// hooks that start spans take their parent from Parent.
//
// What a goroutine holds is a pointer to an entry shared with the goroutines it started. Exit marks
// the entry ended and drops the span context it carried, so:
//   - an entry that ended is never used as a parent: a worker goroutine started during one request
//     and reused for later ones does not parent their spans under the first request;
//   - nothing grows with traffic: an entry is one small object per current span, referenced only by
//     the goroutines that run (or ran) under it, and a pooled worker keeps at most one ended entry
//     that references nothing;
//   - concurrent requests never cross-parent: each goroutine sees its own entry, or its creator's.
//
// Without the runtime support (a plain build of this package, its own tests, the rule set turned off
// at build time, or switched off at run time by OTEL_GO_DISABLED_INSTRUMENTATIONS=gls) nothing is goroutine-local: Parent returns its argument (or context.Background()), SpanContext
// the invalid span context, and Enter/Exit do nothing, at the cost of one load and one branch.
package gls

import (
	"context"
	"sync/atomic"
	"unsafe"

	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"
)

// entry is what a goroutine's runtime.g points at: the span current in it, shared by pointer with
// the goroutines it started.
type entry struct {
	// live points at sc while its span is current; nil once Exit ran (the span ended), so no
	// goroutine that copied the entry uses it as a parent.
	live atomic.Pointer[trace.SpanContext]
	// sc is the span context, in the entry so that Enter allocates one object; never written
	// after Enter (readers in other goroutines copy it after loading live).
	sc trace.SpanContext
}

// Token is what Enter returns for Exit: the entry it made current and the one it replaced.
type Token struct {
	e    *entry
	prev unsafe.Pointer
}

// runtimeSlot reaches the pointer field the rule set adds to runtime.g. The runtime file of the
// rule set (runtime_gls.go) defines this symbol with content (its accessors), which the linker
// prefers to this zero declaration; in a build without the rule set it stays zero and nothing is
// goroutine-local.
var runtimeSlot struct {
	get func() unsafe.Pointer
	set func(unsafe.Pointer)
}

// OTEL_GO_DISABLED_INSTRUMENTATIONS=gls (or OTEL_SDK_DISABLED=true, or an
// OTEL_GO_ENABLED_INSTRUMENTATIONS without gls) turns goroutine-local context off at run time.
func init() {
	if !switches.On("gls") {
		runtimeSlot.get, runtimeSlot.set = nil, nil
	}
}

// Active reports whether this build has the runtime support for goroutine-local context.
func Active() bool { return runtimeSlot.get != nil }

func current() *entry {
	if get := runtimeSlot.get; get != nil {
		return (*entry)(get())
	}
	return nil
}

// SpanContext returns the span context current in this goroutine (invalid when none or ended).
func SpanContext() trace.SpanContext {
	if e := current(); e != nil {
		if sc := e.live.Load(); sc != nil {
			return *sc
		}
	}
	return trace.SpanContext{}
}

// Parent returns ctx when it carries a valid span context; otherwise ctx with the span current in
// this goroutine (if any, and not ended) as its span. Never nil (nil ctx -> context.Background()).
func Parent(ctx context.Context) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	if sc := SpanContext(); sc.IsValid() {
		return trace.ContextWithSpanContext(ctx, sc)
	}
	return ctx
}

// Enter makes span (carried by ctx) current in this goroutine and returns a token; Exit(token)
// restores the previous one and marks the entry ended so no goroutine that copied it uses it as a
// parent any more. A ctx without a valid span context changes nothing (its token's Exit does
// nothing either).
func Enter(ctx context.Context) Token {
	set := runtimeSlot.set
	if set == nil || ctx == nil {
		return Token{}
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return Token{}
	}
	e := &entry{sc: sc}
	e.live.Store(&e.sc)
	prev := runtimeSlot.get()
	set(unsafe.Pointer(e))
	return Token{e: e, prev: prev}
}

// Exit ends what Enter(ctx) began: the entry is marked ended (for every goroutine that copied it)
// and, when it is still the one current in this goroutine, the previous one is current again. Exit
// from another goroutine, or out of order, only marks the entry ended: it never touches another
// goroutine's state. A zero Token is a no-op; calling Exit twice is harmless.
func Exit(t Token) {
	if t.e == nil {
		return
	}
	t.e.live.Store(nil)
	if runtimeSlot.get() == unsafe.Pointer(t.e) {
		runtimeSlot.set(t.prev)
	}
}
