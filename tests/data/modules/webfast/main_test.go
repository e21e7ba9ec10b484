package main

import (
	"io"
	"net/http/httptest"
	"testing"
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
