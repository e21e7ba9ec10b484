//go:build otelautoinst

// Package hooks marks the result of the vendored (and patched) uuid.Patched, so the test sees that
// the vendored copy is the one instrumented.
package hooks

import "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"

func patchedExit(call *api.CallContext, s string) {
	call.SetReturnVal(0, s+"+hooked")
}
