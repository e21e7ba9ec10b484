// Command service is the benchmark's service with no instrumentation in its code: built plainly
// with go build ("plain"), and with otel-go-autoinst build ("ours").
package main

import (
	"fmt"
	"net/http"
	"os"

	"example.com/requestsvc/svc"
)

func main() {
	svc.Init()
	s := &svc.Service{Client: &http.Client{Transport: svc.BaseTransport()}, Backend: svc.Backend()}
	if err := svc.Serve(s.Handler()); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}
