package databasesql

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// db.client.operation.duration (semconv v1.37.0, the version of the spans): one measurement per
// call that makes a span, in seconds, with the conventions' advisory bucket boundaries and the
// attributes db.system.name, db.operation.name and error.type. The query text is not an attribute
// of the metric (its cardinality is unbounded).

var durationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

type dbInstruments struct {
	meter    metric.Meter
	duration metric.Float64Histogram
}

var instruments atomic.Pointer[dbInstruments]

// histogram returns the instrument of the current global meter, or nil when metrics go nowhere.
func histogram() metric.Float64Histogram {
	m := otelsetup.Meter(scope)
	if m == nil {
		return nil
	}
	if in := instruments.Load(); in != nil && otelsetup.SameMeter(in.meter, m) {
		return in.duration
	}
	in := &dbInstruments{meter: m}
	in.duration, _ = m.Float64Histogram("db.client.operation.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of database client operations."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	instruments.Store(in)
	return in.duration
}

// startTime is when a measured call began, or the zero time when metrics go nowhere.
func startTime() time.Time {
	if otelsetup.Meter(scope) == nil {
		return time.Time{}
	}
	return time.Now()
}

func recordDuration(start time.Time, system, operation string, err error) {
	if start.IsZero() {
		return
	}
	h := histogram()
	if h == nil {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, semconv.DBSystemNameKey.String(system))
	if operation != "" {
		attrs = append(attrs, semconv.DBOperationName(operation))
	}
	if err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(err)))
	}
	h.Record(context.Background(), time.Since(start).Seconds(), metric.WithAttributes(attrs...))
}
