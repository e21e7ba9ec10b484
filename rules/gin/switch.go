package gin

import "github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/switches"

// switchedOff: OTEL_GO_DISABLED_INSTRUMENTATIONS / OTEL_GO_ENABLED_INSTRUMENTATIONS or
// OTEL_SDK_DISABLED turned this integration off, so its hooks return at once.
var switchedOff = !switches.On("gin")
