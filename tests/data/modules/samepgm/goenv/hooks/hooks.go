//go:build otelautoinst

// Package hooks is a user's own hooks package: only the instrumented build compiles it, and its
// tests run only under `otel-go-autoinst test`.
package hooks

import "github.com/otel-go-autoinst/otel-go-autoinst/rules/api"

func twiceEnter(call *api.CallContext, n int) {}
