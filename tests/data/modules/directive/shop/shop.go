// Package shop is traced with //otel:span only: no rule file.
package shop

import (
	"context"
	"errors"
	"strings"
)

// Store is a receiver for a traced method.
type Store struct{ items []string }

// Save is traced (a pointer-receiver method) with attributes; its ctx comes from its caller.
//
//otel:span store.kind=memory note="two words"
func (s *Store) Save(ctx context.Context, item string) error {
	s.items = append(s.items, item)
	return nil
}

// Len is a value-receiver method, traced under the span current in the goroutine.
//
//otel:span
func (s Store) Len() int { return len(s.items) }

// Validate returns an error for an empty item: recorded on its span.
//
//otel:span name=shop.validate
func Validate(ctx context.Context, item string) (bool, error) {
	if strings.TrimSpace(item) == "" {
		return false, errors.New("empty item")
	}
	return true, nil
}

// Map is a generic function, traced without a context.
//
//otel:span
func Map[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

// Stack is a generic type with a traced method.
type Stack[T any] struct{ items []T }

// Push is a method of a generic type.
//
//otel:span
func (s *Stack[T]) Push(v T) int {
	s.items = append(s.items, v)
	return len(s.items)
}

// Skipped carries both directives: //otel:ignore wins.
//
//otel:span
//otel:ignore
func Skipped() string { return "skipped" }
