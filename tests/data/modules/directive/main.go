// The //otel:span test program: a request to its own server runs traced functions of package shop
// with and without a context, in the handler's goroutine and in a worker goroutine that was started
// before any span existed (so only the context it is handed can parent its spans).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"example.com/directive/shop"
)

type job struct {
	ctx  context.Context
	item string
	done chan error
}

var store = &shop.Store{}

// worker runs Store.Save for jobs handed to it: it was started by main, so the goroutine-local
// context cannot parent its spans; the job's ctx must.
func worker(jobs <-chan job) {
	for j := range jobs {
		j.done <- store.Save(j.ctx, j.item)
	}
}

var jobs = make(chan job)

// process is traced and takes a context: the span it gets is handed on in ctx.
//
//otel:span name=process order.kind=test
func process(ctx context.Context, items []string) (string, error) {
	var accepted []string
	for _, item := range items {
		if ok, err := shop.Validate(ctx, item); !ok {
			fmt.Println("rejected:", err)
			continue
		}
		j := job{ctx: ctx, item: item, done: make(chan error)}
		jobs <- j
		if err := <-j.done; err != nil {
			return "", err
		}
		accepted = append(accepted, item)
	}
	upper := shop.Map(accepted, strings.ToUpper)
	var st shop.Stack[string]
	for _, u := range upper {
		st.Push(u)
	}
	return fmt.Sprintf("%s (%d stored, %s)", strings.Join(upper, ","), store.Len(), shop.Skipped()), nil
}

func main() {
	go worker(jobs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) {
		out, err := process(r.Context(), strings.Split(r.URL.Query().Get("items"), ","))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, out)
	})
	go http.Serve(ln, mux)
	resp, err := http.Get("http://" + ln.Addr().String() + "/order?items=tea,,jam")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("response:", string(body))
}
