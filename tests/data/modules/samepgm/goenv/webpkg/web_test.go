package webpkg

import (
	"testing"

	"example.com/goenv"
)

func TestGoCommand(t *testing.T) { goenv.Report(t, "webpkg") }
