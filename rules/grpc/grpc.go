// Package grpc holds the hooks that trace google.golang.org/grpc: a CLIENT span per RPC made through
// a ClientConn and a SERVER span per RPC handled by a Server, unary and streaming alike, following
// the OpenTelemetry semantic conventions for gRPC.
//
// The hooks do not wrap calls one by one: NewClient (which Dial and DialContext call) and NewServer
// get one more option, a stats handler of this package, and gRPC calls it at the start of every RPC
// (TagRPC, where the span starts and the trace context goes into or comes out of the metadata), at
// its headers (the peer's address) and at its end (the status, then the span ends). A ClientConn or
// Server that the program already instruments with the official otelgrpc package (its stats
// handler or its interceptors) is detected when it is built, and this package's handler on it then
// does nothing.
package grpc

import (
	"context"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/netaddr"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	grpclib "google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/gls"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/internal/callctx"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/otelsetup"
)

const scope = "github.com/otel-go-autoinst/otel-go-autoinst/rules/grpc"

// otelgrpcPath is the import path of the official instrumentation; a fork keeps "otelgrpc" in it.
const otelgrpcPath = "otelgrpc"

// handler is the stats handler added to one ClientConn or Server.
type handler struct {
	server bool
	// off: the ClientConn or Server has the program's own otelgrpc instrumentation.
	off atomic.Bool
	// host and port of the client's target (server.address, server.port); port 0 when unknown.
	host string
	port int
}

// newClientOnEnter runs at the top of grpc.NewClient (Dial and DialContext call it): the stats
// handler of this package joins the options.
//
// Parameters: 0 the target, 1 the options (variadic, as a slice).
func newClientOnEnter(call *api.CallContext, target string, opts []grpclib.DialOption) {
	if switchedOff {
		return
	}
	h := &handler{}
	h.host, h.port = targetHostPort(target)
	// A fresh slice: the caller's backing array is never written.
	withOurs := append(opts[:len(opts):len(opts)], grpclib.WithStatsHandler(h))
	callctx.Hidden(call).SetParam(1, withOurs)
	callctx.Hidden(call).SetData(h)
}

// newClientOnExit looks at the ClientConn built: when the program installed otelgrpc on it, this
// package's handler stands aside.
func newClientOnExit(call *api.CallContext, cc *grpclib.ClientConn, _ error) {
	if switchedOff {
		return
	}
	h, _ := callctx.Hidden(call).GetData().(*handler)
	if h == nil || cc == nil {
		return
	}
	if hasOtelgrpc(reflect.ValueOf(cc), "dopts", []string{"copts", "StatsHandlers"}) {
		h.off.Store(true)
	}
}

// newServerOnEnter runs at the top of grpc.NewServer: the stats handler joins the options.
//
// Parameters: 0 the options (variadic, as a slice).
func newServerOnEnter(call *api.CallContext, opts []grpclib.ServerOption) {
	if switchedOff {
		return
	}
	h := &handler{server: true}
	withOurs := append(opts[:len(opts):len(opts)], grpclib.StatsHandler(h))
	callctx.Hidden(call).SetParam(0, withOurs)
	callctx.Hidden(call).SetData(h)
}

// newServerOnExit looks at the Server built, as newClientOnExit does.
func newServerOnExit(call *api.CallContext, s *grpclib.Server) {
	if switchedOff {
		return
	}
	h, _ := callctx.Hidden(call).GetData().(*handler)
	if h == nil || s == nil {
		return
	}
	if hasOtelgrpc(reflect.ValueOf(s), "opts", []string{"statsHandlers"}) {
		h.off.Store(true)
	}
}

// hasOtelgrpc reports whether the options of a ClientConn or Server (the struct field optsField of
// *ptr) hold a stats handler or an interceptor of the otelgrpc package. The fields are read, never
// written, by reflection; a gRPC version that lays them out differently reads as "not installed".
func hasOtelgrpc(ptr reflect.Value, optsField string, handlersPath []string) bool {
	if ptr.Kind() != reflect.Pointer || ptr.IsNil() {
		return false
	}
	opts := ptr.Elem().FieldByName(optsField)
	if !opts.IsValid() || opts.Kind() != reflect.Struct {
		return false
	}
	handlers := opts
	for _, name := range handlersPath {
		if handlers.Kind() != reflect.Struct {
			return false
		}
		handlers = handlers.FieldByName(name)
		if !handlers.IsValid() {
			break
		}
	}
	if handlers.IsValid() && handlers.Kind() == reflect.Slice {
		for i := 0; i < handlers.Len(); i++ {
			h := handlers.Index(i)
			if h.Kind() == reflect.Interface && !h.IsNil() {
				t := h.Elem().Type()
				for t.Kind() == reflect.Pointer {
					t = t.Elem()
				}
				if strings.Contains(t.PkgPath(), otelgrpcPath) {
					return true
				}
			}
		}
	}
	for _, name := range []string{"unaryInt", "streamInt", "chainUnaryInts", "chainStreamInts"} {
		f := opts.FieldByName(name)
		if !f.IsValid() {
			continue
		}
		funcs := []reflect.Value{f}
		if f.Kind() == reflect.Slice {
			funcs = funcs[:0]
			for i := 0; i < f.Len(); i++ {
				funcs = append(funcs, f.Index(i))
			}
		}
		for _, fn := range funcs {
			if fn.Kind() != reflect.Func || fn.IsNil() {
				continue
			}
			if rf := runtime.FuncForPC(fn.Pointer()); rf != nil && strings.Contains(rf.Name(), otelgrpcPath) {
				return true
			}
		}
	}
	return false
}

// rpcKey is the context key of the state of the RPC a handler traces.
type rpcKey struct{}

