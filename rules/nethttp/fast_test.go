package nethttp

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestCanonicalKeyIsHTTPs(t *testing.T) {
	names := []string{"traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid",
		"x-b3-sampled", "x-b3-flags", "x-b3-parentspanid", "Traceparent", "uber-trace-id", "x-amzn-trace-id", ""}
	for _, p := range []propagation.TextMapPropagator{propagation.TraceContext{}, propagation.Baggage{},
		b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)), b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader))} {
		names = append(names, p.Fields()...)
	}
	for _, name := range names {
		if got, want := canonicalKey(name), http.CanonicalHeaderKey(name); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", name, got, want)
		}
	}
}

// The carriers must do what propagation.HeaderCarrier and Header.Clone+Set do, for every propagator.
func TestCarriersMatchHeaderCarrier(t *testing.T) {
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{},
		b3.New(b3.WithInjectEncoding(b3.B3SingleHeader|b3.B3MultipleHeader)))
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "s")
	defer span.End()
	m1, _ := baggage.NewMember("k1", "v1")
	bag, _ := baggage.New(m1)
	ctx = baggage.ContextWithBaggage(ctx, bag)

	orig := http.Header{"Accept": {"a", "b"}, "Traceparent": {"stale"}, "X-Nil": nil, "X-Empty": {}}
	want := orig.Clone()
	prop.Inject(ctx, propagation.HeaderCarrier(want))

	var c injected
	c.reset()
	prop.Inject(ctx, &c)
	got := withFields(orig, c.fields)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("withFields:\n got %v\nwant %v", got, want)
	}
	if got["X-Nil"] != nil || got["X-Empty"] == nil {
		t.Errorf("nil and empty values not kept apart: %#v %#v", got["X-Nil"], got["X-Empty"])
	}
	if orig.Get("Traceparent") != "stale" || len(orig) != 4 {
		t.Errorf("the caller's header changed: %v", orig)
	}
	for _, k := range c.Keys() {
		if c.Get(k) != want.Get(k) {
			t.Errorf("injected.Get(%q) = %q, want %q", k, c.Get(k), want.Get(k))
		}
	}

	// Extract through headerCarrier: the same span context and baggage, several baggage headers too.
	in := want.Clone()
	in.Add("Baggage", "k2=v2")
	viaOurs := prop.Extract(context.Background(), headerCarrier(in))
	viaHTTP := prop.Extract(context.Background(), propagation.HeaderCarrier(in))
	if a, b := trace.SpanContextFromContext(viaOurs), trace.SpanContextFromContext(viaHTTP); !a.Equal(b) || !a.IsValid() {
		t.Errorf("extracted span context %v, want %v", a, b)
	}
	ours, theirs := baggage.FromContext(viaOurs), baggage.FromContext(viaHTTP)
	if ours.Len() != 2 || theirs.Len() != 2 || ours.Member("k1").String() != theirs.Member("k1").String() || ours.Member("k2").String() != theirs.Member("k2").String() {
		t.Errorf("extracted baggage %q, want %q (2 members)", ours, theirs)
	}
	h := headerCarrier(http.Header{})
	h.Set("traceparent", "x")
	if h.Get("TRACEPARENT") != "x" || len(h.Keys()) != 1 || h.Keys()[0] != "Traceparent" {
		t.Errorf("headerCarrier.Set/Get/Keys: %v", h)
	}
}

// The state handed to the handler as its request's context behaves as the context it wraps, and
// answers routeKey.
func TestServerStateIsTheContext(t *testing.T) {
	type k struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), k{}, "v"))
	st := &serverState{Context: parent}
	if serverStateOf(st) != st || st.Value(k{}) != "v" {
		t.Fatal("serverState: Value does not answer routeKey or delegate")
	}
	child, stop := context.WithCancel(st)
	defer stop()
	if serverStateOf(child) != st {
		t.Error("a derived context lost the state")
	}
	cancel()
	<-child.Done() // the parent's cancellation reaches contexts derived from the state
}
