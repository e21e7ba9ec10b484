// Package otelsetup sets up the OpenTelemetry SDK in every instrumented program, from the standard
// environment variables only, and flushes the spans when the program ends.
//
// It is imported by every hook package that makes spans, so the SDK is ready (in this package's
// init) before the program's main runs. The init only sets the W3C propagators and a
// TracerProvider: it starts no goroutine, opens no socket and installs no signal handler. The
// exporters, their batch span processors and the flush on SIGINT/SIGTERM are created when the first
// sampled span ends (lazy.go). The rule file beside this one adds the flush at the end of main.main,
// before os.Exit, and on SIGINT/SIGTERM when the program does not handle them itself.
//
// Environment (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
//
//   - OTEL_SDK_DISABLED=true: nothing is set up; hooks then make no-op spans and propagate nothing.
//   - In a test binary (testing.Testing()), nothing is set up either unless OTEL_TRACES_EXPORTER,
//     OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (non-empty): a test
//     suite run without OpenTelemetry configuration sees no header, goroutine or export attempt.
//     With one of them set, a test binary exports as a program does.
//   - OTEL_TRACES_EXPORTER: otlp (default), console, none, or a comma-separated list of them.
//   - OTEL_EXPORTER_OTLP_PROTOCOL / OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: http/protobuf (default) or grpc.
//   - OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT: by default http://localhost:4318 (/v1/traces) for
//     http/protobuf and localhost:4317 without TLS for grpc, as the specification says; an endpoint
//     with the https scheme (or OTEL_EXPORTER_OTLP_[TRACES_]INSECURE=false) uses TLS.
//   - OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE, _INSECURE: read by
//     the exporters themselves.
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource.
//   - OTEL_PROPAGATORS: tracecontext,baggage by default; b3, b3multi and none too (propagators.go).
//   - OTEL_GO_DISABLED_INSTRUMENTATIONS / OTEL_GO_ENABLED_INSTRUMENTATIONS: integrations (rule set
//     names) switched off or on at run time (rules/internal/switches).
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_*: read by the SDK.
//
// A program that sets its own global TracerProvider (or propagator) keeps it: this package only sets
// the globals that are still OpenTelemetry's defaults, and hooks always ask the global for their
// tracer, so a provider set later by the program's own code wins.
package otelsetup

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Version is the version of the instrumentation, recorded as the instrumentation scope version.
const Version = "0.1.0"

// shutdownTimeout bounds the flush at exit, so an unreachable collector delays the end of a program
// by at most this much.
const shutdownTimeout = 5 * time.Second

var (
	provider     *sdktrace.TracerProvider // ours, nil when the SDK is off or the program had one
	shutdownOnce sync.Once
	initialized  atomic.Bool
)

func init() {
	setup()
}

// otelConfigVars are the variables whose presence (non-empty) turns export on in a test binary.
var otelConfigVars = []string{
	"OTEL_TRACES_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
}

// enabled reports whether the SDK is set up at all: never with OTEL_SDK_DISABLED=true; always in a
// program; in a test binary only when one of otelConfigVars is set, so that a test suite run
// without OpenTelemetry configuration sees no propagation header, goroutine or export attempt.
func enabled(getenv func(string) string, testBinary bool) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if !testBinary {
		return true
	}
	for _, name := range otelConfigVars {
		if strings.TrimSpace(getenv(name)) != "" {
			return true
		}
	}
	return false
}

// setup configures the SDK from the environment. It never panics and never blocks, and it starts
// nothing: no goroutine, socket or signal handler. Those come with the first sampled span that
// ends (lazyProcessor).
func setup() {
	if initialized.Swap(true) {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			logf("SDK set-up failed, tracing is off: %v", r)
		}
	}()
	if !enabled(os.Getenv, testing.Testing()) {
		return
	}
	if !isDefaultGlobal(otel.GetTextMapPropagator()) {
		// The program (one of its packages' init) chose its propagators: keep them.
	} else {
		otel.SetTextMapPropagator(propagatorsFrom(os.Getenv)) // propagators.go: OTEL_PROPAGATORS
	}
	if !isDefaultGlobal(otel.GetTracerProvider()) {
		return // the program set its own TracerProvider first: it keeps it
	}
	provider = sdktrace.NewTracerProvider(
		sdktrace.WithResource(buildResource()),
		sdktrace.WithSpanProcessor(newLazyProcessor(startExport)))
	otel.SetTracerProvider(provider)
}

