// Package switches reads the run-time switches of the instrumentation from the environment, once:
//
//   - OTEL_SDK_DISABLED=true turns every integration off: its hooks return at once, so only the
//     trampolines' no-op cost is left.
//   - OTEL_GO_ENABLED_INSTRUMENTATIONS=a,b: only the integrations named are on.
//   - OTEL_GO_DISABLED_INSTRUMENTATIONS=a,b: the integrations named are off (also when enabled).
//
// Names are the rule sets' names (nethttp, databasesql, gls, ...), compared without regard to case
// or surrounding spaces. A leaf package: the hooks packages, otelsetup and gls all read it.
package switches

import (
	"os"
	"strings"
)

// Switches is one reading of the environment.
type Switches struct {
	sdkDisabled bool
	enabled     map[string]bool // nil: every integration is on unless disabled
	disabled    map[string]bool
}

// Read reads the switches through getenv.
func Read(getenv func(string) string) Switches {
	return Switches{
		sdkDisabled: strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true"),
		enabled:     names(getenv("OTEL_GO_ENABLED_INSTRUMENTATIONS")),
		disabled:    names(getenv("OTEL_GO_DISABLED_INSTRUMENTATIONS")),
	}
}

func names(list string) map[string]bool {
	var out map[string]bool // nil when the list names nothing
	for _, name := range strings.Split(list, ",") {
		if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
			if out == nil {
				out = map[string]bool{}
			}
			out[name] = true
		}
	}
	return out
}

// On reports whether the integration named name is on.
func (s Switches) On(name string) bool {
	name = strings.ToLower(name)
	if s.sdkDisabled || s.disabled[name] {
		return false
	}
	return s.enabled == nil || s.enabled[name]
}

// process is the program's reading, made when the first package asks.
var process = Read(os.Getenv)

// On reports whether the integration named name is on in this process.
func On(name string) bool { return process.On(name) }
