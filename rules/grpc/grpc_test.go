package grpc

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	grpclib "google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

var recorder = tracetest.NewSpanRecorder()

func init() {
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
}

// newServer and newClient call grpc.NewServer / grpc.NewClient between the hooks, as the
// instrumented functions do.
func newServer(opts ...grpclib.ServerOption) *grpclib.Server {
	call := api.NewCallContext("google.golang.org/grpc", "NewServer", []any{&opts}, nil)
	newServerOnEnter(call, opts)
	s := grpclib.NewServer(opts...)
	newServerOnExit(call, s)
	return s
}

func newClient(t *testing.T, target string, opts ...grpclib.DialOption) *grpclib.ClientConn {
	t.Helper()
	call := api.NewCallContext("google.golang.org/grpc", "NewClient", []any{&target, &opts}, nil)
	newClientOnEnter(call, target, opts)
	cc, err := grpclib.NewClient(target, opts...)
	newClientOnExit(call, cc, err)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// service answers UnaryCall (failing when asked to), and streams StreamingOutputCall and
// FullDuplexCall; it keeps what the handler's context held.
type service struct {
	testpb.UnimplementedTestServiceServer
	seen chan trace.SpanContext
}

func (s *service) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	s.seen <- trace.SpanContextFromContext(ctx)
	if req.GetResponseStatus().GetCode() != 0 {
		return nil, status.Error(grpccodes.Code(req.GetResponseStatus().GetCode()), req.GetResponseStatus().GetMessage())
	}
	return &testpb.SimpleResponse{Username: "ok"}, nil
}

func (s *service) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpclib.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	s.seen <- trace.SpanContextFromContext(stream.Context())
	for range req.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) FullDuplexCall(stream grpclib.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	s.seen <- trace.SpanContextFromContext(stream.Context())
	for {
		if _, err := stream.Recv(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
}

func start(t *testing.T) (testpb.TestServiceClient, *service, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := &service{seen: make(chan trace.SpanContext, 16)}
	s := newServer()
	testpb.RegisterTestServiceServer(s, svc)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	port := ln.Addr().(*net.TCPAddr).Port
	cc := newClient(t, ln.Addr().String(), grpclib.WithTransportCredentials(insecure.NewCredentials()))
	return testpb.NewTestServiceClient(cc), svc, port
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]any {
	m := map[attribute.Key]any{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.AsInterface()
	}
	return m
}

// pair returns the client and server spans named name, checking they are parent and child.
func pair(t *testing.T, name string) (client, server sdktrace.ReadOnlySpan) {
	t.Helper()
	// The server ends its span after the response went out: wait for it.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		n := 0
		for _, s := range recorder.Ended() {
			if s.Name() == name {
				n++
			}
		}
		if n >= 2 {
			break
		}
	}
	for _, s := range recorder.Ended() {
		if s.Name() != name {
			continue
		}
		switch s.SpanKind() {
		case trace.SpanKindClient:
			if client != nil {
				t.Fatalf("two client spans %s", name)
			}
			client = s
		case trace.SpanKindServer:
			if server != nil {
				t.Fatalf("two server spans %s", name)
			}
			server = s
		}
	}
	if client == nil || server == nil {
		t.Fatalf("%s: client %v server %v among %d spans", name, client, server, len(recorder.Ended()))
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || !server.Parent().IsRemote() {
		t.Errorf("%s: the server span's parent is %v, want the client span", name, server.Parent())
	}
	return client, server
}

func TestUnary(t *testing.T) {
	recorder.Reset()
	client, svc, port := start(t)
	parentCtx, parent := sdktrace.NewTracerProvider().Tracer("t").Start(context.Background(), "parent")
	ctx := metadata.AppendToOutgoingContext(parentCtx, "x-user", "ada")
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	handlerSpan := <-svc.seen
	c, s := pair(t, "grpc.testing.TestService/UnaryCall")
	if c.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client parent %v", c.Parent())
	}
	if handlerSpan.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("the handler's context holds %v, want the server span", handlerSpan)
	}
	for k, want := range map[attribute.Key]any{
		"rpc.system": "grpc", "rpc.service": "grpc.testing.TestService", "rpc.method": "UnaryCall",
		"rpc.grpc.status_code": int64(0), "server.address": "127.0.0.1", "server.port": int64(port),
		"network.peer.address": "127.0.0.1", "network.peer.port": int64(port),
	} {
		if got := attrs(c)[k]; got != want {
			t.Errorf("client %s = %v, want %v", k, got, want)
		}
	}
	sa := attrs(s)
	for k, want := range map[attribute.Key]any{
		"rpc.system": "grpc", "rpc.service": "grpc.testing.TestService", "rpc.method": "UnaryCall",
		"rpc.grpc.status_code": int64(0), "server.address": "127.0.0.1", "server.port": int64(port),
		"client.address": "127.0.0.1", "network.peer.address": "127.0.0.1",
	} {
		if got := sa[k]; got != want {
			t.Errorf("server %s = %v, want %v", k, got, want)
		}
	}
	if c.Status().Code != codes.Unset || s.Status().Code != codes.Unset {
		t.Errorf("status %v %v", c.Status(), s.Status())
	}
}

