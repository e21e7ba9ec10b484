// Package goenv reports what a `go` command started by a test sees: the tests of its packages
// print it, and the test compares what they print under plain `go test` and `otel-go-autoinst test`.
package goenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Report prints one line: the test binary's own GOWORK and GOFLAGS, and what `go env` and
// `go list -m all` answer it.
func Report(t *testing.T, name string) {
	t.Helper()
	goEnv, err := exec.Command("go", "env", "GOWORK", "GOFLAGS").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	modules, err := exec.Command("go", "list", "-m", "all").Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	work, workSet := os.LookupEnv("GOWORK")
	flags, flagsSet := os.LookupEnv("GOFLAGS")
	_, savedSet := os.LookupEnv("OTEL_GO_AUTOINST_USER_ENV")
	fmt.Printf("GOENV %s own GOWORK=%q(%v) GOFLAGS=%q(%v) saved=%v; go env=%q; modules=%q\n",
		name, work, workSet, flags, flagsSet, savedSet,
		strings.Fields(string(goEnv)), strings.Fields(string(modules)))
}
