package grpc

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

func TestDurationMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	client, svc, port := start(t)
	if _, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	<-svc.seen
	if _, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{
		ResponseStatus: &testpb.EchoStatus{Code: 5, Message: "gone"},
	}); err == nil {
		t.Fatal("the failing call succeeded")
	}
	<-svc.seen

	// name -> status code -> count; the server records after its response went out: wait.
	var got map[string]map[int64]uint64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		got = map[string]map[int64]uint64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				h, ok := m.Data.(metricdata.Histogram[float64])
				if !ok || sm.Scope.Name != scope {
					t.Fatalf("%s %s: %T", sm.Scope.Name, m.Name, m.Data)
				}
				if m.Unit != "ms" {
					t.Errorf("%s unit %q", m.Name, m.Unit)
				}
				for _, p := range h.DataPoints {
					a := map[attribute.Key]attribute.Value{}
					for _, kv := range p.Attributes.ToSlice() {
						a[kv.Key] = kv.Value
					}
					if a["rpc.system"].AsString() != "grpc" || a["rpc.service"].AsString() != "grpc.testing.TestService" ||
						a["rpc.method"].AsString() != "UnaryCall" || a["server.address"].AsString() != "127.0.0.1" ||
						a["server.port"].AsInt64() != int64(port) || p.Sum <= 0 {
						t.Errorf("%s: %v sum %v", m.Name, a, p.Sum)
					}
					if _, ok := a["network.peer.port"]; ok {
						t.Errorf("%s: the peer's port on a metric", m.Name)
					}
					if got[m.Name] == nil {
						got[m.Name] = map[int64]uint64{}
					}
					got[m.Name][a["rpc.grpc.status_code"].AsInt64()] += p.Count
				}
			}
		}
		if len(got["rpc.server.duration"]) == 2 {
			break
		}
	}
	for _, name := range []string{"rpc.client.duration", "rpc.server.duration"} {
		if got[name][0] != 1 || got[name][5] != 1 || len(got[name]) != 2 {
			t.Errorf("%s: %v, want one OK and one NOT_FOUND", name, got[name])
		}
	}
}