func TestErrors(t *testing.T) {
	client, svc, _ := start(t)
	for _, tc := range []struct {
		code        grpccodes.Code
		serverError bool
	}{{grpccodes.Internal, true}, {grpccodes.NotFound, false}} {
		recorder.Reset()
		_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{
			ResponseStatus: &testpb.EchoStatus{Code: int32(tc.code), Message: "broken"}})
		if status.Code(err) != tc.code {
			t.Fatalf("err %v", err)
		}
		<-svc.seen
		c, s := pair(t, "grpc.testing.TestService/UnaryCall")
		if c.Status().Code != codes.Error || c.Status().Description != "broken" {
			t.Errorf("%v: client status %v", tc.code, c.Status())
		}
		if (s.Status().Code == codes.Error) != tc.serverError {
			t.Errorf("%v: server status %v", tc.code, s.Status())
		}
		if got := attrs(s)["rpc.grpc.status_code"]; got != int64(tc.code) {
			t.Errorf("%v: server status code %v", tc.code, got)
		}
		if got := attrs(c)["error.type"]; got != tc.code.String() {
			t.Errorf("%v: error.type %v", tc.code, got)
		}
	}
}

func TestStreaming(t *testing.T) {
	recorder.Reset()
	client, svc, _ := start(t)
	out, err := client.StreamingOutputCall(context.Background(), &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{}, {}, {}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; ; n++ {
		if _, err := out.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	<-svc.seen
	if n != 3 {
		t.Fatalf("%d responses", n)
	}
	pair(t, "grpc.testing.TestService/StreamingOutputCall")

	bidi, err := client.FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := bidi.Send(&testpb.StreamingOutputCallRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := bidi.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	bidi.CloseSend()
	if _, err := bidi.Recv(); err != io.EOF {
		t.Fatal(err)
	}
	<-svc.seen
	c, s := pair(t, "grpc.testing.TestService/FullDuplexCall")
	if attrs(c)["rpc.grpc.status_code"] != int64(0) || attrs(s)["rpc.method"] != "FullDuplexCall" {
		t.Errorf("attributes %v %v", attrs(c), attrs(s))
	}
}

func TestExporterCallsUntraced(t *testing.T) {
	recorder.Reset()
	client, svc, _ := start(t)
	if _, err := client.UnaryCall(otelsetup.MarkExporterContext(context.Background()), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	<-svc.seen
	for _, s := range recorder.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			t.Errorf("an exporter's call was traced: %v", s.Name())
		}
	}
}

func TestOptionsOfTheCallerKept(t *testing.T) {
	orig := make([]grpclib.ServerOption, 1, 4) // room to append in place
	orig[0] = grpclib.MaxRecvMsgSize(1 << 20)
	passed := orig
	call := api.NewCallContext("google.golang.org/grpc", "NewServer", []any{&passed}, nil)
	newServerOnEnter(call, passed)
	if orig[:2][1] != nil {
		t.Error("the caller's backing array was written")
	}
	if len(passed) != 2 || passed[0] != orig[0] {
		t.Errorf("the options passed on are %v, want the caller's and ours", passed)
	}
}

func TestTargetHostPort(t *testing.T) {
	for target, want := range map[string]struct {
		host string
		port int
	}{
		"127.0.0.1:50051":              {"127.0.0.1", 50051},
		"dns:///example.com:443":       {"example.com", 443},
		"dns://8.8.8.8/example.com:80": {"example.com", 80},
		"passthrough:///[::1]:9":       {"::1", 9},
		"unix:///tmp/s.sock":           {"/tmp/s.sock", 0},
		"unix:relative.sock":           {"relative.sock", 0},
		"localhost":                    {"localhost", 0},
	} {
		if h, p := targetHostPort(target); h != want.host || p != want.port {
			t.Errorf("%s: %s %d, want %v", target, h, p, want)
		}
	}
}
