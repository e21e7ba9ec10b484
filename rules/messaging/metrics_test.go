package messaging

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

const testScope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/messaging/test"

// point is one data point, flattened: the value (count of a histogram, sum of a counter), the
// histogram's sum and its attributes.
type point struct {
	value int64
	sum   float64
	attrs map[attribute.Key]attribute.Value
}

func collect(t *testing.T, r *sdkmetric.ManualReader) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != testScope {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name+" "+m.Unit] = append(out[m.Name+" "+m.Unit], point{int64(p.Count), p.Sum, attrMap(p.Attributes)})
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name+" "+m.Unit] = append(out[m.Name+" "+m.Unit], point{p.Value, 0, attrMap(p.Attributes)})
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

func attrMap(s attribute.Set) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.ToSlice() {
		m[kv.Key] = kv.Value
	}
	return m
}

func str(p point, k attribute.Key) string { return p.attrs[k].AsString() }

func TestMetrics(t *testing.T) {
	op := Op{Scope: testScope, System: Kafka, Name: "send", Dest: "orders"}

	// No MeterProvider and metrics not configured: the span is returned as it is.
	_, span := StartSend(context.Background(), op)
	if _, ok := span.(*measured); ok {
		t.Fatal("a span measured while metrics go nowhere")
	}
	End(span, nil)

	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))

	// A batch of three, with a per-message attribute that must stay off the metrics.
	batch := op
	batch.Attrs = []attribute.KeyValue{
		semconv.MessagingBatchMessageCount(3), semconv.ServerAddress("broker"), semconv.ServerPort(9092),
		semconv.MessagingKafkaMessageKey("k1"),
	}
	_, span = StartSend(context.Background(), batch)
	End(span, nil)
	span.End() // a second end records nothing more
	_, span = StartSend(context.Background(), op)
	End(span, errors.New("broker down"))
	// A temporary destination stays off the metric.
	tmp := Op{Scope: testScope, System: NATS, Name: "publish", Dest: "_INBOX.x1", Temporary: true}
	_, span = StartSend(context.Background(), tmp)
	span.End()

	// A pull returning two messages, timed from its start; a pushed delivery, untimed.
	recv := Op{Scope: testScope, System: Kafka, Name: "receive", Dest: "orders",
		Attrs: []attribute.KeyValue{semconv.MessagingConsumerGroupName("g"), semconv.MessagingKafkaOffset(7)}}
	span = StartReceive(context.Background(), recv, time.Now().Add(-20*time.Millisecond),
		[]trace.SpanContext{{}, {}})
	End(span, nil)
	span = StartReceive(context.Background(), Op{Scope: testScope, System: RabbitMQ, Name: "receive", Dest: "q", Root: true},
		time.Time{}, []trace.SpanContext{{}})
	span.End()
	// A pull that returned nothing: timed, no message counted.
	span = StartReceive(context.Background(), recv, time.Now(), nil)
	End(span, context.DeadlineExceeded)

	// A message pushed to a handler.
	_, span = StartProcess(context.Background(), Op{Scope: testScope, System: NATS, Name: "process", Dest: "jobs"}, trace.SpanContext{})
	span.End()

	got := collect(t, reader)

	sent := got["messaging.client.sent.messages {message}"]
	if len(sent) != 3 {
		t.Fatalf("sent.messages: %+v", sent)
	}
	for _, p := range sent {
		if _, ok := p.attrs[semconv.MessagingOperationTypeKey]; ok {
			t.Errorf("operation type on a counter: %+v", p)
		}
		if _, ok := p.attrs[semconv.MessagingKafkaMessageKeyKey]; ok {
			t.Errorf("message key on a metric: %+v", p)
		}
		switch {
		case str(p, "server.address") == "broker":
			if p.value != 3 || str(p, "messaging.destination.name") != "orders" || p.attrs["server.port"].AsInt64() != 9092 ||
				str(p, "messaging.system") != "kafka" || str(p, "messaging.operation.name") != "send" {
				t.Errorf("batch: %+v", p)
			}
		case str(p, "error.type") != "":
			if p.value != 1 || str(p, "error.type") != "_OTHER" {
				t.Errorf("failed send: %+v", p)
			}
		default:
			if _, ok := p.attrs["messaging.destination.name"]; ok || p.value != 1 || str(p, "messaging.system") != "nats" {
				t.Errorf("temporary destination: %+v", p)
			}
		}
	}

	var sends, receives int64
	for _, p := range got["messaging.client.operation.duration s"] {
		switch str(p, "messaging.operation.type") {
		case "send":
			sends += p.value
		case "receive":
			receives += p.value
			if str(p, "messaging.consumer.group.name") != "g" || str(p, "messaging.system") != "kafka" {
				t.Errorf("receive: %+v", p)
			}
			if str(p, "error.type") == "" && p.sum < 0.02 {
				t.Errorf("the pull's duration starts at its start: %+v", p)
			}
		default:
			t.Errorf("duration: %+v", p)
		}
	}
	if sends != 3 || receives != 2 {
		t.Errorf("operation.duration: %d sends, %d receives (want 3, 2): %+v", sends, receives, got)
	}

	consumed := map[string]int64{}
	for _, p := range got["messaging.client.consumed.messages {message}"] {
		consumed[str(p, "messaging.system")+" "+str(p, "messaging.operation.name")+" "+str(p, "error.type")] += p.value
	}
	want := map[string]int64{"kafka receive ": 2, "rabbitmq receive ": 1, "nats process ": 1}
	if len(consumed) != len(want) {
		t.Errorf("consumed.messages: %v, want %v", consumed, want)
	}
	for k, v := range want {
		if consumed[k] != v {
			t.Errorf("consumed.messages: %v, want %v", consumed, want)
		}
	}

	process := got["messaging.process.duration s"]
	if len(process) != 1 || process[0].value != 1 || str(process[0], "messaging.destination.name") != "jobs" ||
		str(process[0], "messaging.operation.type") != "process" {
		t.Errorf("process.duration: %+v", process)
	}
}
