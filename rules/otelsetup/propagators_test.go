package otelsetup

import (
	"context"
	"sort"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestPropagatorsFrom(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9}, SpanID: trace.SpanID{0x0f}, TraceFlags: trace.FlagsSampled,
	})
	member, _ := baggage.NewMember("k", "v")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), bag)
	for value, want := range map[string][]string{
		"":                        {"baggage", "traceparent"},
		"tracecontext":            {"traceparent"},
		" Baggage ":               {"baggage"},
		"b3":                      {"b3"},
		"b3multi":                 {"x-b3-sampled", "x-b3-spanid", "x-b3-traceid"},
		"tracecontext,b3,b3":      {"b3", "traceparent"},
		"none":                    nil,
		"tracecontext,none":       nil,
		"jaeger,tracecontext":     {"traceparent"},
		"tracecontext,baggage,b3": {"b3", "baggage", "traceparent"},
	} {
		p := propagatorsFrom(func(name string) string {
			if name == "OTEL_PROPAGATORS" {
				return value
			}
			return ""
		})
		carrier := propagation.MapCarrier{}
		p.Inject(ctx, carrier)
		got := carrier.Keys()
		sort.Strings(got)
		if len(got) != len(want) {
			t.Errorf("OTEL_PROPAGATORS=%q: headers %v, want %v", value, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("OTEL_PROPAGATORS=%q: headers %v, want %v", value, got, want)
				break
			}
		}
		// What went out comes back in.
		if back := trace.SpanContextFromContext(p.Extract(context.Background(), carrier)); len(want) > 0 &&
			want[0] != "baggage" && back.TraceID() != sc.TraceID() {
			t.Errorf("OTEL_PROPAGATORS=%q: extracted %v", value, back)
		}
	}
}
