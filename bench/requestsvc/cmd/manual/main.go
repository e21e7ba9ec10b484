// Command manual is the benchmark's service instrumented by hand the way the OpenTelemetry Go
// documentation shows: otelhttp.NewHandler around the ServeMux, otelhttp.NewTransport on the
// client, the SDK's TracerProvider with the OTLP/HTTP exporter behind a batch span processor and
// the W3C propagators. The SDK reads OTEL_TRACES_SAMPLER and OTEL_EXPORTER_OTLP_ENDPOINT itself.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"example.com/requestsvc/svc"
)

func main() {
	svc.Init()
	exp, err := otlptracehttp.New(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "manual: OTLP exporter:", err)
		os.Exit(1)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resource.Default()))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	go func() { // flush on SIGTERM/SIGINT, as a real service would
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
		os.Exit(0)
	}()

	s := &svc.Service{Client: &http.Client{Transport: otelhttp.NewTransport(svc.BaseTransport())}, Backend: svc.Backend()}
	if err := svc.Serve(otelhttp.NewHandler(s.Handler(), "requestsvc")); err != nil {
		fmt.Fprintln(os.Stderr, "manual:", err)
		os.Exit(1)
	}
}
