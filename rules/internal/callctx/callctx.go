// Package callctx keeps a hook's CallContext, and the instrumented function's parameters it points
// at, on the stack.
//
// The trampolines keep them on the stack when the compiler says the hooks do not leak the context
// (src/otel_go_autoinst/trampoline.py); otherwise both go to the heap, on every instrumented call,
// traced or not. The compiler's analysis is field-insensitive: GetData (which returns the data
// field) and GetParam/SetParam (reflection on the params slots) make it say "leaking param content:
// call", though none of them lets a pointer into the call, or into the frame its slots point at,
// out of the hook. A hook that reaches call only through Hidden must keep to what makes that true:
// never store call, nor a slot of it; store through it (SetData, SetParam) only heap values of its
// own; read through it (GetData, GetParam) values, never the address of a parameter, and never keep
// what GetParam returns (a pointer the caller passed may point into the caller's frame, which the
// compiler kept there trusting the hook's verdict).
package callctx

import (
	"unsafe"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

// Hidden returns call, hidden from escape analysis.
func Hidden(call *api.CallContext) *api.CallContext {
	return (*api.CallContext)(noescape(unsafe.Pointer(call)))
}

// noescape is the runtime's own (published for linkname, go.dev/issue/67401): p, unchanged, out of
// sight of escape analysis.
//
//go:linkname noescape runtime.noescape
//go:noescape
func noescape(p unsafe.Pointer) unsafe.Pointer
