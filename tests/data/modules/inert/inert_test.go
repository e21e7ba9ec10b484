package inert

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// otelConfigured mirrors the rule of the tool's SDK set-up: a test binary exports only when one of
// these variables is set (and the SDK is not disabled).
func otelConfigured() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	for _, name := range []string{
		"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	} {
		if strings.TrimSpace(os.Getenv(name)) != "" {
			return true
		}
	}
	return false
}

const childEnv = "INERT_TEST_CHILD"

// goroutine is one goroutine of a stack dump: its id and its stack.
type goroutine struct {
	id    string
	stack string
}

// otherGoroutines is every goroutine but the caller's (runtime.Stack lists the caller first).
func otherGoroutines() []goroutine {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for i, block := range strings.Split(strings.TrimSpace(string(buf)), "\n\n") {
		if i == 0 {
			continue
		}
		header, _, _ := strings.Cut(block, "\n")
		fields := strings.Fields(header) // goroutine 7 [select]:
		id := ""
		if len(fields) > 1 {
			id = fields[1]
		}
		out = append(out, goroutine{id, block})
	}
	return out
}

// extraGoroutines waits up to timeout for the goroutines not in before (by id) to end, and returns
// those still there.
func extraGoroutines(before []goroutine, timeout time.Duration) []goroutine {
	deadline := time.Now().Add(timeout)
	for {
		var extra []goroutine
		for _, g := range otherGoroutines() {
			if !slices.ContainsFunc(before, func(b goroutine) bool { return b.id == g.id }) {
				extra = append(extra, g)
			}
		}
		if len(extra) == 0 || time.Now().After(deadline) {
			return extra
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(gs []goroutine) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString(g.stack)
		b.WriteString("\n\n")
	}
	return b.String()
}

// TestMain is the goleak-style check: once the tests have run, the test binary has no goroutine but
// its main one. Instrumentation that started a goroutine at init (a span processor, a signal
// relay) fails it, as it fails every suite that checks for leaked goroutines.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(childEnv) == "" {
		if otelConfigured() {
			fmt.Println("goroutine check: skipped, OpenTelemetry is configured")
		} else if left := extraGoroutines(nil, 5*time.Second); len(left) > 0 {
			fmt.Printf("goroutine check: %d goroutine(s) besides main:\n%s", len(left), describe(left))
			code = 1
		} else {
			fmt.Println("goroutine check: ok, no goroutine besides main")
		}
	}
	os.Exit(code)
}

// roundTrip sends one request to a fresh httptest server and returns the headers it received.
func roundTrip(t *testing.T) http.Header {
	t.Helper()
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		_, _ = w.Write([]byte("pong"))
	}))
	defer srv.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	body, err := Fetch(&http.Client{Transport: transport}, srv.URL+"/ping")
	if err != nil || body != "pong" {
		t.Fatalf("GET /ping: %q, %v", body, err)
	}
	return <-got
}

// TestRequestHeaders: without configuration no trace context goes out with a request (no
// propagator is set); with configuration the request carries a traceparent.
func TestRequestHeaders(t *testing.T) {
	h := roundTrip(t)
	if otelConfigured() {
		if h.Get("Traceparent") == "" {
			t.Fatalf("OpenTelemetry is configured but the request carries no traceparent: %v", h)
		}
		return
	}
	for _, name := range []string{"Traceparent", "Tracestate", "Baggage"} {
		if v := h.Values(name); len(v) > 0 {
			t.Errorf("the request carries %s: %q (all headers: %v)", name, v, h)
		}
	}
}

// TestNoGoroutineLeftBehind: requests (which end spans when instrumented) leave no goroutine
// behind, so a span processor started on the first span fails it too.
func TestNoGoroutineLeftBehind(t *testing.T) {
	if otelConfigured() {
		t.Skip("OpenTelemetry is configured: the exporter runs")
	}
	before := otherGoroutines()
	n := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		roundTrip(t)
	}
	if extra := extraGoroutines(before, 5*time.Second); len(extra) > 0 {
		t.Fatalf("%d goroutine(s) before, %d after; new ones:\n%s",
			n, runtime.NumGoroutine(), describe(extra))
	}
}

// TestNothingOnStderr runs this test binary again (TestChildMakesSpans) and fails on anything it
// writes to stderr: no exporter may complain about a collector nobody configured.
func TestNothingOnStderr(t *testing.T) {
	if otelConfigured() {
		t.Skip("OpenTelemetry is configured: export is on")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildMakesSpans$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the child test binary failed: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "PASS") {
		t.Fatalf("the child did not run: %s", &stdout)
	}
	if stderr.Len() > 0 || strings.Contains(stdout.String(), "otel-go-autoinst") {
		t.Fatalf("the child wrote:\nstderr:\n%s\nstdout:\n%s", &stderr, &stdout)
	}
}

// TestChildMakesSpans runs only as TestNothingOnStderr's child: a few requests, then the test
// binary's usual os.Exit, where an instrumented binary would flush its spans.
func TestChildMakesSpans(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("runs only as TestNothingOnStderr's child")
	}
	for i := 0; i < 3; i++ {
		roundTrip(t)
	}
}
