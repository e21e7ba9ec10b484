// A program built from vendor/: the test vendors github.com/google/uuid, patches the vendored copy
// (adds Patched) and builds offline, so only a build that reads vendor/ compiles.
package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/google/uuid"
)

func main() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, uuid.Patched())
}
