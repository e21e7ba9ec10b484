package otelsetup

// Metrics: the MeterProvider the hooks' duration histograms and the Go runtime metrics go to.
//
// Nothing is set up at init. Metrics are on when OTEL_METRICS_EXPORTER names an exporter (otlp,
// console) or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set, and never with OTEL_SDK_DISABLED=true
// or OTEL_METRICS_EXPORTER=none. The specification's default for OTEL_METRICS_EXPORTER is otlp; this
// package asks for it explicitly instead, because the instrumented build is dropped into programs that
// already export traces to a collector: a second signal they never asked for would open a second
// stream of requests (and, to a collector without a metrics pipeline, a stream of errors on stderr),
// and OTEL_TRACES_EXPORTER=none or a sampler that is off would no longer mean "nothing is sent".
//
// Even when on, nothing starts before the first measurement: the MeterProvider, its periodic reader
// (the goroutine that exports every OTEL_METRIC_EXPORT_INTERVAL), the runtime metrics and the flush on
// signals come with the first Meter a hook asks for, which hooks do when they have a duration to
// record (the end of the first request or query). A test binary is inert without configuration like
// any program (no variable set, nothing on), and with it starts nothing until a measurement is made.
//
// A program that sets its own global MeterProvider keeps it: this package only sets the global
// while it is still OpenTelemetry's default, and Meter always asks the global.

import (
	"context"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

var (
	meterProvider atomic.Pointer[sdkmetric.MeterProvider] // ours, once started
	metricsOnce   sync.Once
	metricsWanted = sync.OnceValue(func() bool { return metricsEnabled(os.Getenv) })
)

// metricsEnabled reports whether the environment asks for metrics (see the comment at the top).
func metricsEnabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	names := strings.TrimSpace(getenv("OTEL_METRICS_EXPORTER"))
	if names == "" {
		return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")) != ""
	}
	return !strings.EqualFold(names, "none")
}

// Meter returns the meter named scope of the global MeterProvider, or nil when no measurement can
// go anywhere (metrics are off and the program set no MeterProvider of its own): hooks then skip
// their measurements altogether. The first call with metrics on starts the metrics pipeline.
func Meter(scope string) metric.Meter {
	if metricsWanted() {
		metricsOnce.Do(startMetrics)
	}
	mp := otel.GetMeterProvider()
	slot, ok := meters.Load(scope)
	if !ok {
		slot, _ = meters.LoadOrStore(scope, new(atomic.Pointer[meterCache]))
	}
	ptr := slot.(*atomic.Pointer[meterCache])
	if c := ptr.Load(); c != nil && sameValue(c.provider, mp) {
		return c.meter
	}
	c := &meterCache{provider: mp}
	if !isDefaultGlobal(mp) {
		c.meter = mp.Meter(scope, metric.WithInstrumentationVersion(Version), metric.WithSchemaURL(semconv.SchemaURL))
	}
	ptr.Store(c)
	return c.meter
}

// meterCache is the meter of a global MeterProvider (nil for OpenTelemetry's default one, whose
// measurements go nowhere until a provider is set).
type meterCache struct {
	provider metric.MeterProvider
	meter    metric.Meter
}

var meters sync.Map // scope name -> *atomic.Pointer[meterCache]

// SameMeter reports whether two meters are the same one (hooks cache their instruments per meter,
// so that a MeterProvider the program sets later is used from then on).
func SameMeter(a, b metric.Meter) bool { return sameValue(a, b) }

// sameValue compares two interface values without panicking on incomparable dynamic types.
func sameValue(a, b any) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || ta == nil || !ta.Comparable() {
		return false
	}
	return a == b
}

