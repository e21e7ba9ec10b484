// Command gls is the test service of goroutine-local context (tests/test_gls.py). Its handlers make
// calls that carry no context, the way real code does: http.Get, db.Query, in goroutines, in a worker
// started by the first request and reused by later ones. It has no OpenTelemetry code.
//
//	gls [-addr 127.0.0.1:0]
//
// Routes (the calls go to /leaf/... of this same server):
//
//	GET /noctx/{id}      http.Get without a context
//	GET /go/{id}         a `go` statement whose goroutine calls http.Get
//	GET /worker/{id}     hands a call to a worker goroutine that the first request starts
//	GET /db/{id}         db.Query and db.Exec without a context (an in-memory driver below)
//	GET /headers         calls /leaf/echo with the request's context; answers the headers it sent
//	GET /leaf/{id}       answers ok; /leaf/echo answers the propagation headers it received
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	db, err := sql.Open("memdb", "")
	if err != nil {
		log.Fatalf("db: %v", err)
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: handler(base, db), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
}

func get(url string) (string, error) {
	resp, err := http.Get(url) // no context: the span current in this goroutine is the parent
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// worker runs the jobs of every request, in one goroutine started by the first request.
type worker struct {
	once sync.Once
	jobs chan func()
}

func (w *worker) do(job func()) {
	w.once.Do(func() {
		w.jobs = make(chan func())
		go func() {
			for job := range w.jobs {
				job()
			}
		}()
	})
	done := make(chan struct{})
	w.jobs <- func() { job(); close(done) }
	<-done
}

func handler(base string, db *sql.DB) http.Handler {
	mux := http.NewServeMux()
	var w worker
	reply := func(rw http.ResponseWriter, body string, err error) {
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprint(rw, body)
	}
	mux.HandleFunc("GET /leaf/{id}", func(rw http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "echo" {
			fmt.Fprint(rw, "ok")
			return
		}
		var lines []string
		for name, values := range r.Header {
			switch strings.ToLower(name) {
			case "traceparent", "tracestate", "baggage", "b3",
				"x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-parentspanid", "x-b3-flags":
				lines = append(lines, strings.ToLower(name)+": "+strings.Join(values, ","))
			}
		}
		sort.Strings(lines)
		fmt.Fprint(rw, strings.Join(lines, "\n"))
	})
	mux.HandleFunc("GET /noctx/{id}", func(rw http.ResponseWriter, r *http.Request) {
		body, err := get(base + "/leaf/" + r.PathValue("id"))
		reply(rw, body, err)
	})
	mux.HandleFunc("GET /go/{id}", func(rw http.ResponseWriter, r *http.Request) {
		var body string
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			body, err = get(base + "/leaf/" + r.PathValue("id"))
		}()
		<-done
		reply(rw, body, err)
	})
	mux.HandleFunc("GET /worker/{id}", func(rw http.ResponseWriter, r *http.Request) {
		var body string
		var err error
		w.do(func() { body, err = get(base + "/leaf/" + r.PathValue("id")) })
		reply(rw, body, err)
	})
	mux.HandleFunc("GET /db/{id}", func(rw http.ResponseWriter, r *http.Request) {
		rows, err := db.Query("SELECT id FROM items WHERE id = ?", r.PathValue("id"))
		if err != nil {
			reply(rw, "", err)
			return
		}
		rows.Close()
		_, err = db.Exec("INSERT INTO visits VALUES (?)", r.PathValue("id"))
		reply(rw, "ok", err)
	})
	mux.HandleFunc("GET /headers", func(rw http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, base+"/leaf/echo", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			reply(rw, "", err)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		reply(rw, string(body), err)
	})
	mux.HandleFunc("GET /stats", func(rw http.ResponseWriter, r *http.Request) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(rw, "goroutines %d heap_alloc %d heap_objects %d\n",
			runtime.NumGoroutine(), m.HeapAlloc, m.HeapObjects)
	})
	return mux
}

// memdb is a database/sql driver that answers every query with no rows and every exec with one
// row affected: enough for database/sql (and its instrumentation) to do its whole work.
type memdb struct{}

func init() { sql.Register("memdb", memdb{}) }

func (memdb) Open(string) (driver.Conn, error) { return memconn{}, nil }

type memconn struct{}

func (memconn) Prepare(query string) (driver.Stmt, error) { return memstmt{}, nil }
func (memconn) Close() error                              { return nil }
func (memconn) Begin() (driver.Tx, error)                 { return memtx{}, nil }

type memtx struct{}

func (memtx) Commit() error   { return nil }
func (memtx) Rollback() error { return nil }

type memstmt struct{}

func (memstmt) Close() error                                    { return nil }
func (memstmt) NumInput() int                                   { return -1 }
func (memstmt) Exec(args []driver.Value) (driver.Result, error) { return driver.RowsAffected(1), nil }
func (memstmt) Query(args []driver.Value) (driver.Rows, error)  { return &memrows{}, nil }

type memrows struct{}

func (*memrows) Columns() []string              { return []string{"id"} }
func (*memrows) Close() error                   { return nil }
func (*memrows) Next(dest []driver.Value) error { return io.EOF }
