package nethttp

import (
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// What keeps a traced request cheap (bench/request_bench.py measures it): no allocation that the
// span, its context and its propagation do not need, and none at all for what a span that is not
// recorded would throw away.

// The span start options, built once: a variadic list built per call would be a heap slice per
// span (Tracer.Start is an interface method, so its arguments escape).
var (
	serverStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// canonicalKey is http.CanonicalHeaderKey(key), without an allocation for the propagators' own
// header names (textproto canonicalizes a lower-case name into a new string on every call).
func canonicalKey(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	case "b3":
		return "B3"
	case "x-b3-traceid":
		return "X-B3-Traceid"
	case "x-b3-spanid":
		return "X-B3-Spanid"
	case "x-b3-sampled":
		return "X-B3-Sampled"
	case "x-b3-flags":
		return "X-B3-Flags"
	case "x-b3-parentspanid":
		return "X-B3-Parentspanid"
	}
	return http.CanonicalHeaderKey(key)
}

// headerCarrier is propagation.HeaderCarrier (Get, Values, Set, Keys of an http.Header), without
// the allocation of a canonical key per lookup.
type headerCarrier http.Header

var (
	_ propagation.TextMapCarrier = headerCarrier(nil)
	_ propagation.ValuesGetter   = headerCarrier(nil)
)

func (h headerCarrier) Get(key string) string {
	if v := h[canonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h headerCarrier) Values(key string) []string { return h[canonicalKey(key)] }

func (h headerCarrier) Set(key, value string) { h[canonicalKey(key)] = []string{value} }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// headerField is one header a propagator set, under its canonical name.
type headerField struct{ key, value string }

// injected is the carrier the propagators inject a client request's headers into: the fields
// they set, in order, a later Set of a name replacing the earlier one (http.Header.Set). It lives
// in the client state, so it costs no allocation of its own; buf holds the usual one to four.
type injected struct {
	fields []headerField
	buf    [4]headerField
}

var _ propagation.TextMapCarrier = (*injected)(nil)

func (c *injected) reset() { c.fields = c.buf[:0] }

func (c *injected) Set(key, value string) {
	key = canonicalKey(key)
	for i := range c.fields {
		if c.fields[i].key == key {
			c.fields[i].value = value
			return
		}
	}
	c.fields = append(c.fields, headerField{key, value})
}

func (c *injected) Get(key string) string {
	key = canonicalKey(key)
	for _, f := range c.fields {
		if f.key == key {
			return f.value
		}
	}
	return ""
}

func (c *injected) Keys() []string {
	keys := make([]string, len(c.fields))
	for i, f := range c.fields {
		keys[i] = f.key
	}
	return keys
}

// withFields returns a copy of h (as h.Clone() makes it: one map, one array for all the values,
// nil values kept nil) with fields set in it (as Header.Set would set them on the copy).
func withFields(h http.Header, fields []headerField) http.Header {
	n := len(fields)
	for _, vv := range h {
		n += len(vv)
	}
	values := make([]string, n)
	out := make(http.Header, len(h)+len(fields))
	for k, vv := range h {
		if vv == nil {
			out[k] = nil // ReverseProxy tells nil from empty
			continue
		}
		c := copy(values, vv)
		out[k] = values[:c:c]
		values = values[c:]
	}
	for _, f := range fields {
		values[0] = f.value
		out[f.key] = values[:1:1]
		values = values[1:]
	}
	return out
}
