// Command upstream is what the benchmark's service talks to, in a process of its own (never the
// measured one): the backend the handler calls (GET /items/{id}) and an OTLP/HTTP sink that accepts
// POST /v1/traces (or /<build>/v1/traces), counts the spans it receives and answers 200. GET /spans
// returns the counts per build.
// It prints "listening on ADDR" once it serves.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

type item struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// sink counts what one exporter sent: the service builds export to http://127.0.0.1:PORT/<build>,
// so each build's spans are counted apart (/v1/traces alone is the build "").
type sink struct{ spans, exports, bad atomic.Int64 }

var (
	sinksMu sync.Mutex
	sinks   = map[string]*sink{}
)

func sinkOf(name string) *sink {
	sinksMu.Lock()
	defer sinksMu.Unlock()
	s := sinks[name]
	if s == nil {
		s = &sink{}
		sinks[name] = s
	}
	return s
}

// traces is the OTLP/HTTP trace endpoint: count the spans of a valid protobuf request, answer 200.
func traces(w http.ResponseWriter, r *http.Request) {
	s := sinkOf(r.PathValue("build"))
	body, err := io.ReadAll(r.Body)
	s.exports.Add(1)
	var req coltrace.ExportTraceServiceRequest
	if err != nil || proto.Unmarshal(body, &req) != nil {
		s.bad.Add(1)
	} else {
		n := 0
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
		s.spans.Add(int64(n))
	}
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(item{ID: id, Name: "item-" + strconv.Itoa(id), Price: float64(id%97) + 0.99})
	})
	mux.HandleFunc("POST /v1/traces", traces)
	mux.HandleFunc("POST /{build}/v1/traces", traces)
	mux.HandleFunc("GET /spans", func(w http.ResponseWriter, _ *http.Request) {
		sinksMu.Lock()
		out := map[string]map[string]int64{}
		for name, s := range sinks {
			out[name] = map[string]int64{"spans": s.spans.Load(), "exports": s.exports.Load(), "bad_exports": s.bad.Load()}
		}
		sinksMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}