// startExport builds what exports the spans: the exporters OTEL_TRACES_EXPORTER asks for, a batch
// span processor for each, and the flush on SIGINT/SIGTERM. It runs once, for the first sampled
// span that ends.
func startExport() []sdktrace.SpanProcessor {
	exps := exporters()
	if len(exps) == 0 {
		return nil
	}
	otel.SetErrorHandler(rateLimitedErrorHandler{})
	procs := make([]sdktrace.SpanProcessor, 0, len(exps))
	for _, exp := range exps {
		procs = append(procs, sdktrace.NewBatchSpanProcessor(markingExporter{exp}))
	}
	installSignalFlush()
	return procs
}

// exporters returns the span exporters OTEL_TRACES_EXPORTER asks for.
func exporters() []sdktrace.SpanExporter {
	names := os.Getenv("OTEL_TRACES_EXPORTER")
	if strings.TrimSpace(names) == "" {
		names = "otlp"
	}
	var out []sdktrace.SpanExporter
	for _, name := range strings.Split(names, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "none":
			return nil
		case "otlp":
			exp, err := otlpExporter()
			if err != nil {
				logf("OTLP trace exporter: %v", err)
				continue
			}
			out = append(out, exp)
		case "console":
			exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
			if err != nil {
				logf("console trace exporter: %v", err)
				continue
			}
			out = append(out, exp)
		case "":
		default:
			logf("OTEL_TRACES_EXPORTER=%q is not supported (otlp, console, none)", name)
		}
	}
	return out
}

func otlpExporter() (sdktrace.SpanExporter, error) {
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	plain := plainByDefault(os.Getenv)
	// New only builds the client: it does not connect, so it cannot block.
	ctx := context.Background()
	switch strings.ToLower(strings.TrimSpace(protocol)) {
	case "grpc":
		var opts []otlptracegrpc.Option
		if plain {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	case "", "http/protobuf":
	default:
		logf("OTEL_EXPORTER_OTLP_PROTOCOL=%q is not supported, using http/protobuf", protocol)
	}
	var opts []otlptracehttp.Option
	if plain {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}

// plainByDefault reports whether the OTLP exporter must be told to use plain HTTP (or gRPC without
// TLS). The specification's default endpoint is http://localhost:4318 (localhost:4317 for gRPC),
// while the Go exporters default to TLS; so with none of the endpoint or insecure variables set the
// connection is plain. When one is set the exporter reads it and decides: an endpoint whose scheme
// is http is plain, https is TLS, and OTEL_EXPORTER_OTLP_[TRACES_]INSECURE overrides the scheme.
func plainByDefault(getenv func(string) string) bool {
	for _, name := range []string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE",
	} {
		if strings.TrimSpace(getenv(name)) != "" {
			return false
		}
	}
	return true
}

func buildResource() *resource.Resource {
	ours, _ := resource.New(context.Background(),
		resource.WithAttributes(
			attribute.String("telemetry.distro.name", "otel-go-autoinst"),
			attribute.String("telemetry.distro.version", Version),
		),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
	)
	// Default holds service.name (OTEL_SERVICE_NAME, or unknown_service:<exe>), telemetry.sdk.* and
	// OTEL_RESOURCE_ATTRIBUTES; it is merged last so the environment wins.
	merged, err := resource.Merge(ours, resource.Default())
	if err != nil {
		// Schema URL conflicts still give a usable resource.
		if merged == nil {
			return resource.Default()
		}
	}
	return merged
}

// isDefaultGlobal reports whether v is still OpenTelemetry's global default (a delegate of the
// internal global package) rather than a value a program has set.
// Idle reports whether nothing a hook does can be seen: neither a TracerProvider nor a propagator
// was ever set (a test binary without OpenTelemetry configuration, OTEL_SDK_DISABLED=true), so a
// span would be a no-op and there is no header to read or write. Hooks on paths a library keeps
// free of allocations return at once then: a test that counts them (fasthttp's) sees the plain
// program's count. It allocates nothing.
func Idle() bool {
	return isDefaultGlobal(otel.GetTracerProvider()) && isDefaultGlobal(otel.GetTextMapPropagator())
}

func isDefaultGlobal(v any) bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && t.PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

func envBool(name string) bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv(name)), "true")
}

