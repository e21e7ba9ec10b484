package otelsetup

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// countingProcessor counts what reaches it.
type countingProcessor struct {
	ended, flushed, shut atomic.Int64
}

func (c *countingProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *countingProcessor) OnEnd(sdktrace.ReadOnlySpan)                     { c.ended.Add(1) }
func (c *countingProcessor) ForceFlush(context.Context) error                { c.flushed.Add(1); return nil }
func (c *countingProcessor) Shutdown(context.Context) error                  { c.shut.Add(1); return nil }

// lazyFixture is a TracerProvider over a lazyProcessor whose build is counted and returns sink.
type lazyFixture struct {
	tp     *sdktrace.TracerProvider
	lazy   *lazyProcessor
	sink   *countingProcessor
	builds atomic.Int64
}

func newLazyFixture(sampler sdktrace.Sampler, hook func(*lazyFixture)) *lazyFixture {
	f := &lazyFixture{sink: &countingProcessor{}}
	f.lazy = newLazyProcessor(func() []sdktrace.SpanProcessor {
		f.builds.Add(1)
		if hook != nil {
			hook(f)
		}
		return []sdktrace.SpanProcessor{f.sink}
	})
	f.tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(f.lazy))
	return f
}

func (f *lazyFixture) span(name string) {
	_, s := f.tp.Tracer("test").Start(context.Background(), name)
	s.End()
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		env        map[string]string
		testBinary bool
		want       bool
	}{
		{nil, false, true},
		{nil, true, false},
		{map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h/v1/traces"}, true, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, true},
		{map[string]string{"OTEL_SDK_DISABLED": "TRUE"}, false, false},
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{map[string]string{"OTEL_SDK_DISABLED": "false"}, false, true},
	} {
		getenv := func(k string) string { return tc.env[k] }
		if got := enabled(getenv, tc.testBinary); got != tc.want {
			t.Errorf("enabled(%v, test binary %v) = %v, want %v", tc.env, tc.testBinary, got, tc.want)
		}
	}
}

// TestThisTestBinaryIsInert: this package's own test binary is a test binary; run without OTel
// configuration, its init set up nothing.
func TestThisTestBinaryIsInert(t *testing.T) {
	if enabled(getenvNow, true) {
		t.Skip("OpenTelemetry is configured in this environment")
	}
	if provider != nil {
		t.Error("a TracerProvider was set up in a test binary without OTel configuration")
	}
	if !isDefaultGlobal(otel.GetTextMapPropagator()) || !isDefaultGlobal(otel.GetTracerProvider()) {
		t.Error("a global was set in a test binary without OTel configuration")
	}
}

func TestPlainByDefault(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "false"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true"}, false},
	} {
		getenv := func(k string) string { return tc.env[k] }
		if got := plainByDefault(getenv); got != tc.want {
			t.Errorf("plainByDefault(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestLazyStartsOnlyForASampledSpanThatEnds(t *testing.T) {
	f := newLazyFixture(sdktrace.NeverSample(), nil)
	f.span("unsampled")
	if f.builds.Load() != 0 {
		t.Fatal("an unsampled span started the export")
	}
	f = newLazyFixture(sdktrace.AlwaysSample(), nil)
	_, s := f.tp.Tracer("test").Start(context.Background(), "open")
	if f.builds.Load() != 0 {
		t.Fatal("a span that has not ended started the export")
	}
	s.End()
	f.span("second")
	if f.builds.Load() != 1 || f.sink.ended.Load() != 2 {
		t.Fatalf("builds %d, spans handed over %d; want 1 and 2", f.builds.Load(), f.sink.ended.Load())
	}
	if err := f.tp.Shutdown(context.Background()); err != nil || f.sink.shut.Load() != 1 {
		t.Fatalf("shutdown: %v, %d", err, f.sink.shut.Load())
	}
}

// TestLazyStartsOnceUnderConcurrency: spans ending at once on many goroutines start one pipeline,
// and none of them is lost (go test -race checks the synchronisation).
func TestLazyStartsOnceUnderConcurrency(t *testing.T) {
	for round := 0; round < 20; round++ {
		slow := func(*lazyFixture) { time.Sleep(time.Millisecond) } // let the others pile up
		f := newLazyFixture(sdktrace.AlwaysSample(), slow)
		const n = 64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f.span("concurrent")
			}()
		}
		close(start)
		wg.Wait()
		if f.builds.Load() != 1 {
			t.Fatalf("%d builds", f.builds.Load())
		}
		if got := f.sink.ended.Load(); got != n {
			t.Fatalf("%d of %d spans reached the pipeline", got, n)
		}
	}
}

