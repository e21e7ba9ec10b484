// A small service for the data-store integration tests: each handler talks to one store with
// the request's context, so every client span must be a child of the request's SERVER span.
// Stores are given by environment variables; a handler whose store is not configured answers 503.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /redis", redisHandler(os.Getenv("REDIS_ADDR")))
	mux.HandleFunc("GET /pgx", pgxHandler(os.Getenv("PG_DSN")))
	mux.HandleFunc("GET /sql/{driver}", sqlHandler)
	mux.HandleFunc("GET /gorm", gormHandler)
	mux.HandleFunc("GET /sqlx", sqlxHandler)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// fail answers 500 with err.
func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
