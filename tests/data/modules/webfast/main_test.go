package main

import (
	"bytes"
	"io"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestFiber answers through Fiber's own test helper (fasthttp's ServeConn underneath).
func TestFiber(t *testing.T) {
	app := fiberApp()
	resp, err := app.Test(httptest.NewRequest("GET", "/api/orders/3", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "fiber order 3" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	resp, err = app.Test(httptest.NewRequest("GET", "/api/fail", nil))
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("%v %v", resp, err)
	}
}

// conn is an in-memory connection: what ServeConn reads, and where it writes.
type conn struct {
	net.Conn
	in, out bytes.Buffer
}

func (c *conn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *conn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *conn) Close() error                { return nil }
func (c *conn) LocalAddr() net.Addr         { return &net.TCPAddr{} }
func (c *conn) RemoteAddr() net.Addr        { return &net.TCPAddr{} }

// fasthttp serves and sends requests without allocating; a test binary with no OpenTelemetry
// configuration must keep it so (fasthttp's own tests check it).
func TestServeConnAllocatesNothing(t *testing.T) {
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}
	c := &conn{}
	c.in.Grow(1024)
	c.out.Grow(1024)
	allocs := testing.AllocsPerRun(100, func() {
		c.in.WriteString("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n")
		if err := s.ServeConn(c); err != nil {
			t.Fatal(err)
		}
		c.out.Reset()
	})
	if allocs != 0 {
		t.Fatalf("ServeConn: %v allocations a request, want 0", allocs)
	}
}

func TestClientAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go (&fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}).Serve(ln)
	client := &fasthttp.Client{}
	url := "http://" + ln.Addr().String() + "/a"
	allocs := testing.AllocsPerRun(100, func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(url)
		if err := client.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	})
	if allocs != 0 {
		t.Fatalf("Client.Do: %v allocations a request, want 0", allocs)
	}
}
