// Package godebug serves with a Go 1.22-style ServeMux pattern. Its module says go 1.21, so the
// plain build keeps Go 1.21's mux (httpmuxgo121=1: the pattern is a literal path) and, through its
// godebug line, panic(nil) recovers as nil.
package godebug

import "net/http"

func Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("item"))
	})
	return mux
}
