package grpc

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/semconv/v1.37.0/rpcconv"
	grpccodes "google.golang.org/grpc/codes"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

// The semantic-convention RPC metrics of semconv v1.37.0 (the version of the spans): one duration
// histogram per RPC made (rpc.client.duration) and per RPC served (rpc.server.duration), in
// milliseconds as that version defines them (the later rpc.*.call.duration in seconds is not in
// it), recorded when gRPC reports the RPC's end. The SDK's default buckets are the ones the
// conventions give for millisecond durations.

type rpcInstruments struct {
	meter  metric.Meter
	client metric.Float64Histogram
	server metric.Float64Histogram
}

var instruments atomic.Pointer[rpcInstruments]

// histograms returns the instruments of the current global meter, or nil when metrics go nowhere.
func histograms() *rpcInstruments {
	m := otelsetup.Meter(scope)
	if m == nil {
		return nil
	}
	if in := instruments.Load(); in != nil && otelsetup.SameMeter(in.meter, m) {
		return in
	}
	in := &rpcInstruments{meter: m}
	client, _ := rpcconv.NewClientDuration(m)
	server, _ := rpcconv.NewServerDuration(m)
	in.client, in.server = client.Inst(), server.Inst()
	instruments.Store(in)
	return in
}

// recordDuration records the duration of one RPC, begin to end, with the span's low-cardinality
// attributes: rpc.system, rpc.service, rpc.method, server.address, server.port (a client's target;
// the address a server was reached on) and rpc.grpc.status_code.
func (h *handler) recordDuration(st *rpcState, begin, end time.Time, code grpccodes.Code) {
	in := histograms()
	if in == nil {
		return
	}
	hist := in.client
	if h.server {
		hist = in.server
	}
	if hist == nil {
		return
	}
	if begin.IsZero() {
		begin = st.start
	}
	if end.IsZero() {
		end = time.Now()
	}
	attrs := make([]attribute.KeyValue, 0, len(st.attrs)+3)
	attrs = append(attrs, st.attrs...)
	if st.serverHost != "" {
		attrs = append(attrs, semconv.ServerAddress(st.serverHost))
		if st.serverPort > 0 {
			attrs = append(attrs, semconv.ServerPort(st.serverPort))
		}
	}
	attrs = append(attrs, semconv.RPCGRPCStatusCodeKey.Int(int(code)))
	ms := float64(end.Sub(begin)) / float64(time.Millisecond)
	hist.Record(context.Background(), ms, metric.WithAttributes(attrs...))
}
