//go:build otel_autoinst_panictest

package databasesql

const panicTest = true
