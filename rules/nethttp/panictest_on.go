//go:build otel_autoinst_panictest

package nethttp

const panicTest = true
