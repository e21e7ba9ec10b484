package stdlog

import (
	"testing"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

// Without a goroutine-local span (this package's own test binary has no runtime support), the
// hook leaves appendOutput as it is: a line is byte-identical.
func TestNoSpanNoChange(t *testing.T) {
	orig := func(b []byte) []byte { return append(b, "msg\n"...) }
	f := orig
	call := api.NewCallContext("log", "Logger.output", []any{new(any), new(uintptr), new(int), &f}, nil)
	outputOnEnter(call, nil, 0, 2, f)
	if got := string(f(nil)); got != "msg\n" {
		t.Errorf("got %q", got)
	}
	if call.GetParam(3) == nil {
		t.Fatal("appendOutput lost")
	}
}

func TestWithIDs(t *testing.T) {
	for msg, want := range map[string]string{
		"hello":   "PFX hello trace_id=t span_id=s trace_flags=01",
		"hello\n": "PFX hello trace_id=t span_id=s trace_flags=01\n",
		"":        "PFX  trace_id=t span_id=s trace_flags=01",
		// Written by slog's default handler, which already added the ids.
		"INFO m trace_id=t span_id=s trace_flags=01": "PFX INFO m trace_id=t span_id=s trace_flags=01",
	} {
		f := withIDs(func(b []byte) []byte { return append(b, msg...) }, "t", "s", "01")
		if got := string(f([]byte("PFX "))); got != want {
			t.Errorf("%q: got %q, want %q", msg, got, want)
		}
	}
}