// startMetrics builds the MeterProvider from the environment and makes it the global one, unless the
// program has set its own. It never panics.
func startMetrics() {
	defer func() {
		if r := recover(); r != nil {
			logf("starting the metrics export failed, metrics are not exported: %v", r)
		}
	}()
	if !isDefaultGlobal(otel.GetMeterProvider()) {
		return // the program's own MeterProvider: it keeps it
	}
	exps := metricExporters()
	if len(exps) == 0 {
		return
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(buildResource())}
	for _, exp := range exps {
		// The periodic reader starts its goroutine here; it reads OTEL_METRIC_EXPORT_INTERVAL and
		// OTEL_METRIC_EXPORT_TIMEOUT itself.
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(markingMetricExporter{exp})))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	meterProvider.Store(mp)
	otel.SetMeterProvider(mp)
	otel.SetErrorHandler(rateLimitedErrorHandler{})
	if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
		logf("Go runtime metrics: %v", err)
	}
	installSignalFlush()
}

// metricExporters returns the metric exporters OTEL_METRICS_EXPORTER asks for (otlp when only a
// metrics endpoint is set).
func metricExporters() []sdkmetric.Exporter {
	names := os.Getenv("OTEL_METRICS_EXPORTER")
	if strings.TrimSpace(names) == "" {
		names = "otlp"
	}
	var out []sdkmetric.Exporter
	for _, name := range strings.Split(names, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "none":
			return nil
		case "otlp":
			exp, err := otlpMetricExporter()
			if err != nil {
				logf("OTLP metric exporter: %v", err)
				continue
			}
			out = append(out, exp)
		case "console":
			exp, err := stdoutmetric.New(stdoutmetric.WithWriter(os.Stdout))
			if err != nil {
				logf("console metric exporter: %v", err)
				continue
			}
			out = append(out, exp)
		case "":
		default:
			logf("OTEL_METRICS_EXPORTER=%q is not supported (otlp, console, none)", name)
		}
	}
	return out
}

func otlpMetricExporter() (sdkmetric.Exporter, error) {
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	plain := plainMetricsByDefault(os.Getenv)
	ctx := context.Background()
	switch strings.ToLower(strings.TrimSpace(protocol)) {
	case "grpc":
		var opts []otlpmetricgrpc.Option
		if plain {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		return otlpmetricgrpc.New(ctx, opts...)
	case "", "http/protobuf":
	default:
		logf("OTEL_EXPORTER_OTLP_PROTOCOL=%q is not supported, using http/protobuf", protocol)
	}
	var opts []otlpmetrichttp.Option
	if plain {
		opts = append(opts, otlpmetrichttp.WithInsecure())
	}
	return otlpmetrichttp.New(ctx, opts...)
}

// plainMetricsByDefault is plainByDefault for the metrics variables.
func plainMetricsByDefault(getenv func(string) string) bool {
	for _, name := range []string{
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE",
	} {
		if strings.TrimSpace(getenv(name)) != "" {
			return false
		}
	}
	return true
}

// signalFlushInstalled makes installSignalFlush (signal.go) run once, for traces or metrics.
var signalFlushInstalled atomic.Bool

// flushMetricsAsync flushes and stops our MeterProvider, if it was started, on another goroutine
// (so the spans' flush runs meanwhile under the same deadline); the function it returns waits.
func flushMetricsAsync(ctx context.Context) (wait func()) {
	mp := meterProvider.Load()
	if mp == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mp.Shutdown(ctx); err != nil {
			logf("flushing metrics: %v", err)
		}
	}()
	return func() { <-done }
}

// markingMetricExporter marks the context of every export, so that the exporter's own HTTP requests
// are neither traced nor measured by the net/http client hook.
type markingMetricExporter struct {
	sdkmetric.Exporter
}

func (m markingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	return m.Exporter.Export(MarkExporterContext(ctx), rm)
}

func (m markingMetricExporter) ForceFlush(ctx context.Context) error {
	return m.Exporter.ForceFlush(MarkExporterContext(ctx))
}

func (m markingMetricExporter) Shutdown(ctx context.Context) error {
	return m.Exporter.Shutdown(MarkExporterContext(ctx))
}
