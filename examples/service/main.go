// Command service is the example service of otel-go-autoinst: an HTTP server whose handler calls a
// second HTTP endpoint and a SQLite database through database/sql (modernc.org/sqlite, pure Go).
// It has no OpenTelemetry code: `otel-go-autoinst build` adds the tracing.
//
//	service [-addr 127.0.0.1:8080] [-db file.sqlite] [-graceful=false]
//
// The listen address also comes from $SERVICE_ADDR. Routes:
//
//	GET /hello/{name}       calls GET /backend/greeting, reads the greeting from SQL, records a visit
//	GET /stats              counts the visits and checks the backend through helpers that take no
//	                        context (as much real code does), and logs the figures with log/slog
//	GET /backend/greeting   the second endpoint: answers the greeting's punctuation
//	GET /fail               answers 500
//	GET /healthz            answers ok
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

func main() {
	addr := flag.String("addr", envOr("SERVICE_ADDR", "127.0.0.1:8080"), "listen address")
	dsn := flag.String("db", "file:service?mode=memory&cache=shared", "SQLite data source name")
	graceful := flag.Bool("graceful", true, "shut down gracefully on SIGINT/SIGTERM (else die of them)")
	flag.Parse()

	db, err := openDB(*dsn)
	if err != nil {
		log.Fatalf("database: %v", err)
	}
	defer db.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	backend := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: NewHandler(db, backend), ReadHeaderTimeout: 10 * time.Second}

	if *graceful {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
	}

	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
	fmt.Println("bye")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// openDB opens the database and creates and seeds its tables, in a transaction.
func openDB(dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // SQLite: one writer
	tx, err := db.Begin()
	if err != nil {
		db.Close()
		return nil, err
	}
	defer tx.Rollback()
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS greetings (lang TEXT PRIMARY KEY, greeting TEXT NOT NULL)`,
		`INSERT OR REPLACE INTO greetings (lang, greeting) VALUES ('en', 'Hello'), ('fr', 'Bonjour')`,
		`CREATE TABLE IF NOT EXISTS visits (name TEXT NOT NULL, at INTEGER NOT NULL)`,
	} {
		if _, err := tx.Exec(stmt); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// NewHandler returns the service's routes. backend is the base URL of the second endpoint.
func NewHandler(db *sql.DB, backend string) http.Handler {
	client := &http.Client{Timeout: 10 * time.Second}
	mux := http.NewServeMux()

	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		name := r.PathValue("name")
		lang := r.URL.Query().Get("lang")
		if lang == "" {
			lang = "en"
		}

		// The second endpoint, with the request's context: its span is a child of this request's.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, backend+"/backend/greeting", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, "backend: "+err.Error(), http.StatusBadGateway)
			return
		}
		punct, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			http.Error(w, "backend: "+resp.Status, http.StatusBadGateway)
			return
		}

		var greeting string
		err = db.QueryRowContext(ctx, `SELECT greeting FROM greetings WHERE lang = ?`, lang).Scan(&greeting)
		if errors.Is(err, sql.ErrNoRows) {
			http.Error(w, "unknown language "+lang, http.StatusNotFound)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO visits (name, at) VALUES (?, ?)`, name, time.Now().Unix()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s, %s%s\n", greeting, name, punct)
	})

	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		visits, err := countVisits(db)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		healthy := backendHealthy(backend)
		slog.Info("stats", "visits", visits, "backend_healthy", healthy)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "visits %d, backend healthy %t\n", visits, healthy)
	})

	mux.HandleFunc("GET /backend/greeting", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "!")
	})

	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
	})

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return mux
}

// countVisits and backendHealthy take no context: instrumented, their SQL query and HTTP call are
// still children of the request being served (goroutine-local context).
func countVisits(db *sql.DB) (n int, err error) {
	err = db.QueryRow(`SELECT count(*) FROM visits`).Scan(&n)
	return n, err
}

func backendHealthy(backend string) bool {
	resp, err := http.Get(backend + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
