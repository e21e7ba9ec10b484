//go:build !otel_autoinst_panictest

package databasesql

// panicTest makes every hook panic, in builds tagged otel_autoinst_panictest only: the end-to-end
// tests use it to check that a failing hook never changes the instrumented program's behaviour.
const panicTest = false
