// Package target holds the functions the probe rules instrument.
package target

import (
	"cmp"
	"fmt"
	"runtime"
	"strings"
)

// Greeter greets.
type Greeter struct{ Name string }

// Greet is observed: the hooks see the receiver and the argument.
func (g *Greeter) Greet(who string) (string, error) {
	return g.Name + " greets " + who, nil
}

// Hello has a value receiver.
func (g Greeter) Hello() string {
	return "hello from " + g.Name
}

// Misuse has hooks that call the CallContext with values of the wrong type.
func Misuse(s string) string {
	return "misuse:" + s
}

// Add gets its second argument replaced by onEnter (SetParam).
func Add(a, b int) int {
	return a + b
}

// Compute is skipped by onEnter (SetSkipCall + SetReturnVal) when x is 42.
func Compute(x int) (int, error) {
	fmt.Println("OUT: Compute body ran", x)
	return x * 2, nil
}

// Double gets its result replaced by onExit (SetReturnVal).
func Double(x int) int {
	return x * 2
}

// Carry has onEnter pass data to onExit.
func Carry(x int) int {
	return x + 1
}

// Fragile has hooks that panic.
func Fragile(s string) string {
	return "fragile:" + strings.ToLower(s)
}

// Nested has two rules on it.
func Nested(s string) string {
	fmt.Println("OUT: Nested body", s)
	return s
}

// Max is generic.
func Max[T cmp.Ordered](a, b T) T {
	if a > b {
		return a
	}
	return b
}

// Box is a generic type.
type Box[T any] struct{ V T }

// Swap is a generic method: stores v and returns the old value.
func (b *Box[T]) Swap(v T) T {
	old := b.V
	b.V = v
	return old
}

// Sum is variadic.
func Sum(prefix string, nums ...int) string {
	total := 0
	for _, n := range nums {
		total += n
	}
	return fmt.Sprintf("%s%d", prefix, total)
}

// Unnamed has a blank parameter and unnamed results.
func Unnamed(_ int, s string) (int, string) {
	return len(s), strings.ToUpper(s)
}

// Boom panics on a known line (PANIC_LINE in the tests).
func Boom(n int) int {
	if n > 0 {
		panic(fmt.Sprintf("boom %d", n)) // PANIC_LINE
	}
	return n
}

// Where reports where it is (CALLER_LINE in the tests).
func Where(n int) (string, int) {
	_, file, line, _ := runtime.Caller(0) // CALLER_LINE
	return file, line + n*0
}