// Shutdown flushes and stops the TracerProvider this package set up, at most once, bounded by
// shutdownTimeout. It does nothing when the program uses its own TracerProvider.
func Shutdown() {
	shutdownOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		metricsDone := flushMetricsAsync(ctx) // metrics.go: alongside the spans, same deadline
		defer metricsDone()
		if provider == nil {
			return
		}
		if err := provider.Shutdown(ctx); err != nil {
			logf("flushing spans: %v", err)
		}
	})
}

// ForceFlush exports the spans ended so far without stopping the provider, bounded by
// shutdownTimeout.
func ForceFlush() {
	if provider == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = provider.ForceFlush(ctx)
}

// exporterKey marks the context of the exporters' own requests.
type exporterKey struct{}

// IsExporterContext reports whether ctx belongs to a request made by this package's span
// exporters; instrumentation must not trace such requests (nor could it without a loop).
func IsExporterContext(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	_, ok := ctx.Value(exporterKey{}).(bool)
	return ok
}

// MarkExporterContext returns ctx marked as the context of an exporter's own requests, which the
// net/http client hook leaves untraced.
func MarkExporterContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, exporterKey{}, true)
}

// markingExporter marks the context of every export, so that the exporter's own HTTP requests
// (which carry that context) are recognised and left untraced by the net/http client hook.
type markingExporter struct {
	sdktrace.SpanExporter
}

func (m markingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	return m.SpanExporter.ExportSpans(MarkExporterContext(ctx), spans)
}

func (m markingExporter) Shutdown(ctx context.Context) error {
	return m.SpanExporter.Shutdown(MarkExporterContext(ctx))
}

// rateLimitedErrorHandler reports SDK errors (an unreachable collector, for example) on stderr at
// most once a minute, so a program's output is not flooded.
type rateLimitedErrorHandler struct{}

var lastErrorLog atomic.Int64

func (rateLimitedErrorHandler) Handle(err error) {
	now := time.Now().UnixNano()
	last := lastErrorLog.Load()
	if last != 0 && now-last < int64(time.Minute) {
		return
	}
	if lastErrorLog.CompareAndSwap(last, now) {
		logf("%v", err)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "otel-go-autoinst: "+format+"\n", args...)
}

// tracerCache is the tracer of the global TracerProvider at the time it was made.
type tracerCache struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
}

var tracers sync.Map // scope name -> *atomic.Pointer[tracerCache]

// Tracer returns the tracer named scope of the current global TracerProvider (so a provider the
// program sets later is used from then on), cached while the global does not change.
func Tracer(scope string) trace.Tracer {
	tp := otel.GetTracerProvider()
	slot, ok := tracers.Load(scope)
	if !ok {
		slot, _ = tracers.LoadOrStore(scope, new(atomic.Pointer[tracerCache]))
	}
	ptr := slot.(*atomic.Pointer[tracerCache])
	if c := ptr.Load(); c != nil && sameProvider(c.provider, tp) {
		return c.tracer
	}
	t := tp.Tracer(scope,
		trace.WithInstrumentationVersion(Version),
		trace.WithSchemaURL(semconv.SchemaURL))
	ptr.Store(&tracerCache{provider: tp, tracer: t})
	return t
}

// sameProvider compares two providers without panicking on values of incomparable types.
func sameProvider(a, b trace.TracerProvider) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || ta == nil || !ta.Comparable() {
		return false
	}
	return a == b
}
