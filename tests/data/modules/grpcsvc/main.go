// Command grpcsvc is a small gRPC service and its client, written as google.golang.org/grpc's
// documentation shows (the interop TestService shipped inside the grpc module as its API): one
// process serves (-serve), another calls it (-call), so trace context crosses a process boundary.
// With -otelgrpc both sides install the official otelgrpc stats handlers themselves.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type server struct {
	testpb.UnimplementedTestServiceServer
}

func (server) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s := req.GetResponseStatus(); s.GetCode() != 0 {
		return nil, status.Error(codes.Code(s.GetCode()), s.GetMessage())
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return &testpb.SimpleResponse{Username: "hello " + first(md.Get("x-user"))}, nil
}

func (server) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	for range req.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
	return nil
}

func (server) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
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

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func serve(addr string, own bool) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	var opts []grpc.ServerOption
	if own {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler()))
	}
	s := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(s, server{})
	healthpb.RegisterHealthServer(s, health.NewServer())
	fmt.Println("listening on", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() { <-sig; s.GracefulStop() }()
	if err := s.Serve(ln); err != nil {
		log.Fatal(err)
	}
	fmt.Println("bye")
}

func call(addr string, own bool) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if own {
		opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-user", "ada")
	client := testpb.NewTestServiceClient(cc)

	resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("unary:", resp.GetUsername())

	_, err = client.UnaryCall(ctx, &testpb.SimpleRequest{
		ResponseStatus: &testpb.EchoStatus{Code: int32(codes.Internal), Message: "it broke"}})
	fmt.Println("failing:", status.Code(err))

	out, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{}, {}, {}}})
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for ; ; n++ {
		if _, err := out.Recv(); err == io.EOF {
			break
		} else if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("server stream:", n)

	bidi, err := client.FullDuplexCall(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := bidi.Send(&testpb.StreamingOutputCallRequest{}); err != nil {
			log.Fatal(err)
		}
		if _, err := bidi.Recv(); err != nil {
			log.Fatal(err)
		}
	}
	_ = bidi.CloseSend()
	if _, err := bidi.Recv(); err != io.EOF {
		log.Fatal(err)
	}
	fmt.Println("bidi: 2")

	h, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("health:", h.GetStatus())
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to serve on, or to call")
	mode := flag.String("mode", "serve", "serve or call")
	own := flag.Bool("otelgrpc", false, "install the official otelgrpc stats handlers")
	flag.Parse()
	if *mode == "call" {
		call(*addr, *own)
		return
	}
	serve(*addr, *own)
}
