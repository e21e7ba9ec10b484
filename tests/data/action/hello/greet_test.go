package hello

import (
	"net/http/httptest"
	"os"
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

// The action runs this test with the pull request's code: no token may reach it.
func TestNoTokenInEnvironment(t *testing.T) {
	for _, name := range []string{"INPUT_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN"} {
		if os.Getenv(name) != "" {
			t.Errorf("%s is set in the environment of the tests", name)
		}
	}
}
