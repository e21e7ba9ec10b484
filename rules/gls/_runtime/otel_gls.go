// The runtime side of rules/gls, added to package runtime by gls.yaml (this folder's leading "_"
// keeps it out of the rules module's own packages).
//
// The runtime cannot import hooks, and hooks cannot name runtime internals without the runtime's
// consent (Go 1.23's -checklinkname). So the runtime pushes: it defines, with content, the symbol of
// gls.runtimeSlot, which package gls declares as a zero variable; the linker keeps the definition
// with content. A build without this file (the rules module's own tests) keeps the zero one, and
// package gls then does nothing goroutine-local.

package runtime

import "unsafe"

//go:linkname otelGLSSlot github.com/otel-go-autoinst/otel-go-autoinst/rules/gls.runtimeSlot
var otelGLSSlot = struct {
	get func() unsafe.Pointer
	set func(unsafe.Pointer)
}{otelGLSGet, otelGLSSet}

// otelGLSGet is the goroutine-local pointer of the calling goroutine.
func otelGLSGet() unsafe.Pointer { return getg().otelGLS }

// otelGLSSet sets it; goroutines started afterwards get a copy (newproc1).
func otelGLSSet(p unsafe.Pointer) { getg().otelGLS = p }
