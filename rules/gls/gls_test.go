package gls

import (
	"context"
	"testing"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// fakeSlot stands in for the runtime.g field in this plain test build: one goroutine-local pointer
// for the test's own goroutine (these tests start none). The runtime side is tested end to end by
// tests/test_gls.py with the real toolchain.
func fakeSlot(t *testing.T) *unsafe.Pointer {
	var slot unsafe.Pointer
	saved := runtimeSlot
	runtimeSlot.get = func() unsafe.Pointer { return slot }
	runtimeSlot.set = func(p unsafe.Pointer) { slot = p }
	t.Cleanup(func() { runtimeSlot = saved })
	return &slot
}

func spanCtx(id byte) context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, id}, SpanID: trace.SpanID{id}, TraceFlags: trace.FlagsSampled,
	})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

func spanID(ctx context.Context) byte { return trace.SpanContextFromContext(ctx).SpanID()[0] }

func TestInertWithoutRuntimeSupport(t *testing.T) {
	if Active() {
		t.Fatal("a plain build has no runtime support")
	}
	tok := Enter(spanCtx(1))
	if SpanContext().IsValid() || spanID(Parent(nil)) != 0 {
		t.Error("something is goroutine-local without the runtime support")
	}
	Exit(tok)
	if Parent(nil) == nil {
		t.Error("Parent(nil) is nil")
	}
}

func TestEnterExitNestAndRestore(t *testing.T) {
	slot := fakeSlot(t)
	outer := Enter(spanCtx(1))
	if got := spanID(Parent(context.Background())); got != 1 {
		t.Fatalf("parent %d, want 1", got)
	}
	inner := Enter(spanCtx(2))
	if got := SpanContext().SpanID()[0]; got != 2 {
		t.Fatalf("current %d, want 2", got)
	}
	// An explicit span always wins.
	if got := spanID(Parent(spanCtx(7))); got != 7 {
		t.Errorf("explicit parent lost: %d", got)
	}
	Exit(inner)
	if got := SpanContext().SpanID()[0]; got != 1 {
		t.Errorf("after the inner exit, current %d, want 1", got)
	}
	Exit(outer)
	if *slot != nil || SpanContext().IsValid() {
		t.Error("after the outer exit something is still current")
	}
	Exit(outer) // twice: harmless
	Exit(Token{})
}

func TestAnEndedEntryIsNoParentForTheGoroutinesThatCopiedIt(t *testing.T) {
	slot := fakeSlot(t)
	tok := Enter(spanCtx(3))
	copied := *slot // what newproc1 gives a goroutine started now
	Exit(tok)
	*slot = copied // that goroutine, later
	if SpanContext().IsValid() || spanID(Parent(context.Background())) != 0 {
		t.Error("an ended span is used as a parent")
	}
	if (*entry)(copied).live.Load() != nil {
		t.Error("an ended entry still references its span context")
	}
}

func TestExitOutOfOrderOnlyEnds(t *testing.T) {
	fakeSlot(t)
	a := Enter(spanCtx(1))
	b := Enter(spanCtx(2))
	Exit(a) // not the current one (another goroutine's, or out of order): only marked ended
	if got := SpanContext().SpanID()[0]; got != 2 {
		t.Errorf("current %d, want 2", got)
	}
	Exit(b) // restores a, which ended: nothing is a parent
	if SpanContext().IsValid() {
		t.Error("an ended entry came back as current")
	}
}

func TestEnterWithoutASpanChangesNothing(t *testing.T) {
	slot := fakeSlot(t)
	tok := Enter(context.Background())
	tok2 := Enter(nil)
	if *slot != nil || tok != (Token{}) || tok2 != (Token{}) {
		t.Error("Enter without a span made something current")
	}
}

// BenchmarkParentNoSpan is what an instrumented call pays when no span is current.
func BenchmarkParentNoSpan(b *testing.B) {
	var slot unsafe.Pointer
	saved := runtimeSlot
	runtimeSlot.get = func() unsafe.Pointer { return slot }
	runtimeSlot.set = func(p unsafe.Pointer) { slot = p }
	defer func() { runtimeSlot = saved }()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Parent(ctx)
	}
}

func BenchmarkEnterExit(b *testing.B) {
	var slot unsafe.Pointer
	saved := runtimeSlot
	runtimeSlot.get = func() unsafe.Pointer { return slot }
	runtimeSlot.set = func(p unsafe.Pointer) { slot = p }
	defer func() { runtimeSlot = saved }()
	ctx := spanCtx(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Exit(Enter(ctx))
	}
}
