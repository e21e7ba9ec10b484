// Package svc is the small HTTP service of bench/request_bench.py, shared by its three builds:
// cmd/service (built plainly with go build, and with otel-go-autoinst build) and cmd/manual (the
// same service with the official otelhttp wrappers added by hand). The handler code lives here
// only, so the three builds serve exactly the same requests.
//
// GET /api/items/{id}: one outgoing call to the backend (GET <backend>/items/{id}) with the
// request's context, decode its JSON, answer a small JSON document.
// GET /debug/mallocs: runtime.MemStats.Mallocs, read before and after the load.
// With REQUESTSVC_PROFILE=<dir>: /debug/profile/start and /debug/profile/stop write cpu.pprof
// and heap0/heap1.pprof (the allocations so far) in <dir>; with REQUESTSVC_ALLOCS=1 too, every
// allocation is sampled (runtime.MemProfileRate=1: exact counts, but a CPU profile then shows the
// profiler's own cost of each allocation, so the CPU profile is taken in another run).
package svc

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// Item is what the backend returns.
type Item struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

type reply struct {
	Item     Item    `json:"item"`
	PriceTTC float64 `json:"price_ttc"`
	Served   string  `json:"served_by"`
}

// Service holds what the handler needs: the client of the backend and its base URL.
type Service struct {
	Client  *http.Client
	Backend string
}

// BaseTransport is the transport to the backend: keep-alive, enough idle connections for the
// load's concurrency (the default 2 per host would open and close connections under load).
func BaseTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	return t
}

// Handler is the service's ServeMux.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/items/{id}", s.item)
	mux.HandleFunc("GET /debug/mallocs", mallocs)
	if dir := os.Getenv("REQUESTSVC_PROFILE"); dir != "" {
		p := &profiler{dir: dir}
		mux.HandleFunc("GET /debug/profile/start", p.start)
		mux.HandleFunc("GET /debug/profile/stop", p.stop)
	}
	return mux
}

func (s *Service) item(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 {
		http.Error(w, "bad item id", http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.Backend+"/items/"+strconv.Itoa(id), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		http.Error(w, "backend: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		http.Error(w, "backend: "+resp.Status, http.StatusBadGateway)
		return
	}
	var it Item
	if err := json.NewDecoder(resp.Body).Decode(&it); err != nil {
		http.Error(w, "backend: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply{Item: it, PriceTTC: it.Price * 1.2, Served: "requestsvc"})
}

func mallocs(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"mallocs":%d,"total_alloc":%d}`+"\n", ms.Mallocs, ms.TotalAlloc)
}

type profiler struct {
	mu  sync.Mutex
	dir string
	cpu *os.File
}

func (p *profiler) start(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.heap("heap0.pprof"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	f, err := os.Create(filepath.Join(p.dir, "cpu.pprof"))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.cpu = f
	fmt.Fprintln(w, "started")
}

func (p *profiler) stop(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cpu != nil {
		pprof.StopCPUProfile()
		p.cpu.Close()
		p.cpu = nil
	}
	if err := p.heap("heap1.pprof"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "stopped")
}

func (p *profiler) heap(name string) error {
	f, err := os.Create(filepath.Join(p.dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// Init must be called first thing in main: with REQUESTSVC_ALLOCS=1, every allocation is
// recorded in the allocation profile.
func Init() {
	if os.Getenv("REQUESTSVC_ALLOCS") == "1" {
		runtime.MemProfileRate = 1
	}
}

// Serve listens on 127.0.0.1 (REQUESTSVC_ADDR, or a free port), prints "listening on ADDR" on
// stdout and serves handler until the process ends.
func Serve(handler http.Handler) error {
	addr := os.Getenv("REQUESTSVC_ADDR")
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// Backend is the backend's base URL (REQUESTSVC_BACKEND).
func Backend() string {
	if b := os.Getenv("REQUESTSVC_BACKEND"); b != "" {
		return b
	}
	return "http://127.0.0.1:8081"
}
