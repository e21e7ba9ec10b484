package redis

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/hooktest"
)

// answer is a go-redis hook that answers every command itself: the Client never dials.
type answer struct{}

func (answer) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (answer) ProcessHook(goredis.ProcessHook) goredis.ProcessHook {
	return func(context.Context, goredis.Cmder) error { return nil }
}
func (answer) ProcessPipelineHook(goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(context.Context, []goredis.Cmder) error { return nil }
}

// newClient is a Client on an address never dialed, with the hook newClientOnExit adds when ours.
func newClient(t *testing.T, ours bool) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	if ours {
		call := api.NewCallContext("github.com/redis/go-redis/v9", "NewClient", nil, []any{&c})
		newClientOnExit(call, c)
	}
	c.AddHook(answer{})
	return c
}

// Without OpenTelemetry configuration a command and a pipeline allocate what they do plainly;
// with a TracerProvider they make their spans.
func TestIdleThenTraced(t *testing.T) {
	hooktest.RequireIdle(t)
	ctx := context.Background()
	plain, ours := newClient(t, false), newClient(t, true)
	get := func(c *goredis.Client) func() { return func() { c.Get(ctx, "k") } }
	pipe := func(c *goredis.Client) func() {
		return func() {
			_, _ = c.Pipelined(ctx, func(p goredis.Pipeliner) error { p.Get(ctx, "k"); return nil })
		}
	}
	for name, f := range map[string]func(*goredis.Client) func(){"Get": get, "Pipelined": pipe} {
		want, got := testing.AllocsPerRun(200, f(plain)), testing.AllocsPerRun(200, f(ours))
		if got != want {
			t.Errorf("idle %s: %v allocations instrumented, %v plain", name, got, want)
		}
	}
	// The go-redis hook alone, as the Client calls it: nothing.
	h := newHook(ours.Options())
	process := h.ProcessHook(func(context.Context, goredis.Cmder) error { return nil })
	cmd := goredis.NewStringCmd(ctx, "get", "k")
	if n := testing.AllocsPerRun(200, func() { _ = process(ctx, cmd) }); n != 0 {
		t.Errorf("idle ProcessHook: %v allocations, want 0", n)
	}

	exp := hooktest.Traced(t)
	get(ours)()
	pipe(ours)()
	get(plain)()
	hooktest.SpanNames(t, exp, "GET", "BATCH GET")
}
