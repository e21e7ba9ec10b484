package otelsetup

import (
	"testing"

	"go.opentelemetry.io/otel"
)

func TestMetricsEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false}, // opt-in: see metrics.go
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
		{map[string]string{"OTEL_METRICS_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_METRICS_EXPORTER": "console"}, true},
		{map[string]string{"OTEL_METRICS_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/metrics"}, true},
		{map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		getenv := func(k string) string { return tc.env[k] }
		if got := metricsEnabled(getenv); got != tc.want {
			t.Errorf("metricsEnabled(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

// TestMeterWithoutConfigurationIsNil: in this test binary, run without OTel configuration, no
// meter is handed out (hooks then measure nothing) and no MeterProvider was started.
func TestMeterWithoutConfigurationIsNil(t *testing.T) {
	if metricsWanted() {
		t.Skip("metrics are configured in this environment")
	}
	if Meter("x") != nil || meterProvider.Load() != nil || !isDefaultGlobal(otel.GetMeterProvider()) {
		t.Error("a meter or MeterProvider without metrics configured")
	}
}
