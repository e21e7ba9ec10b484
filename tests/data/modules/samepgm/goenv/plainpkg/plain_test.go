package plainpkg

import (
	"testing"

	"example.com/goenv"
)

func TestGoCommand(t *testing.T) { goenv.Report(t, "plainpkg") }
