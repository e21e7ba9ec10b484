// Package testonly has only test files: its test binary must link the hooks all the same.
package testonly

import (
	"testing"

	"example.com/golden/cases"
)

func TestPlainIsInstrumented(t *testing.T) {
	if got := cases.Plain(1, "a"); got != "1a" {
		t.Fatalf("Plain(1, %q) = %q", "a", got)
	}
}
