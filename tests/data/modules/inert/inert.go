// Package inert is a test module of otel-go-autoinst: its tests check, with the real toolchain,
// that an instrumented test binary without OpenTelemetry configuration changes nothing its tests
// can observe (no goroutine, no propagation header, nothing on stderr), and that one with
// configuration exports like a program does.
package inert

import (
	"io"
	"net/http"
)

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
