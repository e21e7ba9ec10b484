// Command msgsvc is the service of the messaging integration tests: an HTTP handler per library
// that sends a message (the request's span is the parent the producer span must have), and a
// consumer goroutine per library that reads the messages back and prints "consumed <lib> <value>".
// A library takes part when its server is given (-kafka, -nats, -amqp). It uses the libraries as
// any program does: no OpenTelemetry code of its own, except for one franz-go client that a program
// traces itself with franz-go's kotel plugin (the instrumentation must leave it alone).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// A part is one library's use: it registers its handlers on mux and starts its consumers.
type part struct {
	name  string
	start func(ctx context.Context, mux *http.ServeMux) error
}

var (
	// consumers: the goroutines of consumer-group members, waited for at exit so that they
	// leave their groups (the next run's members then join without waiting for them to expire).
	consumers sync.WaitGroup
	parts     []part
	flagSet   = flag.CommandLine
	outMu     sync.Mutex
)

func register(name string, start func(ctx context.Context, mux *http.ServeMux) error) {
	parts = append(parts, part{name, start})
}

// say prints one line on stdout (the test reads them).
func say(format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf(format+"\n", args...)
}

// reply answers a send: 200 "sent" or 500 with the error.
func reply(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "sent")
}

func main() {
	addr := flagSet.String("addr", "127.0.0.1:0", "HTTP listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	mux := http.NewServeMux()
	for _, p := range parts {
		if err := p.start(ctx, mux); err != nil {
			fmt.Fprintf(os.Stderr, "msgsvc: %s: %v\n", p.name, err)
			os.Exit(1)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "msgsvc:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	say("LISTEN %s", ln.Addr())
	_ = srv.Serve(ln)
	done := make(chan struct{})
	go func() {
		consumers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}
