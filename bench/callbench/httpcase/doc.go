// Package httpcase holds the benchmark of the built-in net/http hooks (see httpcase_test.go).
// This file exists because the engine links hooks into a test binary only when the tested
// package has a non-test Go file.
package httpcase
