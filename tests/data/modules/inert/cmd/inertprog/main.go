// Command inertprog is a test program of otel-go-autoinst. With -mode=idle it links net/http but
// makes no span, and prints its goroutine and file-descriptor counts (which instrumentation must
// not change); with -mode=spans it serves and sends one request, so an instrumented build has two
// spans to export when main returns.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"time"
)

func main() {
	mode := flag.String("mode", "idle", "idle or spans")
	flag.Parse()
	switch *mode {
	case "idle":
		// Build a request without sending it: net/http is linked (and so instrumented), no span.
		if _, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil); err != nil {
			panic(err)
		}
		time.Sleep(200 * time.Millisecond) // a goroutine started at init has started by now
		fmt.Printf("goroutines %d\n", runtime.NumGoroutine())
		fmt.Printf("fds %d\n", openFiles())
		buf := make([]byte, 1<<16)
		os.Stderr.Write(buf[:runtime.Stack(buf, true)])
	case "spans":
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
		}))
		resp, err := http.Get(srv.URL + "/hello")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		fmt.Printf("status %d body %s\n", resp.StatusCode, body)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", *mode)
		os.Exit(2)
	}
}

// openFiles is the number of open file descriptors (Linux), -1 where it cannot be read.
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}
