// Command load sends -n requests to -url with -c concurrent keep-alive clients over 127.0.0.1 and
// prints one JSON line: requests, errors, seconds, the first error. The path's {i} is replaced by
// the request's number modulo 100 (GET /api/items/{i}). With -rate R the load is open: request i
// starts at i/R seconds (or as soon as a client is free after that); without, each client sends
// its next request as soon as it has the previous response (the server saturated).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	FirstError string  `json:"first_error,omitempty"`
}

func main() {
	url := flag.String("url", "", "URL template; {i} is replaced by the request number modulo 100")
	n := flag.Int("n", 1000, "requests")
	c := flag.Int("c", 8, "concurrent clients")
	rate := flag.Float64("rate", 0, "requests per second (0: as fast as the clients go)")
	flag.Parse()
	if *url == "" || *n < 1 || *c < 1 {
		fmt.Fprintln(os.Stderr, "load: -url, -n ≥ 1 and -c ≥ 1 are required")
		os.Exit(2)
	}
	tr := &http.Transport{MaxIdleConns: *c, MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next, errs atomic.Int64
	var firstErr sync.Once
	var res result
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				if *rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))))
				}
				u := strings.ReplaceAll(*url, "{i}", strconv.FormatInt(i%100, 10))
				resp, err := client.Get(u)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", u, resp.Status)
					}
				}
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { res.FirstError = err.Error() })
				}
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Requests = int64(*n)
	res.Errors = errs.Load()
	_ = json.NewEncoder(os.Stdout).Encode(res)
}
