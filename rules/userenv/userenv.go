// Package userenv gives a test binary, and every process it starts, the environment the user ran
// `otel-go-autoinst test` in. The go command that builds and runs the test binaries is given a
// private workspace (GOWORK) and the hooks' build tag (GOFLAGS), and a test binary inherits its
// environment: a test that runs `go list -m all` or `go build` would otherwise see the hooks'
// modules and build tag, which the plain `go test` never shows it.
//
// Every test binary built by otel-go-autoinst links this package; its init puts back the values
// the tool saved in OTEL_GO_AUTOINST_USER_ENV (set or unset, as they were) and removes that
// variable. Without it (a program run by the user, a plain build) it does nothing.
package userenv

import (
	"os"
	"strconv"
	"strings"
)

// Saved names the variable that carries the user's values: one line per variable, "NAME" for a
// variable that was unset, NAME=<Go-quoted value> for one that was set.
const Saved = "OTEL_GO_AUTOINST_USER_ENV"

func init() {
	saved, ok := os.LookupEnv(Saved)
	if !ok {
		return
	}
	os.Unsetenv(Saved)
	Restore(saved)
}

// Restore puts back the variables described by saved; a malformed line changes nothing.
func Restore(saved string) {
	for _, line := range strings.Split(saved, "\n") {
		name, quoted, set := strings.Cut(line, "=")
		if name == "" {
			continue
		}
		if !set {
			os.Unsetenv(name)
			continue
		}
		if value, err := strconv.Unquote(quoted); err == nil {
			os.Setenv(name, value)
		}
	}
}
