package hello

import (
	"net/http/httptest"
	"testing"
)

func TestFetchGreeting(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	got, err := Fetch(srv.Client(), srv.URL+"?name=gopher")
	if err != nil {
		t.Fatal(err)
	}
	if got != "hello, gopher" {
		t.Fatalf("got %q", got)
	}
}