// TestLazySpanEndedDuringTheBuildDoesNotDeadlock: a span ended while the pipeline is built, on the
// building goroutine itself, neither blocks nor is lost.
func TestLazySpanEndedDuringTheBuildDoesNotDeadlock(t *testing.T) {
	done := make(chan *lazyFixture)
	go func() {
		f := newLazyFixture(sdktrace.AlwaysSample(), func(f *lazyFixture) { f.span("during the build") })
		f.span("first")
		done <- f
	}()
	select {
	case f := <-done:
		if f.builds.Load() != 1 || f.sink.ended.Load() != 2 {
			t.Fatalf("builds %d, spans %d; want 1 and 2", f.builds.Load(), f.sink.ended.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ending a span during the build deadlocked")
	}
}

func TestLazyShutdownBeforeAnySpanStartsNothing(t *testing.T) {
	f := newLazyFixture(sdktrace.AlwaysSample(), nil)
	if err := f.lazy.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.lazy.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.span("after shutdown")
	if f.builds.Load() != 0 {
		t.Fatal("a span after Shutdown started the export")
	}
}

// TestLazyShutdownWaitsForTheBuild: a Shutdown (the end of the program) while the first span's
// build is under way flushes that span once the build is done, within its context.
func TestLazyShutdownWaitsForTheBuild(t *testing.T) {
	release := make(chan struct{})
	f := newLazyFixture(sdktrace.AlwaysSample(), func(*lazyFixture) { <-release })
	go f.span("first")
	for f.lazy.state.Load() != lazyStarting {
		runtime.Gosched()
	}
	f.span("meanwhile") // waits in the pending list, does not block
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if err := f.lazy.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown under an expired context: %v", err)
	}
	cancel()
	shut := make(chan error)
	go func() { shut <- f.lazy.Shutdown(context.Background()) }()
	close(release)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if f.sink.ended.Load() != 2 || f.sink.shut.Load() != 1 {
		t.Fatalf("spans %d, shutdowns %d; want 2 and 1", f.sink.ended.Load(), f.sink.shut.Load())
	}
}

func TestLazyBuildThatPanicsDoesNotPanicOut(t *testing.T) {
	f := newLazyFixture(sdktrace.AlwaysSample(), func(*lazyFixture) { panic("exporter trouble") })
	f.span("first")
	f.span("second")
	if f.builds.Load() != 1 {
		t.Fatalf("%d builds", f.builds.Load())
	}
	if err := f.tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRealExportStartsWithTheFirstSpan: with the real exporters, no goroutine exists before the
// first sampled span ends; then the spans reach the endpoint.
func TestRealExportStartsWithTheFirstSpan(t *testing.T) {
	got := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- r.URL.Path
	}))
	defer srv.Close()
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")

	before := runtime.NumGoroutine()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(newLazyProcessor(startExport)))
	_, open := tp.Tracer("t").Start(context.Background(), "x") // not ended: nothing to export yet
	time.Sleep(50 * time.Millisecond)
	if n := runtime.NumGoroutine(); n != before {
		t.Fatalf("%d goroutines before any span ended, %d before the provider", n, before)
	}
	open.End()
	if n := runtime.NumGoroutine(); n <= before {
		t.Fatalf("the first span ended and no export goroutine runs (%d, %d before)", n, before)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case path := <-got:
		if path != "/v1/traces" {
			t.Fatalf("export to %s", path)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the span was not exported at Shutdown")
	}
}

// firstBytes listens on addr and returns the first bytes the first connection sends; ok is false
// when addr cannot be listened on.
func firstBytes(t *testing.T, addr string) (<-chan []byte, net.Listener, bool) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, false
		}
		t.Fatal(err)
	}
	out := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(out)
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 24)
		n, _ := io.ReadFull(bufio.NewReader(c), buf)
		out <- buf[:n]
	}()
	return out, ln, true
}

func oneSpan() []sdktrace.ReadOnlySpan {
	return []sdktrace.ReadOnlySpan{tracetest.SpanStub{Name: "s"}.Snapshot()}
}

// TestOTLPDefaultsArePlainLocalhost: with no endpoint variable, OTLP/HTTP posts to
// http://localhost:4318/v1/traces and OTLP/gRPC speaks plaintext HTTP/2 to localhost:4317, as the
// specification says (not TLS, the Go exporters' own default). An https endpoint still gets TLS.
func TestOTLPDefaultsArePlainLocalhost(t *testing.T) {
	for _, tc := range []struct {
		protocol, listen, endpoint, want string
	}{
		{"http/protobuf", "127.0.0.1:4318", "", "POST /v1/traces HTTP/1.1"},
		{"grpc", "127.0.0.1:4317", "", "PRI * HTTP/2.0"},
		{"http/protobuf", "127.0.0.1:0", "https://127.0.0.1:%d", "\x16\x03"},
		{"http/protobuf", "127.0.0.1:0", "http://127.0.0.1:%d", "POST /v1/traces HTTP/1.1"},
		{"grpc", "127.0.0.1:0", "http://127.0.0.1:%d", "PRI * HTTP/2.0"},
	} {
		name := strings.ReplaceAll(tc.endpoint, "%d", "port")
		if name == "" {
			name = "default endpoint"
		}
		t.Run(tc.protocol+" "+name, func(t *testing.T) {
			bytesIn, ln, ok := firstBytes(t, tc.listen)
			if !ok {
				t.Skipf("%s is in use here", tc.listen)
			}
			defer ln.Close()
			endpoint := ""
			if tc.endpoint != "" {
				endpoint = strings.Replace(tc.endpoint, "%d", portOf(ln), 1)
			}
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
			t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "")
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "")
			exp, err := otlpExporter()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			go func() { _ = exp.ExportSpans(ctx, oneSpan()) }()
			select {
			case got := <-bytesIn:
				if !strings.HasPrefix(string(got), tc.want) {
					t.Fatalf("the exporter sent %q, want it to start with %q", got, tc.want)
				}
			case <-ctx.Done():
				t.Fatal("the exporter did not connect to " + ln.Addr().String())
			}
			cancel()
			sctx, scancel := context.WithTimeout(context.Background(), time.Second)
			defer scancel()
			_ = exp.Shutdown(sctx)
		})
	}
}

func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func getenvNow(k string) string { return os.Getenv(k) }
