// Package web makes net/http an instrumented package of the build; calc never imports it.
package web

import "net/http"

func Status(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