type rpcState struct {
	span trace.Span
	// For the duration metric (metrics.go): when the RPC was tagged, its rpc.* attributes (and a
	// client's server.address and server.port), and the address a server was reached on.
	start      time.Time
	attrs      []attribute.KeyValue
	serverHost string
	serverPort int
}

func (h *handler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (h *handler) HandleConn(context.Context, stats.ConnStats) {}

// TagRPC starts the span of an RPC. A client takes its parent from the call's context (else the
// goroutine's current span) and sends the trace context in the outgoing metadata; a server takes it
// from the incoming metadata.
func (h *handler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if h.off.Load() || info == nil || otelsetup.IsExporterContext(ctx) {
		return ctx
	}
	name, service, method := splitMethod(info.FullMethodName)
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.RPCSystemGRPC)
	if service != "" {
		attrs = append(attrs, semconv.RPCService(service))
	}
	if method != "" {
		attrs = append(attrs, semconv.RPCMethod(method))
	}
	prop := otel.GetTextMapPropagator()
	var span trace.Span
	if h.server {
		md, _ := metadata.FromIncomingContext(ctx)
		ctx = prop.Extract(ctx, mdCarrier(md))
		ctx, span = otelsetup.Tracer(scope).Start(ctx, name,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	} else {
		if h.host != "" {
			attrs = append(attrs, semconv.ServerAddress(h.host))
			if h.port > 0 {
				attrs = append(attrs, semconv.ServerPort(h.port))
			}
		}
		ctx, span = otelsetup.Tracer(scope).Start(gls.Parent(ctx), name,
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		md, ok := metadata.FromOutgoingContext(ctx) // a copy
		if !ok {
			md = metadata.MD{}
		}
		before := len(md)
		prop.Inject(ctx, mdCarrier(md))
		if len(md) != before || ok {
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
	}
	return context.WithValue(ctx, rpcKey{}, &rpcState{span: span, start: time.Now(), attrs: attrs})
}

// HandleRPC records the peer's address when the headers go by, and the status when the RPC ends.
func (h *handler) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	st, _ := ctx.Value(rpcKey{}).(*rpcState)
	if st == nil {
		return
	}
	switch rs := rs.(type) {
	case *stats.InHeader:
		if h.server && rs.LocalAddr != nil {
			st.serverHost, st.serverPort = netaddr.SplitHostPort(rs.LocalAddr.String())
		}
		if h.server && st.span.IsRecording() {
			st.span.SetAttributes(addrAttrs(rs.LocalAddr, rs.RemoteAddr, true)...)
		}
	case *stats.OutHeader:
		if !h.server && st.span.IsRecording() {
			st.span.SetAttributes(addrAttrs(rs.LocalAddr, rs.RemoteAddr, false)...)
		}
	case *stats.End:
		code := grpccodes.OK
		msg := ""
		if rs.Error != nil {
			s, _ := status.FromError(rs.Error)
			code, msg = s.Code(), s.Message()
		}
		st.span.SetAttributes(semconv.RPCGRPCStatusCodeKey.Int(int(code)))
		if isError(code, h.server) {
			st.span.SetAttributes(semconv.ErrorTypeKey.String(code.String()))
			st.span.SetStatus(codes.Error, msg)
		}
		h.recordDuration(st, rs.BeginTime, rs.EndTime, code)
		if rs.EndTime.IsZero() {
			st.span.End()
		} else {
			st.span.End(trace.WithTimestamp(rs.EndTime))
		}
	}
}

// isError: every status but OK is an error for a client; for a server only those that say the
// server failed (semantic conventions for gRPC).
func isError(code grpccodes.Code, server bool) bool {
	if !server {
		return code != grpccodes.OK
	}
	switch code {
	case grpccodes.Unknown, grpccodes.DeadlineExceeded, grpccodes.Unimplemented,
		grpccodes.Internal, grpccodes.Unavailable, grpccodes.DataLoss:
		return true
	}
	return false
}

// addrAttrs: a server records its own address (server.*) and its client's (client.*,
// network.peer.*); a client the address it connected to (network.peer.*).
func addrAttrs(local, remote net.Addr, server bool) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if remote != nil {
		if host, port := netaddr.SplitHostPort(remote.String()); host != "" {
			if server {
				attrs = append(attrs, semconv.ClientAddress(host))
				if port > 0 {
					attrs = append(attrs, semconv.ClientPort(port))
				}
			}
			attrs = append(attrs, semconv.NetworkPeerAddress(host))
			if port > 0 {
				attrs = append(attrs, semconv.NetworkPeerPort(port))
			}
		}
	}
	if server && local != nil {
		if host, port := netaddr.SplitHostPort(local.String()); host != "" {
			attrs = append(attrs, semconv.ServerAddress(host))
			if port > 0 {
				attrs = append(attrs, semconv.ServerPort(port))
			}
		}
	}
	return attrs
}

// splitMethod turns "/package.Service/Method" into the span name "package.Service/Method", the
// service and the method.
func splitMethod(full string) (name, service, method string) {
	name = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name, name[:i], name[i+1:]
	}
	return name, "", name
}

// targetHostPort returns the host and port a client's target names: "host:port",
// "scheme:///host:port", "scheme://authority/host:port"; a unix socket gives its path.
func targetHostPort(target string) (string, int) {
	if i := strings.Index(target, "://"); i >= 0 {
		rest := target[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			rest = rest[j+1:]
		}
		if strings.HasPrefix(target, "unix") {
			return "/" + strings.TrimPrefix(rest, "/"), 0
		}
		target = rest
	} else if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return target[strings.IndexByte(target, ':')+1:], 0
	}
	return netaddr.SplitHostPort(target)
}

// mdCarrier adapts gRPC metadata to the propagators (keys are lower case in metadata).
type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c mdCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
