package slog

import (
	"bytes"
	"context"
	stdslog "log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

var sc = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
	SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	TraceFlags: trace.FlagsSampled,
})

// logWithHook runs logOnEnter and then logs what the (possibly replaced) args are, as the
// instrumented Logger.log does.
func logWithHook(ctx context.Context, args ...any) string {
	var buf bytes.Buffer
	l := stdslog.New(stdslog.NewTextHandler(&buf, &stdslog.HandlerOptions{
		ReplaceAttr: func(_ []string, a stdslog.Attr) stdslog.Attr {
			if a.Key == stdslog.TimeKey {
				return stdslog.Attr{}
			}
			return a
		},
	}))
	level, msg := stdslog.LevelInfo, "m"
	call := api.NewCallContext("log/slog", "Logger.log", []any{&l, &ctx, &level, &msg, &args}, nil)
	logOnEnter(call, l, ctx, level, msg, args)
	l.Log(ctx, level, msg, args...)
	return strings.TrimSpace(buf.String())
}

func TestAttrsFromTheRecordsContext(t *testing.T) {
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	got := logWithHook(ctx, "k", "v")
	want := `level=INFO msg=m trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 trace_flags=01 k=v`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// An odd key at the end stays the !BADKEY it was: the attributes go first.
	if got := logWithHook(ctx, "k", "v", "odd"); !strings.HasSuffix(got, " k=v !BADKEY=odd") {
		t.Errorf("odd args: %s", got)
	}
}

func TestNoSpanNoChange(t *testing.T) {
	if got := logWithHook(context.Background(), "k", "v"); got != "level=INFO msg=m k=v" {
		t.Errorf("got %s", got)
	}
	if got := logWithHook(nil, "k", "v"); got != "level=INFO msg=m k=v" { //nolint:staticcheck
		t.Errorf("nil ctx: %s", got)
	}
}
