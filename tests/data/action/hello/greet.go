// Package hello is a tiny module for the action's tests: an HTTP client call and a handler.
package hello

import (
	"fmt"
	"io"
	"net/http"
)

// Greeting builds the greeting for name.
func Greeting(name string) string {
	return fmt.Sprintf("hello, %s", name)
}

// Handler answers every request with a greeting.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, Greeting(r.URL.Query().Get("name")))
	})
}

// Fetch GETs url with client and returns the body.
func Fetch(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
