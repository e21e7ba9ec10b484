// A small service for the MongoDB integration tests: /v1 talks to the server with
// go.mongodb.org/mongo-driver v1 and /v2 with go.mongodb.org/mongo-driver/v2, each with the
// request's context, so every command's span must be a child of the request's SERVER span. Each
// Client carries the program's own command monitor, which counts the commands it sees: the
// instrumentation must keep it working. MONGO_URI gives the server; unset, the handlers answer 503.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
)

// extra handlers, registered by files that a build may leave out (otelmongo.go).
var extra = map[string]func(uri string) http.HandlerFunc{}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	uri := os.Getenv("MONGO_URI")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1", v1Handler(uri))
	mux.HandleFunc("GET /v2", v2Handler(uri))
	for pattern, h := range extra {
		mux.HandleFunc(pattern, h(uri))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// started counts the commands the program's own monitors saw start.
var started atomic.Int64

// fail answers 500 with err.
func fail(w http.ResponseWriter, what string, err error) {
	http.Error(w, what+": "+err.Error(), http.StatusInternalServerError)
}

// newID is a fresh _id for one request's documents.
var ids atomic.Int64

func newID(prefix string) string { return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), ids.Add(1)) }
