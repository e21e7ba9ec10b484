// Package cases holds one function per rewrite case of the golden test.
package cases

import (
	"fmt"
	u "net/url"
)

// Plain: a plain function, full class (onEnter calls SetSkipCall).
func Plain(a int, b string) string {
	return fmt.Sprint(a, b)
}

type Counter struct{ n int }

// Pointer method, onEnter without SetSkipCall.
func (c *Counter) Add(d int) int {
	c.n += d
	return c.n
}

// Value method, no onExit.
func (c Counter) Value() int { return c.n }

// Named results, no onEnter.
func Named(x int) (sum int, err error) {
	sum = x * 2
	return
}

// Unnamed results and a blank parameter.
func Unnamed(_ int, s string) (string, error) {
	return s, nil
}

// Unnamed parameters.
func UnnamedParams(int, string) {}

// Variadic.
func Variadic(prefix string, xs ...int) int {
	return len(prefix) + len(xs)
}

// A qualified type from an import with a local name.
func Host(v *u.URL) string {
	return v.Host
}

// Generic function.
func Map[T any, R fmt.Stringer](xs []T, f func(T) R) []R {
	out := make([]R, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

type Stack[E comparable] struct{ items []E }

// Generic method.
func (s *Stack[E]) Push(e E) int {
	s.items = append(s.items, e)
	return len(s.items)
}

// Two rules on one function.
func Twice(n int) int {
	return n + 1
}

// Ignored: excluded with the directive.
//
//otel:ignore
func Ignored(n int) int {
	return n
}

// A one-line body.
func OneLine() bool { return true }

// No onExit, but onEnter may skip the call.
func Skippable(n int) (int, error) {
	return n, nil
}
