//go:build otelautoinst

package hooks

import (
	"testing"

	"example.com/goenv"
)

func TestGoCommand(t *testing.T) { goenv.Report(t, "hooks") }
